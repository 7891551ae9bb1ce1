"""Graded escalation with a controllable clock: an unacknowledged red alert reaches the township at its deadline
and the county at the next; reports and tips rise the same way; each step audited and visible."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.operations.grassroots import Escalator, escalation_counts, holders, ladder
from serving.operations.grassroots.models import EscalationStep
from serving.operations.grassroots.service import GrassrootsService
from serving.operations.inbox.tokens import Identity
from tests.serving.operations.alerts.helpers import person_with_one_place, pump, scored


def _red_alert(store, engine, world_tables, directory, clock) -> int:
    [r] = store.ingest([scored(person_with_one_place(world_tables, directory, 3), level="red")])
    store.approve(r.alert_id, by="reviewer", reason="核实")
    pump(engine, clock=clock)
    return r.alert_id


def _steps(engine, kind="alert"):
    t = EscalationStep
    with engine.connect() as conn:
        return conn.execute(sa.select(t.step, t.level, t.holder_code, t.reason, t.at).where(t.subject_kind == kind)
                            .order_by(t.step)).all()


def test_an_unacknowledged_red_alert_reaches_the_township_then_the_county(store, engine, world_tables, directory,
                                                                           clock):
    alert_id = _red_alert(store, engine, world_tables, directory, clock)
    alert = store.get(alert_id)
    deadline = alert.deadline_at
    assert deadline - clock.now == timedelta(hours=24)
    grid = store.deliveries(alert_id)[0].grid_id
    village = grid[1:13]
    esc = Escalator(engine, clock=clock)

    clock.now = deadline - timedelta(seconds=1)
    assert esc.run_once().steps == 0 and _steps(engine) == []
    clock.now = deadline
    assert esc.run_once().steps == 1
    [(step, level, holder, reason, at)] = _steps(engine)
    assert (step, level, holder, reason) == (1, "township", village[:9], "unacknowledged")
    assert esc.run_once().steps == 0                                   # idempotent
    clock.now = deadline + timedelta(hours=24) - timedelta(seconds=1)
    assert esc.run_once().steps == 0
    clock.now = deadline + timedelta(hours=24)
    assert esc.run_once().steps == 1
    assert [(s[1], s[2]) for s in _steps(engine)] == [("township", village[:9]), ("county", village[:6])]

    held = holders(engine, "alert", [alert_id])[alert_id]
    assert (held["level_label"], held["code"], held["reason_label"]) == ("区县", village[:6], "逾期未签收")
    assert held["since_text"] == "2026-11-03 16:00"                  # Beijing time of the second deadline
    history = [h for h in store.history(alert_id) if h["action"] == "escalate_level"]
    assert len(history) == 2 and "乡镇（街道）" in history[0]["reason"] and "区县" in history[1]["reason"]
    with engine.connect() as conn:
        audit = conn.execute(sa.text("SELECT actor, subject, detail FROM audit_log WHERE action = 'escalation.step' "
                                     "AND subject = :s ORDER BY seq"), {"s": f"alert:{alert_id}"}).all()
    assert [json.loads(d)["level"] for _, _, d in audit] == ["township", "county"]
    assert {a for a, _, _ in audit} == {"system:escalator"} and {s for _, s, _ in audit} == {f"alert:{alert_id}"}
    assert store.get(alert_id).state == "delivered"                   # escalation never changes the lifecycle
    counts = escalation_counts(engine)
    assert counts == [{"level": "township", "level_label": "乡镇（街道）", "county_code": village[:6], "n": 1},
                      {"level": "county", "level_label": "区县", "county_code": village[:6], "n": 1}]
    assert escalation_counts(engine, start=deadline + timedelta(hours=1)) == [counts[1]]


def test_a_late_run_catches_up_and_stops_at_the_prefecture(store, engine, world_tables, directory, clock):
    alert_id = _red_alert(store, engine, world_tables, directory, clock)
    deadline = store.get(alert_id).deadline_at
    clock.now = deadline + timedelta(days=30)
    assert Escalator(engine, clock=clock).run_once().steps == 3
    steps = _steps(engine)
    assert [s[1] for s in steps] == ["township", "county", "prefecture"]
    assert [s[4] for s in steps] == [deadline + k * timedelta(hours=24) for k in range(3)]   # each at its deadline
    assert Escalator(engine, clock=clock).run_once().steps == 0


def test_an_answered_alert_does_not_rise(store, engine, world_tables, directory, clock):
    from serving.operations.inbox.service import InboxService

    alert_id = _red_alert(store, engine, world_tables, directory, clock)
    d = store.deliveries(alert_id)[0]
    InboxService(engine, clock=clock).report_outcome(Identity(d.inbox_id, d.staff_id, None), alert_id, "已走访")
    clock.advance(days=10)
    assert Escalator(engine, clock=clock).run_once().steps == 0


def test_an_acknowledged_alert_without_outcome_rises_as_unresolved(store, engine, world_tables, directory, clock):
    from serving.operations.inbox.service import InboxService

    alert_id = _red_alert(store, engine, world_tables, directory, clock)
    d = store.deliveries(alert_id)[0]
    InboxService(engine, clock=clock).acknowledge(Identity(d.inbox_id, d.staff_id, None), alert_id)
    clock.advance(hours=24)
    Escalator(engine, clock=clock).run_once()
    assert [s[3] for s in _steps(engine)] == ["unresolved"]


def test_an_urgent_report_rises_to_the_township_desk(engine, grassroots_directory, staff_pick, world_tables, clock):
    svc = GrassrootsService(engine, grassroots_directory, clock=clock)
    w = staff_pick["worker"]
    rep = svc.file_report(Identity(w["inbox_id"], w["staff_id"], None), address_code=staff_pick["address"],
                          category="family", urgency="urgent", observations_=["obs_threat"])
    clock.advance(hours=24)
    assert Escalator(engine, clock=clock).run_once().by_level == {"township": 1}
    township = staff_pick["address"][:9]
    s = world_tables["staff"]
    desk = s[(s["role"] == "township_fallback") & (s["township_code"] == township)]
    if len(desk):
        me = Identity(str(desk.iloc[0]["inbox_id"]), str(desk.iloc[0]["staff_id"]), None)
        todo = svc.to_handle(me)["reports"]
        assert [r["id"] for r in todo] == [rep["id"]] and todo[0]["holder"]["level"] == "township"
        assert svc.handle_report(me, rep["id"], "已走访")["status"] == "handled"
    else:
        o = staff_pick["officer"]
        svc.handle_report(Identity(o["inbox_id"], o["staff_id"], None), rep["id"], "visited")
    clock.advance(days=30)
    assert Escalator(engine, clock=clock).run_once().steps == 0       # handled: no further rise


@settings(max_examples=50, deadline=None)
@given(st.from_regex(r"51[0-9]{10}", fullmatch=True))
def test_the_ladder_narrows_by_prefix(village):
    chain = ladder(village)
    assert [lv for lv, _ in chain] == ["village", "township", "county", "prefecture"]
    codes = [c for _, c in chain]
    assert codes[0] == village and all(codes[i].startswith(codes[i + 1].rstrip("0")[:4]) for i in range(3))
    assert (len(codes[1]), len(codes[2]), codes[3][-2:]) == (9, 6, "00")


def test_the_push_worker_schedule_and_the_cli_escalate(engine, db_url, grassroots_directory, staff_pick, clock):
    """The wall clock is weeks past the test clock: every step of an old report is due."""
    from typer.testing import CliRunner

    from weimeng.commands.alerts import app

    svc = GrassrootsService(engine, grassroots_directory, clock=clock)
    w = staff_pick["worker"]
    svc.file_report(Identity(w["inbox_id"], w["staff_id"], None), address_code=staff_pick["address"],
                    category="debt", urgency="routine")
    r = CliRunner().invoke(app, ["push-worker", "--url", db_url, "--drain", "--poll", "0.05",
                                 "--escalate-every", "0.05"])
    assert r.exit_code == 0, r.output
    assert [s[1] for s in _steps(engine, "report")] == ["township", "county", "prefecture"]
    r = CliRunner().invoke(app, ["alerts", "escalate", "--url", db_url])
    assert r.exit_code == 0 and "逐级督办 0 件" in r.output
