"""The weekly watch-list digest in the cadre's inbox page, in headless Chromium: one item at the top of the
inbox that opens the list; 已走访 on one person sticks. No screenshot is written."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from serving.operations.alerts import AlertStore
from serving.operations.alerts.models import Alert
from serving.operations.inbox.models import WatchDigest
from serving.operations.inbox.tokens import issue_inbox_token
from serving.operations.push.config import WatchDigestConfig
from serving.operations.push.digest import WatchDigestJob
from tests.serving.operations.alerts.test_watch_digest import watched

from .test_review_flow import _wait

pytestmark = pytest.mark.service


def test_the_digest_opens_from_the_inbox_and_records_a_visit(site, browser):
    from selenium.webdriver.common.by import By

    base, engine, world, _alerts, _counties = site
    directory = world.directory()
    with engine.connect() as conn:
        alerted = set(conn.execute(sa.select(Alert.person_id)).scalars())
    persons = world.store().table("persons")["person_id"]
    pool = [p for p in persons if p not in alerted and directory.route(p).recipients][:40]
    AlertStore(engine, directory=directory).record_watch([watched(p, 0.05 + i / 1000) for i, p in enumerate(pool)])
    run = WatchDigestJob(engine, directory, config=WatchDigestConfig(enabled=True)).run_once()
    assert run.delivered
    with engine.connect() as conn:
        inbox_id, n = conn.execute(sa.select(WatchDigest.inbox_id, WatchDigest.entries)
                                   .order_by(WatchDigest.entries.desc()).limit(1)).one()
    token = issue_inbox_token(engine, inbox_id, label="browser test")
    d = browser
    d.set_window_size(420, 860)
    d.get(f"{base}/inbox/#token={token}")
    card = _wait(d, "#list .card[data-digest]")
    assert f"本周关注名单（{n} 人）" in card.text and f"已走访 0 / {n} 人" in card.text
    card.click()
    button = _wait(d, "#detail [data-visit]")
    assert "不逐人推送" in d.find_element(By.ID, "detail").text
    assert len(d.find_elements(By.CSS_SELECTOR, "#detail [data-visit]")) == n
    button.click()
    done = _wait(d, "#detail .visited")
    assert done.text.startswith("已走访（")
    assert len(d.find_elements(By.CSS_SELECTOR, "#detail [data-visit]")) == n - 1
    d.find_element(By.ID, "back").click()
    # the list is rendered again from the API: wait for the new card, not the one still on the page
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    def rerendered(drv) -> bool:
        return f"已走访 1 / {n} 人" in _wait(drv, "#list .card[data-digest]").text

    WebDriverWait(d, 10, ignored_exceptions=(StaleElementReferenceException,)).until(rerendered)
    card = _wait(d, "#list .card[data-digest]")
    assert f"已走访 1 / {n} 人" in card.text and "已读" in card.text
