"""The operations page in headless Chromium against the real service (no speech models): a storm
alert listed and published with one click, a new storm shown live as an alert, the overdue work
orders with their count, the forecast and staffing tab on an imported history, Chinese labels; an
agent is turned away. Screenshots are kept (TRIAGE_CONSOLE_SCREENSHOTS=DIR)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from chromium import shot, sign_in, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from api.server_thread import running_server
from core.settings import Settings
from pipeline.db import WorkOrder
from pipeline.forecast import DAY, WEEK
from pipeline.runtime import Runtime
from pipeline.staffing import import_volumes
from pipeline.workorder_followup import work_order_reference
from serve import create_app


@dataclass
class Site:
    url: str
    runtime: Runtime
    boss: str
    agent: str
    reference: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    runtime = Runtime.start(Settings(data_dir=tmp_path_factory.mktemp("ops")), load_models=False)
    store, book = runtime.store, runtime.incidents
    assert book is not None
    _, boss = store.create_agent("Boss", role="supervisor")
    _, agent = store.create_agent("Ann")
    for _ in range(6):
        book.report(store.start_call(None, "zh").id, "water", "朝阳区")
    late = store.create_work_order("水管爆裂", "bot", topic="water", urgency="urgent")
    with store.session() as s:
        row = s.get(WorkOrder, late.id)
        assert row is not None
        row.created_at = datetime.now(UTC) - timedelta(hours=30)
        s.commit()
    # three weeks of half-hour volumes ending now: a weekday peak and quiet weekends
    t = np.arange(3 * WEEK)
    rate = (30 * np.exp(-(((t % DAY) / DAY - 0.45) ** 2) / 0.02) + 2) * np.where((t // DAY) % 7 >= 5, 0.5, 1)
    counts = np.random.default_rng(3).poisson(rate)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first = now - timedelta(minutes=30 * len(t))
    import_volumes(store, {first + timedelta(minutes=30 * i): float(c) for i, c in enumerate(counts)})
    with running_server(create_app(runtime)) as url:
        yield Site(url, runtime, boss, agent, work_order_reference(late.id))


def open_page(driver: WebDriver, site: Site, token: str, lang: str = "en", tab: str = "") -> None:
    driver.get(site.url + "/console/console.css")
    driver.execute_script(
        "localStorage.clear(); localStorage.setItem('triage.token', arguments[0]);"
        "localStorage.setItem('triage.lang', arguments[1]);",
        token,
        lang,
    )
    driver.get(site.url + "/console/operations.html" + tab)


def test_storm_published_in_one_click_and_a_new_storm_alerts_live(
    browser: WebDriver, site: Site, tmp_path: Path
) -> None:
    open_page(browser, site, site.boss)

    def listed(d: WebDriver) -> object:
        found = d.find_elements(By.CSS_SELECTOR, "#op-storms li[data-storm]")
        return found[0] if found and found[0].is_displayed() else None

    storm = wait_for(browser, listed, "the storm")
    assert "5 calls about water in 朝阳区 within 15 min" in storm.text
    shot(browser, tmp_path, "ops_storm_en")
    storm.find_element(By.CSS_SELECTOR, "button.primary").click()
    notice = wait_for(
        browser, lambda d: d.find_element(By.CSS_SELECTOR, "#op-incidents li[data-incident]"), "notice"
    )
    assert "water cut in 朝阳区" in notice.text and "Callers who heard it: 0" in notice.text
    assert (
        site.runtime.incidents is not None
        and site.runtime.incidents.live_for("water", ["朝阳区"]) is not None
    )
    wait_for(browser, lambda d: "No storm alerts" in d.find_element(By.ID, "op-storms").text, "storm cleared")
    wait_for(browser, lambda d: "Live" in d.find_element(By.ID, "op-conn").text, "the live stream")
    store = site.runtime.store
    for _ in range(5):
        site.runtime.incidents.report(store.start_call(None, "zh").id, "power", "海淀区")
    alert = wait_for(browser, lambda d: d.find_element(By.ID, "op-alert"), "the live alert")
    wait_for(browser, lambda d: "5 calls about power in 海淀区" in alert.text, "the alert's words")
    shot(browser, tmp_path, "ops_live_alert")
    browser.find_element(By.ID, "op-lang").click()
    wait_for(browser, lambda d: "话务激增告警" in d.find_element(By.ID, "incidents").text, "Chinese labels")
    assert "海淀区power来电5通" in browser.find_element(By.ID, "op-storms").text
    shot(browser, tmp_path, "ops_storm_zh")


def test_overdue_work_orders_and_the_staffing_forecast(
    browser: WebDriver, site: Site, tmp_path: Path
) -> None:
    open_page(browser, site, site.boss, tab="#followup")
    wait_for(browser, lambda d: d.find_element(By.ID, "op-overdue-count").text == "1", "the overdue count")
    row = browser.find_element(By.CSS_SELECTOR, "#op-overdue tr[data-order]")
    assert site.reference in row.text and "urgent" in row.text
    shot(browser, tmp_path, "ops_overdue")
    browser.find_element(By.CSS_SELECTOR, "[data-op-tab=staffing]").click()
    csv = tmp_path / "volumes.csv"
    csv.write_text(
        "start,calls\n2020-01-01T09:00:00+00:00,12\n2020-01-01T09:30:00+00:00,15\n", encoding="utf-8"
    )
    browser.find_element(By.ID, "st-csv").send_keys(str(csv))
    browser.find_element(By.ID, "st-import").click()
    wait_for(
        browser, lambda d: "Read 2 half hours; 2 new." in d.find_element(By.ID, "st-error").text, "import"
    )
    browser.execute_script(
        "document.getElementById('st-days').value = '2'; document.getElementById('st-holdout').value = '3';"
    )
    browser.find_element(By.CSS_SELECTOR, "#st-form button[type=submit]").click()
    wait_for(
        browser, lambda d: d.find_element(By.ID, "st-mae").text not in ("", "–"), "the forecast error", 60
    )
    peak = int(browser.find_element(By.ID, "st-peak").text)
    assert 3 <= peak <= 40
    assert len(browser.find_elements(By.CSS_SELECTOR, "#st-table tr")) == 2 * 48 + 1
    assert len(browser.find_elements(By.CSS_SELECTOR, "#st-svg rect")) == 2 * 48
    assert "Holt-Winters" in browser.find_element(By.ID, "st-legend").text
    shot(browser, tmp_path, "ops_staffing")


def test_an_agent_is_turned_away(browser: WebDriver, site: Site) -> None:
    open_page(browser, site, site.agent)
    wait_for(browser, lambda d: d.find_element(By.ID, "op-denied").is_displayed(), "the refusal")
    assert "Only supervisors" in browser.find_element(By.ID, "op-denied").text


def test_the_agent_console_toasts_a_storm_to_a_supervisor(
    browser: WebDriver, site: Site, tmp_path: Path
) -> None:
    sign_in(browser, site.url, site.boss)
    assert site.runtime.incidents is not None
    store = site.runtime.store
    for _ in range(5):
        site.runtime.incidents.report(store.start_call(None, "zh").id, "gas", "西城区")
    wait_for(
        browser,
        lambda d: "Storm: 5 calls about gas in 西城区" in d.find_element(By.ID, "toasts").text,
        "the storm toast",
    )
    shot(browser, tmp_path, "console_storm_toast")
