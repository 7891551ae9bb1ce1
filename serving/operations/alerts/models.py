"""SQLAlchemy 2 models of the alert store (the schema itself is owned by the Alembic migrations).

Tables (every time is aware UTC: a ``timestamptz`` column on PostgreSQL, see :class:`UtcDateTime`):

* ``alerts`` — one row per alert: score, level, categories, explanation (JSON), versions, snapshot
  time, source, lifecycle state, the review decision (who, why, when), expiry and deadline.
* ``alert_events`` — every state change and review decision with actor and reason (the future
  append-only audit log hooks in here).
* ``deliveries`` — the transactional outbox: one row per (alert x recipient x channel) send, plus
  one per retraction; unique ``idempotency_key``; status, attempts, backoff, dead-letter reason.
* ``inbox_items`` — the local inbox (the mini-program's backend store): exactly one item per
  (alert x inbox identity), unique on ``delivery_key``.
* ``alert_outcomes`` — what cadres reported (已走访 / 已化解 / 已转交 / 误报), with the alert's score,
  level and versions copied in, so training can read labels without joins (see docs/alerts.md).
* ``inbox_tokens`` — per-cadre bearer tokens, stored only as SHA-256 hashes.
* ``routing_gaps`` — places where a grid had no reachable staff (fallback used, or nobody at all).
* ``watch_entries`` — the watch list (关注名单): people above the watch bar who are not alerts.
* ``county_budgets`` — each county's alert budget per scoring run, as scoring last reported it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.clock import UTC, to_utc

__all__ = ["Base", "Alert", "AlertEvent", "Delivery", "InboxItem", "AlertOutcome", "InboxToken", "RoutingGap",
           "WatchEntry", "CountyBudget", "VERSION_TABLE", "UtcDateTime"]

#: Alembic's version table for this store (not ``alembic_version``, which MLflow uses in a shared database).
VERSION_TABLE = "weimeng_alerts_alembic_version"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UtcDateTime(sa.types.TypeDecorator):
    """A point in time, aware UTC both ways: ``timestamptz`` on PostgreSQL, the UTC wall time on SQLite.

    Values written are converted to UTC (a naive value is taken to be UTC already, as the store's
    legacy rows are); values read are aware UTC on every backend, so Python comparisons with
    :func:`common.clock.utcnow` work the same on SQLite and PostgreSQL.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = to_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict: sa.JSON, list: sa.JSON}


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(sa.String(40), index=True)
    state: Mapped[str] = mapped_column(sa.String(20), index=True)
    level: Mapped[str] = mapped_column(sa.String(10))
    score: Mapped[float | None] = mapped_column(sa.Float)
    categories: Mapped[list] = mapped_column(sa.JSON)
    reason_key: Mapped[str] = mapped_column(sa.String(200))
    explanation: Mapped[dict | None] = mapped_column(sa.JSON)
    ruleset_version: Mapped[str] = mapped_column(sa.String(64))
    model_version: Mapped[str | None] = mapped_column(sa.String(64))
    catalog_version: Mapped[str | None] = mapped_column(sa.String(64))
    as_of: Mapped[datetime] = mapped_column(UtcDateTime)
    snapshot_time: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(sa.String(10))
    urgent: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    extra: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    supersedes_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("alerts.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    review_decision: Mapped[str | None] = mapped_column(sa.String(20))
    reviewed_by: Mapped[str | None] = mapped_column(sa.String(100))
    review_reason: Mapped[str | None] = mapped_column(sa.Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (sa.Index("ix_alerts_person_reason_created", "person_id", "reason_key", "created_at"),)


class AlertEvent(Base):
    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("alerts.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    action: Mapped[str] = mapped_column(sa.String(30))
    from_state: Mapped[str | None] = mapped_column(sa.String(20))
    to_state: Mapped[str | None] = mapped_column(sa.String(20))
    actor: Mapped[str] = mapped_column(sa.String(100))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict)


class Delivery(Base):
    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("alerts.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))            # send | retract
    channel: Mapped[str] = mapped_column(sa.String(20))
    inbox_id: Mapped[str] = mapped_column(sa.String(128))
    staff_id: Mapped[str] = mapped_column(sa.String(40))
    role: Mapped[str] = mapped_column(sa.String(30))
    grid_id: Mapped[str | None] = mapped_column(sa.String(40))
    places: Mapped[list] = mapped_column(sa.JSON)              # ["hukou", "residence"]
    fallback: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    payload: Mapped[dict] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(20))         # pending|delivered|dead|unsubscribed|cancelled
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_status: Mapped[str | None] = mapped_column(sa.String(20))
    last_detail: Mapped[str | None] = mapped_column(sa.Text)
    dead_reason: Mapped[str | None] = mapped_column(sa.Text)
    external_id: Mapped[str | None] = mapped_column(sa.String(200))
    worker_id: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (sa.Index("ix_deliveries_due", "status", "next_attempt_at"),)


class InboxItem(Base):
    __tablename__ = "inbox_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    inbox_id: Mapped[str] = mapped_column(sa.String(128))
    alert_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("alerts.id"), index=True)
    delivery_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    staff_id: Mapped[str] = mapped_column(sa.String(40))
    payload: Mapped[dict] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(20))         # unread|read|acknowledged|reported|withdrawn|expired
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    retracted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    retract_reason: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (sa.UniqueConstraint("inbox_id", "alert_id", name="uq_inbox_items_inbox_alert"),
                      sa.Index("ix_inbox_items_inbox_status", "inbox_id", "status"))


class AlertOutcome(Base):
    __tablename__ = "alert_outcomes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("alerts.id"), index=True)
    person_id: Mapped[str] = mapped_column(sa.String(40), index=True)
    inbox_id: Mapped[str] = mapped_column(sa.String(128))
    staff_id: Mapped[str] = mapped_column(sa.String(40))
    kind: Mapped[str] = mapped_column(sa.String(20))           # visited|resolved|referred|false_alarm
    kind_label: Mapped[str] = mapped_column(sa.String(20))
    note: Mapped[str | None] = mapped_column(sa.Text)
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime)
    alert_level: Mapped[str] = mapped_column(sa.String(10))
    alert_score: Mapped[float | None] = mapped_column(sa.Float)
    alert_categories: Mapped[list] = mapped_column(sa.JSON)
    alert_as_of: Mapped[datetime] = mapped_column(UtcDateTime)
    ruleset_version: Mapped[str] = mapped_column(sa.String(64))
    model_version: Mapped[str | None] = mapped_column(sa.String(64))
    snapshot_time: Mapped[datetime] = mapped_column(UtcDateTime)


class InboxToken(Base):
    __tablename__ = "inbox_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    inbox_id: Mapped[str] = mapped_column(sa.String(128), index=True)
    staff_id: Mapped[str | None] = mapped_column(sa.String(40))
    label: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RoutingGap(Base):
    __tablename__ = "routing_gaps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("alerts.id"), index=True)
    place: Mapped[str] = mapped_column(sa.String(30))
    grid_id: Mapped[str | None] = mapped_column(sa.String(40))
    township_code: Mapped[str | None] = mapped_column(sa.String(12))
    kind: Mapped[str] = mapped_column(sa.String(30))           # fallback_used | unreachable | unknown_address
    detail: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WatchEntry(Base):
    """One person on the watch list (关注名单): above the watch bar, not an alert (outside the county's
    budget or below the alert bar). Replaced by the person's next score; removed when they become an
    alert or fall below the bar (see :mod:`serving.operations.alerts.watch`)."""

    __tablename__ = "watch_entries"

    person_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    county_code: Mapped[str | None] = mapped_column(sa.String(12), index=True)
    probability: Mapped[float] = mapped_column(sa.Float)
    as_of: Mapped[datetime] = mapped_column(UtcDateTime)
    model_version: Mapped[str | None] = mapped_column(sa.String(64))
    thresholds_version: Mapped[str | None] = mapped_column(sa.String(64))
    summary: Mapped[str | None] = mapped_column(sa.Text)
    #: the plain reasons a cadre reads in the weekly digest (rule texts first, then risk-raising factors; scrubbed)
    reasons: Mapped[list[str] | None] = mapped_column(sa.JSON)
    listed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CountyBudget(Base):
    """A county's alert budget per scoring run, as the thresholds of the scoring model version state it."""

    __tablename__ = "county_budgets"

    county_code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    budget_per_run: Mapped[int] = mapped_column(sa.Integer)
    thresholds_version: Mapped[str | None] = mapped_column(sa.String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
