"""Headless Chromium (Debian's chromium + chromium-driver) for the console tests: start it, wait for
what a person would see, click, sign in, keep screenshots. The ``browser`` fixture is in conftest.py.

Set TRIAGE_CONSOLE_SCREENSHOTS=DIR to keep the screenshots for a look.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

webdriver = pytest.importorskip("selenium.webdriver")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.fail("Chromium is missing: run scripts/bootstrap.sh (apt-get install -y chromium chromium-driver)")

from selenium.common.exceptions import (  # noqa: E402
    ElementNotInteractableException,
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT_S = 15
RETRY = (NoSuchElementException, StaleElementReferenceException, ElementNotInteractableException)


def start_browser(profile_dir: Path, fake_audio: Path | None = None) -> WebDriver:
    """``fake_audio``: a WAV the page's microphone plays once (getUserMedia allowed without asking)."""
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--lang=en-US",
        "--window-size=1480,1000",
        f"--user-data-dir={profile_dir}",
    ):
        options.add_argument(flag)
    if fake_audio is not None:
        for flag in (
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake_audio}%noloop",
            "--autoplay-policy=no-user-gesture-required",
        ):
            options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    return driver


def wait_for(
    driver: WebDriver, condition: Callable[[WebDriver], Any], what: str, timeout_s: float = WAIT_S
) -> Any:
    # The lists re-render on every live update, so an element found a moment ago may be replaced.
    return WebDriverWait(driver, timeout_s, poll_frequency=0.1, ignored_exceptions=RETRY).until(
        condition, message=f"waiting for {what}"
    )


def click(driver: WebDriver, find: Callable[[WebDriver], WebElement], what: str) -> None:
    def attempt(d: WebDriver) -> bool:
        find(d).click()
        return True

    wait_for(driver, attempt, what)


def classes(element: WebElement) -> str:
    return element.get_attribute("class") or ""


def shot(driver: WebDriver, tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("TRIAGE_CONSOLE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    return path


def sign_in(driver: WebDriver, base_url: str, token: str, lang: str = "en") -> None:
    driver.get(base_url + "/console/console.css")  # same origin, no script that could sign in again
    driver.execute_script("localStorage.clear(); localStorage.setItem('triage.lang', arguments[0]);", lang)
    driver.get(base_url + "/console/")
    field = wait_for(
        driver,
        lambda d: (
            d.find_element(By.ID, "token-input").is_displayed() and d.find_element(By.ID, "token-input")
        ),
        "the sign-in form",
    )
    field.send_keys(token)
    driver.find_element(By.ID, "login-btn").click()
    wait_for(driver, lambda d: d.find_element(By.ID, "app").is_displayed(), "the console after sign-in")
    wait_for(driver, lambda d: "conn-live" in classes(d.find_element(By.ID, "conn")), "live feed")
