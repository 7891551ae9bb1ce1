"""In headless Chromium: a reviewer opens the model page from the navigation, reads the list of registered
versions and the champion's page (data, periods, metrics, thresholds, fairness, promotion record); the
version page is screenshotted for the docs."""

from __future__ import annotations

import pytest

from serving.operations.alerts.db import make_engine
from tests._shared import free_port, migrated_sqlite
from tests.serving.operations.console.kit import add_users, seed_alerts, two_counties
from tests.serving.operations.console.modelkit import build_registry

from .conftest import screenshot
from .test_review_flow import _login, _wait

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def model_site(world, small_world, tmp_path_factory):
    """A console whose registry holds a model trained on the small world (promoted) and a BYOD model."""
    from serving.operations.console import start_console

    d = tmp_path_factory.mktemp("browser_models")
    reg = build_registry(small_world, d)
    engine = make_engine(f"sqlite:///{migrated_sqlite(d / 'weimeng.db')}")
    a, b = two_counties(world)
    seed_alerts(engine, world, a, b, n=2)
    add_users(engine, a, b)
    running = start_console(engine, world=world, tracking_uri=reg["uri"], port=free_port())
    try:
        yield running.url.rsplit("/console/", 1)[0], reg
    finally:
        running.stop()
        engine.dispose()


def test_a_reviewer_reads_which_model_scored_the_queue(model_site, browser):
    from selenium.webdriver.common.by import By

    base, reg = model_site
    d = browser
    d.set_window_size(1366, 900)
    _login(d, base, "reviewer-a")
    d.find_element(By.LINK_TEXT, "模型信息").click()
    table = _wait(d, "#models")
    assert "现任模型" in table.text and "候选模型" in table.text and "用户自带数据表" in table.text
    d.find_element(By.CSS_SELECTOR, f'a[href$="/models/weimeng-escalation/{reg["world"]}"]').click()
    title = _wait(d, "#model-title")
    assert "现任模型" in title.text
    for section in ("#periods", "#metrics", "#thresholds", "#fairness", "#decisions"):
        assert d.find_element(By.CSS_SELECTOR, section).text.strip(), section
    assert "基础率" in d.find_element(By.CSS_SELECTOR, "#periods").text
    assert "ROC-AUC" in d.find_element(By.CSS_SELECTOR, "#metrics").text
    screenshot(d, "models")
