"""The handoff is a conversation, end to end: the real service with the real models, a caller over the
caller WebSocket (eval/call_client.py), and an agent in headless Chromium whose fake microphone plays a
sentence spoken by the project's English voice. Accept in the console connects them: the caller hears
the agent (Whisper on what the caller received), the agent's console shows what the caller says next,
and both channels are recorded."""

from __future__ import annotations

import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from chromium import click, shot, sign_in, start_browser, wait_for
from live_runtime import live_runtime
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from api.server_thread import running_server
from asr.batch import BatchTranscriber
from eval.call_client import CallClient
from pipeline.runtime import Runtime
from tts.interface import WEB_PCM16_16K

pytestmark = pytest.mark.slow

AGENT_SAYS = "Your water will be back at five o'clock this afternoon."
AGENT_KEYS = {"water", "back", "five", "5", "afternoon", "o'clock", "clock"}
CALLER_SAYS = "Thank you. My address is twelve Lake Road."
CALLER_KEYS = {"thank", "address", "lake", "road", "twelve", "12"}
LEAD_S = 4.0
"""Silence before the agent speaks: the caller first hears "you are now connected" (about 3 s)."""


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path) -> Iterator[Runtime]:
    with live_runtime(tmp_path_factory.mktemp("softphone-e2e"), model_cache_dir) as rt:
        yield rt


@pytest.fixture(scope="module")
def base_url(runtime: Runtime) -> Iterator[str]:
    import serve

    with running_server(serve.create_app(runtime)) as url:
        yield url


def speech(runtime: Runtime, text: str) -> bytes:
    return bytes(runtime.loaded["tts"].synthesize(text, "en", WEB_PCM16_16K).audio)


def write_wav(path: Path, pcm: bytes, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return path


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0


def wav_rms(path: str) -> float:
    with wave.open(path) as w:
        x = samples(w.readframes(w.getnframes()))
    return float(np.sqrt((x**2).mean())) if x.size else 0.0


def words(text: str) -> set[str]:
    return {w.strip(".,!?;:").lower() for w in text.split()}


@pytest.fixture
def agent_browser(tmp_path: Path, runtime: Runtime) -> Iterator[WebDriver]:
    silence = b"\x00\x00" * int(16000 * LEAD_S)
    mic = write_wav(tmp_path / "agent-mic.wav", silence + speech(runtime, AGENT_SAYS) + silence[: 16000 * 2])
    driver = start_browser(tmp_path / "profile", fake_audio=mic)
    try:
        yield driver
    finally:
        driver.quit()


def test_accept_connects_the_agents_browser_and_the_caller(
    agent_browser: WebDriver, base_url: str, runtime: Runtime, tmp_path: Path
) -> None:
    driver = agent_browser
    row, token = runtime.store.create_agent("Zhou Min", "agent", languages=["en"])
    runtime.store.set_agent_status(row.id, "available")
    call = CallClient(base_url.replace("http://", "ws://") + "/v1/calls/stream")
    call.ws.send('{"type": "text", "text": "I want to talk to a person", "language": "en"}')
    handoff_id = call.wait_for(lambda e: e["type"] == "handoff", timeout=60)["handoff_id"]

    sign_in(driver, base_url, token)
    click(
        driver,
        lambda d: d.find_element(By.CSS_SELECTOR, f'.queue-item[data-id="{handoff_id}"]'),
        "the caller",
    )
    click(driver, lambda d: d.find_element(By.ID, "accept-btn"), "Accept")
    wait_for(
        driver,
        lambda d: d.find_element(By.ID, "softphone").get_attribute("data-state") == "connected",
        "the softphone to connect",
        timeout_s=30,
    )
    connected_at = time.monotonic()
    call.wait_for(lambda e: e["type"] == "bot_text" and "connected" in e["text"].lower(), timeout=30)
    time.sleep(LEAD_S + 5.0)  # the agent's sentence plays from the fake microphone
    heard = samples(call.audio_after(connected_at))
    assert heard.size > 16000 * 3, "the caller received almost no audio after the agent connected"
    text = BatchTranscriber(runtime.loaded["asr"]).transcribe(heard).text
    assert len(words(text) & AGENT_KEYS) >= 2, f"the caller did not hear the agent: {text!r}"

    mark = call.mark()
    call.send_audio(speech(runtime, CALLER_SAYS), realtime=True)
    call.send_silence(2.0, realtime=True)
    call.wait_for(lambda e: e["type"] == "final" and e.get("speaker") == "caller", timeout=60, after=mark)
    time.sleep(3.0)  # the endpointing may cut the sentence after "Thank you." into two finals
    after = [r.event for r in call.received[mark:] if r.event]
    finals = " ".join(e["text"] for e in after if e["type"] == "final" and e.get("speaker") == "caller")
    # what the service recognised must reach the console; whether it heard the words is asserted apart
    assert len(words(finals) & CALLER_KEYS) >= 2, f"speech recognition missed the caller: {finals!r}"
    try:
        wait_for(
            driver,
            lambda d: (
                len(
                    words(
                        " ".join(
                            li.text for li in d.find_elements(By.CSS_SELECTOR, "#transcript .line.caller")
                        )
                    )
                    & words(finals)
                    & CALLER_KEYS
                )
                >= 2
            ),
            "the caller's sentence in the console transcript",
            timeout_s=30,
        )
    except TimeoutException:
        shown = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#transcript .line.caller")]
        raise AssertionError(f"the console shows {shown!r}; the service recognised {finals!r}") from None
    agent_lines = driver.find_elements(By.CSS_SELECTOR, "#transcript .line.agent")
    assert any(len(words(li.text) & AGENT_KEYS) >= 2 for li in agent_lines), [li.text for li in agent_lines]
    shot(driver, tmp_path, "softphone-connected")

    click(driver, lambda d: d.find_element(By.ID, "sp-hangup"), "Hang up")
    call.wait_for(lambda e: e["type"] == "ended", timeout=30)
    wait_for(
        driver,
        lambda d: d.find_element(By.ID, "softphone").get_attribute("data-state") == "ended",
        "the softphone to show the end of the call",
    )
    record = runtime.store.get_call(call.call_id)
    assert record.caller_audio_path and record.agent_audio_path
    assert wav_rms(record.caller_audio_path) > 0.005 and wav_rms(record.agent_audio_path) > 0.005
    assert runtime.store.get_handoff(handoff_id).status == "accepted"  # theirs to resolve
