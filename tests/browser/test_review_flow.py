"""End to end in headless Chromium: log in, filter the queue, open a case, approve with a reason, run
the push worker, and see the alert arrive in the cadre's inbox page; a reviewer of another county is
refused. Screenshots of the main pages go to docs/screenshots/."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from serving.operations import audit
from serving.operations.alerts import AlertStore
from serving.operations.alerts.models import Delivery
from serving.operations.inbox.tokens import issue_inbox_token
from serving.operations.push import LocalInboxAdapter, PushWorker
from tests.serving.operations.console.kit import PASSWORD

from .conftest import screenshot

pytestmark = pytest.mark.service


def _wait(driver, css: str, timeout: float = 10):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def _login(driver, base: str, username: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/console/login")
    _wait(driver, "#login-form")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    _wait(driver, "#queue")


def test_review_approve_push_and_inbox(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, engine, world, alerts, (a, b) = site
    d = browser
    d.get(f"{base}/console/queue")                       # not logged in: sent to the login page
    _wait(d, "#login-form")
    assert "/console/login" in d.current_url
    screenshot(d, "login", height=700)

    _login(d, base, "reviewer-a")
    rows = d.find_elements(By.CSS_SELECTOR, "#queue tbody tr[data-alert]")
    assert {int(r.get_attribute("data-alert")) for r in rows} == set(alerts[a])
    assert d.find_elements(By.CSS_SELECTOR, "#queue tr.urgent")
    assert "平均的 4 倍 · 县内前" in d.find_element(By.ID, "queue").text     # the reviewer's terms beside the score
    screenshot(d, "queue")

    Select(d.find_element(By.ID, "f-level")).select_by_value("red")
    d.find_element(By.ID, "f-apply").click()
    _wait(d, "#queue")
    assert "level=red" in d.current_url
    rows = d.find_elements(By.CSS_SELECTOR, "#queue tbody tr[data-alert]")
    assert rows and all("红色" in r.text for r in rows)
    target = int(rows[0].get_attribute("data-alert"))

    rows[0].find_element(By.CSS_SELECTOR, "a.case-link").click()
    _wait(d, "#case-title")
    assert f"#{target}" in d.find_element(By.ID, "case-title").text
    assert d.find_element(By.CSS_SELECTOR, "#factor-chart svg")
    assert d.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")
    assert "约为平均水平的" in d.find_element(By.ID, "risk-terms").text and "有记录人员" in d.find_element(
        By.ID, "risk-terms").text
    screenshot(d, "case")

    d.set_window_size(1366, 900)
    d.find_element(By.ID, "reason").send_keys("近30天多次报警且调解失败，请网格员上门走访")
    d.find_element(By.ID, "approve").click()
    _wait(d, "#done")
    assert "已批准推送" in d.find_element(By.ID, "done").text
    assert AlertStore(engine).get(target).state == "queued"
    assert audit.entries(engine, action="case.decide")[0].subject == f"alert:{target}"

    # the push worker moves the outbox rows into the cadres' inboxes
    PushWorker(engine, {"inbox": LocalInboxAdapter(engine)}).run(drain=True, poll_seconds=0.1, max_seconds=20)
    with engine.connect() as conn:
        inbox_id = conn.scalar(sa.select(Delivery.inbox_id).where(Delivery.alert_id == target,
                                                                  Delivery.status == "delivered").limit(1))
    assert inbox_id, "the approved alert was not delivered"
    token = issue_inbox_token(engine, inbox_id, label="browser test")
    d.set_window_size(420, 860)
    d.get(f"{base}/inbox/#token={token}")
    card = _wait(d, f'#list .card[data-id="{target}"]')
    assert "红色预警" in card.text
    screenshot(d, "inbox", width=420, height=860)


def test_a_reviewer_of_another_county_is_refused(site, browser):
    from selenium.webdriver.common.by import By

    base, engine, world, alerts, (a, b) = site
    d = browser
    _login(d, base, "reviewer-b")
    listed = {int(r.get_attribute("data-alert")) for r in d.find_elements(By.CSS_SELECTOR, "#queue tr[data-alert]")}
    assert listed and not listed & set(alerts[a])
    target = alerts[a][1]
    d.get(f"{base}/console/cases/{target}")               # URL guessing
    _wait(d, "#error-title")
    assert "未找到" in d.find_element(By.ID, "error-title").text
    assert "不在您的辖区" in d.find_element(By.ID, "error-message").text
    assert not d.find_elements(By.ID, "decision-form")
    assert audit.entries(engine, action="case.denied")[0].subject == f"alert:{target}"
