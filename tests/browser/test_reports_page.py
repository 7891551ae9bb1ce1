"""In headless Chromium: a leader opens /reports and reads the station scorecard (派出所一网考) of the last
month of data, with its method; the page is screenshotted for the docs."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
import sqlalchemy as sa

from serving.operations.alerts import AlertStore
from serving.operations.alerts.models import InboxItem
from serving.operations.inbox.service import Identity, InboxService
from serving.operations.push import LocalInboxAdapter, PushWorker
from tests.serving.operations.console.kit import people_by_county, scored

from .conftest import screenshot
from .test_review_flow import _login, _wait

pytestmark = pytest.mark.service


def test_a_leader_reads_the_station_scorecard(site, browser):
    from selenium.webdriver.common.by import By

    base, engine, world, _, (a, b) = site
    store = AlertStore(engine, directory=world.directory())
    as_of = datetime(2024, 12, 20)                      # inside the small world's last month (data time)
    groups = people_by_county(world)
    taken = {p for c in (a, b) for p in groups[c][:6]}                   # the other tests' people
    parties = world.store().table("incident_parties")["person_id"].drop_duplicates()
    people = [p for p in parties if p not in taken][:30]
    res = store.ingest([replace(scored(p, level=("red", "orange", "yellow")[i % 3]), as_of=as_of, snapshot_time=as_of)
                        for i, p in enumerate(people)])
    for r in res[: 2 * len(res) // 3]:
        store.approve(r.alert_id, by="审核民警A", reason="事实清楚，推送走访")
    PushWorker(engine, {"inbox": LocalInboxAdapter(engine)}).run(drain=True, poll_seconds=0.1, max_seconds=20)
    inbox = InboxService(engine)
    with engine.connect() as conn:
        items = conn.execute(sa.select(InboxItem.inbox_id, InboxItem.staff_id, InboxItem.alert_id)
                             .where(InboxItem.alert_id.in_([r.alert_id for r in res])).order_by(InboxItem.id)).all()
    for i, it in enumerate(items[::2]):                  # some cadres acknowledge, some report a visit
        who = Identity(it.inbox_id, it.staff_id, "测试干部")
        if i % 2:
            inbox.report_outcome(who, it.alert_id, "visited", note="已上门")
        else:
            inbox.acknowledge(who, it.alert_id)

    d = browser
    d.set_window_size(1366, 900)
    _login(d, base, "leader")
    d.get(f"{base}/console/reports")
    table = _wait(d, "#scorecard")
    assert "县内排名" in table.text and "按时审核" in table.text
    rows = d.find_elements(By.CSS_SELECTOR, "#scorecard tbody tr")
    received = [int(r.find_elements(By.TAG_NAME, "td")[2].text) for r in rows]
    assert len(people) >= 10 and sum(received) >= len(people)   # each alert at the stations of both places
    assert "统计方法" in d.find_element(By.CSS_SELECTOR, ".method").text
    screenshot(d, "reports")
