"""Graded escalation in the console: the case page shows who holds an overdue alert and since when, and the
history lists each step."""

from __future__ import annotations

from datetime import timedelta

from serving.operations.alerts import AlertStore
from serving.operations.grassroots import Escalator
from serving.operations.push import LocalInboxAdapter, PushWorker

from .kit import login


def test_an_overdue_alert_shows_its_holder_on_the_case_page(client, seeded, counties):
    engine, world, alerts = seeded
    a, _ = counties
    target = alerts[a][0]
    store = AlertStore(engine, directory=world.directory())
    store.approve(target, by="reviewer-a", reason="核实后推送")
    PushWorker(engine, {"inbox": LocalInboxAdapter(engine)}).run(drain=True, poll_seconds=0.01)
    login(client, "reviewer-a")
    html = client.get(f"/cases/{target}").text
    assert 'id="holder">村（社区），处置期限' in html

    deadline = store.get(target).deadline_at
    Escalator(engine).run_once(now=deadline + timedelta(minutes=1))
    html = client.get(f"/cases/{target}").text
    assert 'id="holder">乡镇（街道）' in html and "逾期未签收" in html and "逐级督办" in html
    holder = client.get(f"/api/cases/{target}").json()["holder"]
    assert holder["level"] == "township" and holder["reason"] == "unacknowledged"
