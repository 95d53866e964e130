"""The status page in a real browser: Debian's headless Chromium, driven by Selenium.

The browser is installed by the session fixture (`apt-get install chromium chromium-driver`)
when `/usr/bin/chromium` is missing; the test skips, saying why, where that cannot be done.
Selenium is pointed at Debian's chromedriver and browser, so Selenium Manager never downloads
anything. With `SABER_WRITE_SCREENSHOT=1` the desktop screenshot is also written to
config/status-page.png (the README shows it).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.state import StateStore
from tests.service.status_kit import ran_service
from tests.support import wait_for

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PACKAGES = ("chromium", "chromium-driver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
SCREENSHOT = Path(__file__).resolve().parents[2] / "config" / "status-page.png"
LOCK = Path("/tmp/saber-connector-chromium-install.lock")  # xdist workers install it once
PHONE = (390, 844)


def _apt_install() -> str | None:
    """Install Debian's Chromium and its driver; None when done, else why not."""
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine"
    if os.geteuid() != 0:
        return "not root: cannot apt-get install chromium"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:  # the package lists may be stale or missing: update once, try again
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, text=True, timeout=300)
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        return f"apt-get install {' '.join(PACKAGES)} failed (no network?): {done.stderr.strip()[-300:]}"
    return None


@pytest.fixture(scope="session")
def chromium() -> tuple[Path, Path]:
    """Debian's Chromium and chromedriver, installed with apt-get when missing (else the test skips)."""
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[dev]')")
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
            why = _apt_install()
            if why is not None:
                pytest.skip(f"no headless Chromium: {why}")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f"no headless Chromium: {CHROMIUM} or {CHROMEDRIVER} still missing after apt-get")
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture
def browser(chromium: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A headless Chromium with a fresh profile, driven through Debian's chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as ChromeService

    binary, driver_path = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = str(binary)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.add_argument("--window-size=1280,900")
    monkeypatch.setenv("SE_OFFLINE", "true")  # should Selenium Manager ever be asked, it must not download
    driver = webdriver.Chrome(options=options, service=ChromeService(executable_path=str(driver_path)))
    try:
        yield driver
    finally:
        driver.quit()


def test_the_status_page_renders_cycles_credits_errors_and_readiness(browser: object, tmp_path: Path) -> None:
    """In Chromium the page of a service that ran cycles shows them, today's credits, the day's errors and readiness, fits a phone, and is saved as a screenshot."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver

    driver: WebDriver = browser  # type: ignore[assignment]
    with ran_service(tmp_path / "svc", full_runs=3) as ran:
        driver.get(ran.service.url + "/status")
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "tr.cycle"), timeout=10)
        with StateStore(ran.state_url) as store:
            top_error = store.common_errors(1)[0][0]
            runs = [r for r in store.last_runs(50) if r.outcome != "running"]

        readiness = driver.find_element(By.ID, "readiness")
        assert readiness.get_attribute("data-ready") == "true" and readiness.text.startswith("Ready")
        rows = driver.find_elements(By.CSS_SELECTOR, "tr.cycle")
        assert len(rows) >= min(len(runs), 3) and all(row.is_displayed() for row in rows)
        kinds = {row.get_attribute("data-kind") for row in rows}
        assert {"full", "collect"} <= kinds
        credits = driver.find_element(By.CSS_SELECTOR, "#tile-credits-30d .value").text
        assert int(credits.replace(",", "")) > 0
        bars = driver.find_elements(By.CSS_SELECTOR, "#credits svg rect.bar")
        assert len(bars) == 30 and float(bars[-1].get_attribute("height") or 0) > 0  # today's bar
        codes = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#errors code.code")]
        assert top_error in codes
        examples = driver.find_elements(By.CSS_SELECTOR, "#errors td.ids code")
        assert examples and all(e.text.isdigit() for e in examples)  # HubSpot ids, nothing else

        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, min(int(height) + 160, 6000))  # the window's frame included
        shot = tmp_path / "status-page.png"
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        if os.environ.get("SABER_WRITE_SCREENSHOT") == "1":
            shutil.copyfile(shot, SCREENSHOT)

        driver.set_window_size(*PHONE)
        driver.refresh()
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "tr.cycle"), timeout=10)
        width = driver.execute_script("return window.innerWidth")
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert width <= PHONE[0] and overflow == 0  # no horizontal scroll on a phone
        assert driver.find_element(By.ID, "tile-errors-day").is_displayed()
        assert driver.find_element(By.CSS_SELECTOR, "#errors code.code").is_displayed()
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(PHONE[0], min(int(height) + 160, 8000))
        phone = tmp_path / "status-page-phone.png"
        assert driver.save_screenshot(str(phone))
