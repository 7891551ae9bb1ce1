"""A real server (uvicorn in a thread) with the console at /console and the cadre inbox at /inbox, and a
headless Debian Chromium driven by Selenium through the system chromedriver (nothing is downloaded)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from serving.operations.alerts.db import make_engine
from tests._shared import free_port, migrated_sqlite
from tests.serving.operations.console.kit import add_users, seed_alerts, two_counties

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def world(small_world):
    from features.store import EventStore
    from serving.operations.console import World

    return World(event_store=EventStore.open(small_world, progress=False))   # the session's one small world


@pytest.fixture(scope="module")
def site(world, tmp_path_factory):
    """(base_url, engine, world, alerts by county, (county_a, county_b))."""
    from serving.operations.console import start_console

    path = migrated_sqlite(tmp_path_factory.mktemp("browser_db") / "weimeng.db")
    engine = make_engine(f"sqlite:///{path}")
    a, b = two_counties(world)
    alerts = seed_alerts(engine, world, a, b, n=6)
    add_users(engine, a, b)
    running = start_console(engine, world=world, port=free_port())
    try:
        yield running.url.rsplit("/console/", 1)[0], engine, world, alerts, (a, b)
    finally:
        running.stop()
        engine.dispose()


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is needed for the browser tests")
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"Debian chromium and chromium-driver are needed ({CHROMIUM}, {CHROMEDRIVER})")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chrome-profile'}", "--lang=zh-CN",
                "--window-size=1366,900", "--hide-scrollbars"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chrome-profile", ignore_errors=True)


def screenshot(driver, name: str, width: int = 1366, height: int | None = None) -> Path:
    """Write docs/screenshots/<name>.png sized to the whole page (capped), for the README."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if height is None:
        height = min(int(driver.execute_script("return document.documentElement.scrollHeight")) + 20, 2600)
    driver.set_window_size(width, height)
    inner = int(driver.execute_script("return window.innerHeight"))
    if inner < height:  # the window's frame takes some of it: grow until the viewport is as asked
        driver.set_window_size(width, 2 * height - inner)
    out = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(out))
    return out
