"""The store's unit of work: a decision and the caller's own writes commit or roll back together."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from serving.operations import audit
from serving.operations.alerts import AlertStore, RoutingError
from serving.operations.alerts.models import AlertEvent, Delivery

from .helpers import person_with_one_place, scored
from .test_routing import _directory_without, _grids_of


class Boom(RuntimeError):
    pass


def _events(engine, alert_id) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(sa.select(AlertEvent.action).where(AlertEvent.alert_id == alert_id)
                                 .order_by(AlertEvent.id)))


def test_a_decision_and_its_audit_entry_commit_together(store, engine, world_tables, directory, clock):
    [r] = store.ingest([scored(person_with_one_place(world_tables, directory))])
    with store.unit_of_work() as uow:
        view = uow.review(r.alert_id, "approve", by="审核民警A", reason="多次报警且调解失败")
        audit.record(uow.session, "审核民警A", "case.decide", f"alert:{r.alert_id}", {"decision": "approve"})
        assert uow.now == clock.now and view.reviewed_at == clock.now
    assert store.get(r.alert_id).state == "queued"
    assert _events(engine, r.alert_id) == ["created", "approve", "queue"]
    assert len(audit.entries(engine, subject=f"alert:{r.alert_id}", action="case.decide")) == 1
    assert audit.verify(engine).ok


@pytest.mark.parametrize("decision", ["approve", "dismiss", "escalate"])
def test_a_failure_after_the_decision_rolls_back_the_decision_and_the_audit_entry(store, engine, world_tables,
                                                                                   directory, decision):
    [r] = store.ingest([scored(person_with_one_place(world_tables, directory))])
    with pytest.raises(Boom), store.unit_of_work() as uow:
        assert uow.review(r.alert_id, decision, by="审核民警A", reason="理由充分").state != "created"
        audit.record(uow.session, "审核民警A", "case.decide", f"alert:{r.alert_id}", {"decision": decision})
        raise Boom("after the decision and its audit entry")
    view = store.get(r.alert_id)
    assert view.state == "created" and view.review_decision is None and view.reviewed_by is None
    assert _events(engine, r.alert_id) == ["created"]
    assert store.deliveries(r.alert_id) == []
    assert audit.entries(engine, subject=f"alert:{r.alert_id}", action="case.decide") == []
    assert audit.verify(engine).ok
    # the store still works afterwards: the same decision goes through
    assert store.review(r.alert_id, decision, by="审核民警A", reason="理由充分").state != "created"


def test_several_operations_share_one_transaction(store, engine, world_tables, directory):
    ids = [store.ingest([scored(person_with_one_place(world_tables, directory, skip=i))])[0].alert_id
           for i in range(2)]
    with pytest.raises(Boom), store.unit_of_work() as uow:
        uow.dismiss(ids[0], by="r", reason="已化解")
        uow.escalate(ids[1], by="r", reason="情况复杂")
        raise Boom()
    assert [store.get(i).state for i in ids] == ["created", "created"]
    with store.unit_of_work() as uow:
        uow.dismiss(ids[0], by="r", reason="已化解")
        uow.escalate(ids[1], by="r", reason="情况复杂")
    assert [store.get(i).state for i in ids] == ["dismissed", "escalated"]


def test_an_unreachable_approval_in_a_unit_of_work_still_records_its_gap(engine, world_tables, directory, clock):
    pid = person_with_one_place(world_tables, directory)
    g, _ = _grids_of(world_tables, pid)
    store = AlertStore(engine, directory=_directory_without(world_tables, g, drop_fallback=True), clock=clock)
    [r] = store.ingest([scored(pid)])
    with pytest.raises(RoutingError, match="nobody can be reached"), store.unit_of_work() as uow:
        uow.approve(r.alert_id, by="r", reason="x")
    assert store.get(r.alert_id).state == "created"
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0
    [gap] = store.routing_gaps()
    assert gap.kind == "unreachable" and gap.alert_id == r.alert_id
