"""The clock migration (e4b9c2a7d310): rows written at the previous head with naive times come out
as the right aware UTC instants, on SQLite and on PostgreSQL; the audit chain still verifies; the
downgrade gives the old naive values back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from serving.operations import audit
from serving.operations.alerts.db import downgrade, head_revision, make_engine, upgrade
from serving.operations.alerts.models import Alert, AlertEvent, AlertOutcome
from serving.operations.audit.chain import entry_hash
from serving.operations.audit.models import audit_log
from tests._postgres import temporary_database

PREVIOUS = "c7a0d17e5b21"
REVISION = "e4b9c2a7d310"

# Known naive values as the old code wrote them.
AS_OF_BJ = datetime(2026, 11, 1, 0, 0)                 # Beijing wall time (data contract)
SNAPSHOT_BJ = datetime(2026, 10, 31, 23, 30)           # Beijing wall time
CREATED_UTC = datetime(2026, 11, 1, 8, 15, 30, 123456)  # naive UTC
EXPIRES_UTC = datetime(2026, 11, 15, 8, 15)
REPORTED_UTC = datetime(2026, 11, 2, 1, 0)
AUDIT_AT_UTC = datetime(2026, 11, 1, 9, 0, 0, 5)


def _plain(name: str, *cols: sa.Column) -> sa.Table:
    """The old schema's view of a table: plain naive DateTime columns."""
    return sa.Table(name, sa.MetaData(), *cols)


ALERTS = _plain("alerts", sa.Column("id", sa.Integer, primary_key=True), sa.Column("person_id", sa.String),
                sa.Column("state", sa.String), sa.Column("level", sa.String), sa.Column("categories", sa.JSON),
                sa.Column("reason_key", sa.String), sa.Column("ruleset_version", sa.String),
                sa.Column("as_of", sa.DateTime), sa.Column("snapshot_time", sa.DateTime),
                sa.Column("source", sa.String), sa.Column("urgent", sa.Boolean), sa.Column("extra", sa.JSON),
                sa.Column("created_at", sa.DateTime), sa.Column("updated_at", sa.DateTime),
                sa.Column("expires_at", sa.DateTime), sa.Column("reviewed_at", sa.DateTime))
EVENTS = _plain("alert_events", sa.Column("id", sa.Integer, primary_key=True), sa.Column("alert_id", sa.Integer),
                sa.Column("at", sa.DateTime), sa.Column("action", sa.String), sa.Column("actor", sa.String),
                sa.Column("detail", sa.JSON))
OUTCOMES = _plain("alert_outcomes", sa.Column("id", sa.Integer, primary_key=True), sa.Column("alert_id", sa.Integer),
                  sa.Column("person_id", sa.String), sa.Column("inbox_id", sa.String), sa.Column("staff_id", sa.String),
                  sa.Column("kind", sa.String), sa.Column("kind_label", sa.String),
                  sa.Column("reported_at", sa.DateTime), sa.Column("alert_level", sa.String),
                  sa.Column("alert_categories", sa.JSON), sa.Column("alert_as_of", sa.DateTime),
                  sa.Column("ruleset_version", sa.String), sa.Column("snapshot_time", sa.DateTime))
AUDIT = _plain("audit_log", sa.Column("seq", sa.Integer, primary_key=True), sa.Column("at", sa.DateTime),
               sa.Column("actor", sa.String), sa.Column("action", sa.String), sa.Column("subject", sa.String),
               sa.Column("detail", sa.Text), sa.Column("prev_hash", sa.String), sa.Column("hash", sa.String))
HEAD = _plain("audit_head", sa.Column("id", sa.Integer, primary_key=True), sa.Column("seq", sa.Integer),
              sa.Column("hash", sa.String), sa.Column("updated_at", sa.DateTime))


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"),
                        pytest.param("postgresql", id="postgresql", marks=pytest.mark.service)])
def old_engine(request, tmp_path):
    """A store migrated to the revision before the clock migration."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        upgrade(engine, PREVIOUS)
        yield engine
        engine.dispose()
    else:
        with temporary_database("weimeng_clock_migration") as url:
            engine = make_engine(url)
            upgrade(engine, PREVIOUS)
            yield engine
            engine.dispose()


def _seed_old_rows(engine) -> None:
    detail = json.dumps({"person_id": "P1"}, separators=(",", ":"))
    digest = entry_hash(1, AUDIT_AT_UTC, "reviewer01", "case.view", "alert:1", detail, "0" * 64)
    with engine.begin() as conn:
        conn.execute(ALERTS.insert().values(
            id=1, person_id="P1", state="created", level="orange", categories=["repeat_dispute"],
            reason_key="repeat_dispute", ruleset_version="r1", as_of=AS_OF_BJ, snapshot_time=SNAPSHOT_BJ,
            source="batch", urgent=False, extra={}, created_at=CREATED_UTC, updated_at=CREATED_UTC,
            expires_at=EXPIRES_UTC, reviewed_at=None))
        conn.execute(EVENTS.insert().values(id=1, alert_id=1, at=CREATED_UTC, action="created", actor="system",
                                            detail={}))
        conn.execute(OUTCOMES.insert().values(
            id=1, alert_id=1, person_id="P1", inbox_id="I1", staff_id="S1", kind="visited", kind_label="已走访",
            reported_at=REPORTED_UTC, alert_level="orange", alert_categories=["repeat_dispute"],
            alert_as_of=AS_OF_BJ, ruleset_version="r1", snapshot_time=SNAPSHOT_BJ))
        conn.execute(AUDIT.insert().values(seq=1, at=AUDIT_AT_UTC, actor="reviewer01", action="case.view",
                                           subject="alert:1", detail=detail, prev_hash="0" * 64, hash=digest))
        conn.execute(HEAD.update().where(HEAD.c.id == 1).values(seq=1, hash=digest, updated_at=AUDIT_AT_UTC))


def test_upgrade_turns_naive_rows_into_the_right_utc_instants(old_engine):
    _seed_old_rows(old_engine)
    assert upgrade(old_engine) == head_revision()  # the head includes (comes after) REVISION

    with old_engine.connect() as conn:
        a = conn.execute(sa.select(Alert.as_of, Alert.snapshot_time, Alert.created_at, Alert.expires_at,
                                   Alert.reviewed_at)).one()
        at = conn.execute(sa.select(AlertEvent.at)).scalar_one()
        o = conn.execute(sa.select(AlertOutcome.alert_as_of, AlertOutcome.snapshot_time,
                                   AlertOutcome.reported_at)).one()
        audit_at = conn.execute(sa.select(audit_log.c.at)).scalar_one()
    # Beijing wall time -> UTC (8 hours earlier)
    assert a.as_of == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert a.snapshot_time == datetime(2026, 10, 31, 15, 30, tzinfo=UTC)
    assert o.alert_as_of == a.as_of and o.snapshot_time == a.snapshot_time
    # naive UTC -> the same instant, marked UTC (microseconds kept)
    assert a.created_at == CREATED_UTC.replace(tzinfo=UTC) and at == a.created_at
    assert a.expires_at == EXPIRES_UTC.replace(tzinfo=UTC) and a.reviewed_at is None
    assert o.reported_at == REPORTED_UTC.replace(tzinfo=UTC)
    assert audit_at == AUDIT_AT_UTC.replace(tzinfo=UTC)
    assert all(v.tzinfo is UTC for v in (*a[:4], at, *o, audit_at))
    # the append-only log was not rewritten: the chain still verifies
    assert audit.verify(old_engine).ok

    if old_engine.dialect.name == "postgresql":
        cols = {c["name"]: c["type"] for c in sa.inspect(old_engine).get_columns("alerts")}
        assert cols["as_of"].timezone and cols["created_at"].timezone
        with old_engine.connect() as conn:  # what another PostgreSQL client sees: the instant, in UTC
            conn.exec_driver_sql("SET TIME ZONE 'UTC'")
            text = conn.exec_driver_sql("SELECT as_of::text, created_at::text FROM alerts").one()
        assert text == ("2026-10-31 16:00:00+00", "2026-11-01 08:15:30.123456+00")


def test_downgrade_gives_the_old_naive_values_back(old_engine):
    _seed_old_rows(old_engine)
    upgrade(old_engine)
    assert downgrade(old_engine, PREVIOUS) == PREVIOUS
    with old_engine.connect() as conn:
        a = conn.execute(sa.select(ALERTS.c.as_of, ALERTS.c.snapshot_time, ALERTS.c.created_at)).one()
        o = conn.execute(sa.select(OUTCOMES.c.alert_as_of, OUTCOMES.c.reported_at)).one()
    assert tuple(a) == (AS_OF_BJ, SNAPSHOT_BJ, CREATED_UTC)
    assert tuple(o) == (AS_OF_BJ, REPORTED_UTC)
    assert audit.verify(old_engine).ok


def test_a_new_alert_is_stored_and_read_back_as_aware_utc(old_engine):
    """After the migration the models write aware UTC and read aware UTC on both backends."""
    from serving.operations.alerts import AlertStore

    from .helpers import scored

    upgrade(old_engine)
    sp = scored("P-CLOCK")                     # times given as Beijing data time 2026-10-31 23:00
    store = AlertStore(old_engine, clock=lambda: datetime(2026, 11, 1, 8, 0, tzinfo=UTC))
    alert = store.get(store.ingest([sp])[0].alert_id)
    assert alert.snapshot_time == datetime(2026, 10, 31, 15, 0, tzinfo=UTC) == sp.snapshot_time
    assert alert.created_at == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
