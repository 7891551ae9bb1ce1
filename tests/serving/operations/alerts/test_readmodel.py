"""The read model monitoring uses: the funnel, review and acknowledgement times, outcomes, stale items
and dead letters, from a store driven through the real lifecycle (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from common.clock import utcnow
from serving.operations.alerts.models import InboxItem
from serving.operations.alerts.readmodel import STAGES, AlertReadModel, OutcomeCount, count_stages
from serving.operations.inbox import InboxService
from serving.operations.inbox.tokens import issue_inbox_token
from serving.operations.push import DeliveryResult

from .helpers import person_with_one_place, pump, scored


class Refusing:
    channel = "inbox"

    def send(self, d):
        return DeliveryResult("refused", "scripted refusal")

    def retract(self, d):
        return DeliveryResult("delivered", "ok")


def _items(engine, alert_id) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(InboxItem).where(InboxItem.alert_id == alert_id))


def test_the_read_model_follows_every_step(store, engine, world_tables, directory, clock):
    people = [person_with_one_place(world_tables, directory, skip=i) for i in range(4)]
    cats = [("repeat_dispute",), ("family_emotion", "repeat_dispute"), ("repeat_dispute",), ("harm_risk",)]
    a, b, c, d = (store.ingest([scored(p, categories=cat)])[0].alert_id for p, cat in zip(people, cats, strict=True))
    clock.advance(hours=2)
    store.approve(c, by="r", reason="推送")
    pump(engine, adapters={"inbox": Refusing()})                 # c's sends are dead-lettered
    store.approve(a, by="r", reason="推送")
    store.approve(b, by="r", reason="推送")
    store.dismiss(d, by="r", reason="已化解")
    pump(engine)                                                 # a and b reach the cadres' inboxes
    inbox = InboxService(engine)
    with engine.connect() as conn:
        a_inbox = conn.scalar(sa.select(InboxItem.inbox_id).where(InboxItem.alert_id == a).limit(1))
    who = inbox.authenticate(issue_inbox_token(engine, a_inbox))
    inbox.report_outcome(who, a, "已走访", "已上门")

    rm = AlertReadModel(engine)
    day = datetime(2026, 11, 1)
    rows = {r.id: r for r in rm.funnel_alerts(day, day + timedelta(days=1))}
    assert list(rows) == [a, b, c, d]
    assert rows[a].stages == dict.fromkeys((s for s, _ in STAGES), True)
    assert rows[b].stages == {"created": True, "reviewed": True, "approved": True, "delivered": True,
                              "acknowledged": False, "outcome": False}
    assert rows[c].stages == {"created": True, "reviewed": True, "approved": True, "delivered": False,
                              "acknowledged": False, "outcome": False}
    assert rows[d].stages == {"created": True, "reviewed": True, "approved": False, "delivered": False,
                              "acknowledged": False, "outcome": False}
    assert all(rows[i].review_hours == 2.0 for i in (a, b, c, d))
    assert isinstance(rows[a].delivered_at, datetime) and 0 <= rows[a].ack_hours < 1
    assert rows[b].ack_hours is None and rows[c].delivered_at is None
    assert rows[b].categories == ("family_emotion", "repeat_dispute") and rows[b].category == "family_emotion"

    by_category = count_stages(rows.values(), key=lambda r: r.category)
    assert list(by_category) == ["family_emotion", "harm_risk", "repeat_dispute"]
    assert by_category["repeat_dispute"].as_dict() == {"created": 2, "reviewed": 2, "approved": 2, "delivered": 1,
                                                       "acknowledged": 1, "outcome": 1}
    assert count_stages(rows.values(), key=lambda r: None) == {}

    assert rm.outcome_counts(day, day + timedelta(days=1)) == [OutcomeCount("visited", "已走访", 1)]
    stale = rm.stale_items(day, day + timedelta(days=1), now=utcnow() + timedelta(days=8))
    assert sum(i.alert_id == b for i in stale) == _items(engine, b) > 0
    assert a_inbox not in {i.inbox_id for i in stale if i.alert_id == a}     # acknowledged: not stale
    assert rm.stale_items(day, day + timedelta(days=1), now=utcnow()) == []  # not old enough yet
    dead = rm.dead_letters(day, day + timedelta(days=1))
    assert dead and {x.alert_id for x in dead} == {c} and all(x.dead_reason for x in dead)

    later = day + timedelta(days=1)                              # another window: nothing
    assert rm.funnel_alerts(later, later + timedelta(days=1)) == []
    assert rm.outcome_counts(later, later + timedelta(days=1)) == []
    assert rm.dead_letters(later, later + timedelta(days=1)) == []
