"""No emergency is lost, seen in the agent console in headless Chromium, through the real service:
a caller reports a gas smell and a fainted neighbour over the caller WebSocket (real speech
recognition, classifier and voice), hangs up after "stay on the line", and the call-back task
appears at the top of the console with an alarm; the agent records the outcome and it leaves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chromium import shot, sign_in, wait_for
from live_runtime import live_runtime
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from api.server_thread import running_server
from eval.call_client import CallClient
from pipeline.callbacks import Callbacks
from pipeline.runtime import Runtime
from serve import create_app
from tts.interface import WEB_PCM16_16K

SAID = (
    "There is a strong smell of gas and my neighbour has fainted. The address is number 12, Riverside Road."
)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path) -> Iterator[Runtime]:
    with live_runtime(tmp_path_factory.mktemp("callback-console"), model_cache_dir) as rt:
        yield rt


@pytest.fixture(scope="module")
def base_url(runtime: Runtime) -> Iterator[str]:
    with running_server(create_app(runtime)) as url:
        yield url


def ids(driver: WebDriver, selector: str) -> list[str]:
    return list(
        driver.execute_script(f"return [...document.querySelectorAll({selector!r})].map(e => e.dataset.id)")
    )


def top(driver: WebDriver, element_id: str) -> float:
    return float(
        driver.execute_script(f"return document.getElementById({element_id!r}).getBoundingClientRect().top")
    )


@pytest.mark.slow
def test_a_caller_who_hangs_up_after_an_emergency_handoff_becomes_a_call_back_task(
    browser: WebDriver, base_url: str, runtime: Runtime, tmp_path: Path
) -> None:
    # Water and Mandarin only: an emergency about gas, in English, still reaches this agent.
    agent, token = runtime.store.create_agent("Zhou Min", "agent", topics=["water"], languages=["zh"])
    sign_in(browser, base_url, token)
    assert not browser.find_element(By.ID, "callbacks").is_displayed()  # nothing to call back yet

    call = CallClient(base_url.replace("http://", "ws://") + "/v1/calls/stream", caller_number="13800001111")
    call.send_audio(runtime.loaded["tts"].synthesize(SAID, "en", WEB_PCM16_16K).audio)
    call.send_silence(1.5)
    handoff = call.wait_for(lambda e: e["type"] == "handoff")
    assert handoff["urgency"] == "emergency", call.events("decision")
    call.wait_for(lambda e: e["type"] == "bot_text" and "stay on the line" in e["text"].lower())
    wait_for(
        browser, lambda d: handoff["handoff_id"] in ids(d, "#queue-list .queue-item"), "the caller queued"
    )

    call.hangup()  # before any agent took the call
    card_css = ".callback.u-emergency"
    card = wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, card_css), "the call-back task")
    [task] = Callbacks(runtime.store).tasks()
    assert task.handoff_id == handoff["handoff_id"] and task.trigger == "caller_hung_up"
    assert ids(browser, "#callbacks-list .callback") == [task.id]
    # At the top of the console, above the queue the caller has left, in emergency red.
    assert top(browser, "callbacks") < top(browser, "queue-list")
    wait_for(browser, lambda d: handoff["handoff_id"] not in ids(d, "#queue-list .queue-item"), "queue left")
    assert card.value_of_css_property("border-left-color").startswith("rgba(217, 45, 32")
    text = card.text
    assert "13800001111" in text and "Caller hung up" in text and "Emergency" in text
    address = card.find_element(By.CSS_SELECTOR, ".cb-details").text.lower()
    assert "12 riverside road" in address  # the address heard (as speech recognition wrote it)
    heard = card.find_element(By.CSS_SELECTOR, ".cb-transcript").text.lower()
    assert "gas" in heard and "stay on the line" in heard
    recordings = [e.get_attribute("data-track") for e in card.find_elements(By.CSS_SELECTOR, ".cb-recs .rec")]
    assert recordings == ["caller", "bot"]
    # The alarm sounded: Web Audio tones were scheduled for it.
    assert int(browser.execute_script("return document.body.dataset.alarms || 0")) >= 1
    assert int(browser.execute_script("return document.body.dataset.alarmTones || 0")) >= 6
    assert "emergency" in browser.find_element(By.ID, "toasts").text.lower()
    shot(browser, tmp_path, "console-callback")
    browser.find_element(By.ID, "lang-toggle").click()  # every word of it in Mandarin too
    wait_for(
        browser, lambda d: d.find_element(By.CSS_SELECTOR, '[data-i18n="callbacks"]').text == "回拨", "zh"
    )
    card = browser.find_element(By.CSS_SELECTOR, card_css)
    assert "来电人已挂断" in card.text and "紧急" in card.text
    assert card.find_element(By.CSS_SELECTOR, '.cb-outcome[data-outcome="dispatched"]').text == "已派出救援"
    browser.find_element(By.ID, "lang-toggle").click()
    wait_for(browser, lambda d: "Dispatched" in d.find_element(By.CSS_SELECTOR, card_css).text, "English")
    card = browser.find_element(By.CSS_SELECTOR, card_css)

    # The agent rings back, then records what happened; the task leaves every console.
    card.find_element(By.CSS_SELECTOR, ".cb-note").send_keys(
        "Gas company and ambulance sent to 12 Riverside Road"
    )
    card.find_element(By.CSS_SELECTOR, '.cb-outcome[data-outcome="dispatched"]').click()
    wait_for(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, card_css), "the task to leave the list")
    assert not browser.find_element(By.ID, "callbacks").is_displayed()
    closed = Callbacks(runtime.store).get(task.id)
    assert (closed.status, closed.outcome, closed.agent_id) == ("closed", "dispatched", agent.id)
    assert closed.note == "Gas company and ambulance sent to 12 Riverside Road"
