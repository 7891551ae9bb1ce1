"""The lifecycle state machine, alone and through the store, the worker and the inbox."""

from __future__ import annotations

import pytest

from serving.operations.alerts import STATES, TRANSITIONS, InvalidTransition, ReasonRequired, check_transition
from serving.operations.alerts.lifecycle import OPEN, TERMINAL
from serving.operations.inbox import InboxService
from serving.operations.inbox.tokens import issue_inbox_token

from .helpers import person_with_one_place, pump, scored


def test_every_state_has_a_row_and_terminal_states_are_dead_ends():
    assert set(TRANSITIONS) == set(STATES)
    assert {"dismissed", "closed", "expired", "withdrawn"} == TERMINAL
    for state, targets in TRANSITIONS.items():
        assert targets <= set(STATES), state


@pytest.mark.parametrize("current,target", [(c, t) for c in STATES for t in STATES])
def test_check_transition_allows_exactly_the_table(current, target):
    if target in TRANSITIONS[current]:
        check_transition(current, target)
    else:
        with pytest.raises(InvalidTransition, match=rf"from '{current}' to '{target}'"):
            check_transition(current, target)


def test_unknown_state_is_named():
    with pytest.raises(InvalidTransition, match="unknown alert state 'bogus'"):
        check_transition("bogus", "approved")


def test_full_lifecycle_records_who_and_why(store, engine, world_tables, directory, clock):
    pid = person_with_one_place(world_tables, directory)
    [res] = store.ingest([scored(pid)])
    assert res.action == "created" and store.get(res.alert_id).state == "created"

    with pytest.raises(ReasonRequired, match="reason is required"):
        store.approve(res.alert_id, by="审核民警A", reason="  ")
    view = store.approve(res.alert_id, by="审核民警A", reason="一月内四次报警且调解失败")
    assert view.state == "queued" and view.reviewed_by == "审核民警A" and view.review_reason.startswith("一月内")
    assert view.deadline_at is not None
    sends = store.deliveries(res.alert_id)
    assert sends and {d.status for d in sends} == {"pending"}

    pump(engine)
    assert store.get(res.alert_id).state == "delivered"

    inbox = InboxService(engine, clock=clock)
    token = issue_inbox_token(engine, sends[0].inbox_id, staff_id=sends[0].staff_id)
    who = inbox.authenticate(token)
    inbox.acknowledge(who, res.alert_id)
    assert store.get(res.alert_id).state == "acknowledged"
    inbox.report_outcome(who, res.alert_id, "已走访", "已上门，双方情绪平稳")
    assert store.get(res.alert_id).state == "outcome_reported"
    closed = store.close(res.alert_id, by="审核民警A", reason="走访完成")
    assert closed.state == "closed" and closed.closed_at is not None

    steps = [(h["from"], h["to"]) for h in store.history(res.alert_id) if h["to"]]
    assert steps == [(None, "created"), ("created", "approved"), ("approved", "queued"), ("queued", "delivered"),
                     ("delivered", "acknowledged"), ("acknowledged", "outcome_reported"),
                     ("outcome_reported", "closed")]
    approved = [h for h in store.history(res.alert_id) if h["to"] == "approved"][0]
    assert approved["actor"] == "审核民警A" and approved["reason"] == "一月内四次报警且调解失败"

    with pytest.raises(InvalidTransition, match="terminal state"):
        store.withdraw(res.alert_id, by="x", reason="y")


def test_dismiss_and_escalate_need_reasons_and_end_or_continue(store, world_tables, directory):
    a = person_with_one_place(world_tables, directory, 0)
    b = person_with_one_place(world_tables, directory, 1)
    ra, rb = store.ingest([scored(a), scored(b)])
    with pytest.raises(ReasonRequired):
        store.dismiss(ra.alert_id, by="r", reason="")
    assert store.dismiss(ra.alert_id, by="r", reason="已核实为误会").state == "dismissed"
    with pytest.raises(InvalidTransition, match="from 'dismissed' to 'approved'"):
        store.approve(ra.alert_id, by="r", reason="改主意")
    assert store.escalate(rb.alert_id, by="r", reason="需所领导决定").state == "escalated"
    assert store.approve(rb.alert_id, by="所领导", reason="同意推送").state == "queued"


def test_review_rejects_unknown_decision(store, world_tables, directory):
    [r] = store.ingest([scored(person_with_one_place(world_tables, directory))])
    with pytest.raises(Exception, match="decision='push'; allowed: approve, dismiss, escalate"):
        store.review(r.alert_id, "push", by="r", reason="x")


def test_review_queue_orders_urgent_then_level(store, world_tables, directory):
    ids = [person_with_one_place(world_tables, directory, i) for i in range(3)]
    store.ingest([scored(ids[0], level="yellow"), scored(ids[1], level="red"),
                  scored(ids[2], level="yellow", urgent=True, source="event")])
    q = store.review_queue()
    assert [a.person_id for a in q] == [ids[2], ids[1], ids[0]]
    assert q[0].source == "event" and q[0].urgent
    assert all(a.state in OPEN for a in q)
