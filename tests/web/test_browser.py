"""A real browser on the archive: Debian's headless Chromium, driven by Selenium through Debian's chromedriver.

``paperbot web`` runs as a process on a seeded SQLite database; Chromium runs with JavaScript switched off (the
archive must be readable without it), opens ``/``, follows a paper link, types a Korean search (``언어 모델``) into
the form, reads the results, and looks at a day on a phone-sized window. Screenshots go to the test's directory
(and to ``PAPERBOT_SCREENSHOTS`` when set, which is how docs/web-archive.png is made).

The browser is never downloaded: ``bash .ci/run`` installs ``chromium`` and ``chromium-driver`` with apt-get. Where
they are not installed the test skips and says so; with ``PAPERBOT_REQUIRE_BROWSER=1`` (set by .ci/run once the
packages are in place) a missing browser is a failure instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.runtime.test_run_process import STARTUP_DEADLINE, free_port, get, wait_for
from tests.web.test_cli_web import paperbot_web

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: What this machine's closed network needs: no update checks, sync, QUIC or first-run pages phoning home.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            return f"{path} is missing: apt-get install chromium chromium-driver (bash .ci/run does)"
    return None


@pytest.fixture(scope="module")
def browser_ready() -> None:
    reason = _missing()
    if reason:
        if os.environ.get("PAPERBOT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"PAPERBOT_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)


@pytest.fixture
def driver(browser_ready: None, tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1200,1400"):
        options.add_argument(flag)
    options.add_argument("--lang=ko-KR")
    # Readable without JavaScript: run the whole visit with it switched off.
    options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    browser = webdriver.Chrome(service=service, options=options)
    browser.set_page_load_timeout(60)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[int]:
    from paperbot.store import migrate
    from paperbot.store.engine import create_engine
    from paperbot.store.sql import SqlRepository
    from tests.web.seed import seed

    url = f"sqlite+aiosqlite:///{tmp_path / 'archive.db'}"
    migrate.upgrade(url)

    async def fill() -> None:
        repository = SqlRepository(create_engine(url), owns_engine=True)
        try:
            await seed(repository)
        finally:
            await repository.close()

    asyncio.run(fill())
    port = free_port()
    with paperbot_web(tmp_path, "--port", str(port), env={"PAPERBOT_DATABASE_URL": url}) as process:
        wait_for(lambda: get(port, "/healthz")[0] == 200, deadline=STARTUP_DEADLINE, what="paperbot web")
        yield port
        process.terminate()


def _shot(browser: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    assert browser.save_screenshot(str(path)), name
    assert path.stat().st_size > 10_000, name  # a page, not a blank
    target = os.environ.get("PAPERBOT_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)
    return path


def _problems(browser: Any) -> list[str]:
    """Console errors (a CSP violation or a failed stylesheet would show up here)."""
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_a_reader_browses_and_searches_in_korean(driver: Any, archive: int, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    base = f"http://127.0.0.1:{archive}"
    driver.get(f"{base}/")
    assert "Daily Papers" in driver.title
    assert "최신 다이제스트" in driver.find_element(By.TAG_NAME, "h1").text
    entries = driver.find_elements(By.CSS_SELECTOR, "article.entry")
    assert len(entries) == 10
    # The stylesheet applied (same origin, allowed by the CSP): cards have rounded borders.
    assert entries[0].value_of_css_property("border-top-left-radius") != "0px"
    _shot(driver, tmp_path, "front")

    link = entries[0].find_element(By.CSS_SELECTOR, "a.title")
    title = link.text
    assert title
    link.click()
    assert "/paper/" in driver.current_url
    assert driver.find_element(By.TAG_NAME, "h1").text == title
    assert "한국어 요약" in driver.page_source and "HF 추천 추이" in driver.page_source
    _shot(driver, tmp_path, "paper")

    box = driver.find_element(By.CSS_SELECTOR, "header form.search input[name=q]")
    box.send_keys("언어 모델")
    box.send_keys(Keys.ENTER)
    assert "/search?q=" in driver.current_url
    assert "언어 모델" in driver.find_element(By.CSS_SELECTOR, "p.summary").text
    found = [element.text for element in driver.find_elements(By.CSS_SELECTOR, "article.entry a.title")]
    assert "Kanana-2 개발기: 더 작고 더 똑똑한 언어 모델" in found
    assert len(found) >= 5
    bullets = driver.find_elements(By.CSS_SELECTOR, "article.entry ul.bullets li")
    assert any("모델" in bullet.text for bullet in bullets)
    _shot(driver, tmp_path, "search")

    driver.find_element(By.CSS_SELECTOR, "form.filters select[name=kind] option[value=post]").click()
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    old_page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
    # click() returns before the form's navigation ends: reading the entries at once could read the old page's
    # elements as they are replaced (StaleElementReferenceException under load). Wait for the old page to go.
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(old_page))
    posts = [element.text for element in driver.find_elements(By.CSS_SELECTOR, "article.entry a.title")]
    assert posts == ["Kanana-2 개발기: 더 작고 더 똑똑한 언어 모델"]

    driver.get(f"{base}/week/2025-W21")
    assert driver.find_elements(By.CSS_SELECTOR, "svg.topics-chart rect.bar-papers")
    _shot(driver, tmp_path, "week")
    assert _problems(driver) == []


def test_a_day_fits_a_phone(driver: Any, archive: int, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.set_window_size(390, 844)
    driver.get(f"http://127.0.0.1:{archive}/day/2025-05-22")
    assert len(driver.find_elements(By.CSS_SELECTOR, "article.entry")) == 26 + 3
    page = driver.find_element(By.TAG_NAME, "main")
    viewport = driver.find_element(By.TAG_NAME, "html").size["width"]
    assert page.size["width"] <= viewport  # no sideways scrolling
    for entry in driver.find_elements(By.CSS_SELECTOR, "article.entry")[:5]:
        assert entry.location["x"] >= 0 and entry.location["x"] + entry.size["width"] <= viewport
    _shot(driver, tmp_path, "phone")
    assert _problems(driver) == []
