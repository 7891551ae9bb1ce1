"""The alert store as monitoring reads it: typed queries over the ORM models, no SQL strings.

A renamed or removed column breaks these queries at import or on first use, loudly, instead of
leaving a report silently empty. Every query takes the alerts *created* in ``[start, end)`` or, with
``by="as_of"``, the alerts whose score is *about* that period: ``as_of`` in ``(start, end]`` (a score as of
T reads the data before T; what a report on the data's own period wants when scoring runs later than the
data, as in the demo):

* :meth:`AlertReadModel.funnel_alerts` — one :class:`FunnelAlert` per alert with the time of each
  step it reached (reviewed, first delivered to an inbox, first acknowledged, outcome reported), so
  review and acknowledgement times come with it;
* :meth:`AlertReadModel.outcome_counts` — what cadres reported, by kind;
* :meth:`AlertReadModel.stale_items` — inbox items still unacknowledged past a threshold;
* :meth:`AlertReadModel.dead_letters` — dead-lettered sends;
* :func:`count_stages` — the funnel counted by any key: prefecture/county (with a lookup of each
  person's region, which lives with the data, not in the store) or category.

>>> # rm = AlertReadModel(engine)
>>> # alerts = rm.funnel_alerts(start, end)
>>> # by_category = count_stages(alerts, key=lambda a: a.category)
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Literal, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from serving.operations.alerts.models import Alert, AlertOutcome, Delivery, InboxItem

__all__ = ["STAGES", "FunnelAlert", "StageCounts", "OutcomeCount", "StaleItem", "DeadLetter", "AlertReadModel",
           "count_stages"]

#: The funnel's steps in order, with their Chinese labels.
STAGES: tuple[tuple[str, str], ...] = (("created", "生成"), ("reviewed", "已审核"), ("approved", "审核通过"),
                                       ("delivered", "已送达"), ("acknowledged", "已签收"), ("outcome", "已反馈结果"))

K = TypeVar("K", bound=Hashable)


def _hours(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier).total_seconds() / 3600


@dataclass(frozen=True)
class FunnelAlert:
    """One alert and how far it went."""

    id: int
    person_id: str
    level: str
    score: float | None
    categories: tuple[str, ...]
    urgent: bool
    source: str
    state: str
    created_at: datetime
    reviewed_at: datetime | None
    review_decision: str | None
    delivered_at: datetime | None       # the first inbox item for it
    acknowledged_at: datetime | None    # the first acknowledgement of one of its items
    outcome_reported: bool

    @property
    def category(self) -> str:
        """The first category (the funnel counts each alert once)."""
        return str(self.categories[0]) if self.categories else "unknown"

    @property
    def stages(self) -> dict[str, bool]:
        return {"created": True, "reviewed": self.reviewed_at is not None,
                "approved": self.review_decision == "approve",  # the store records approve | dismiss | escalate
                "delivered": self.delivered_at is not None, "acknowledged": self.acknowledged_at is not None,
                "outcome": self.outcome_reported}

    @property
    def review_hours(self) -> float | None:
        return _hours(self.reviewed_at, self.created_at)

    @property
    def ack_hours(self) -> float | None:
        """From the first delivery to the first acknowledgement."""
        return _hours(self.acknowledged_at, self.delivered_at)


@dataclass
class StageCounts:
    created: int = 0
    reviewed: int = 0
    approved: int = 0
    delivered: int = 0
    acknowledged: int = 0
    outcome: int = 0

    def add(self, alert: FunnelAlert) -> None:
        for stage, reached in alert.stages.items():
            if reached:
                setattr(self, stage, getattr(self, stage) + 1)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class OutcomeCount:
    kind: str
    kind_label: str
    count: int


@dataclass(frozen=True)
class StaleItem:
    alert_id: int
    inbox_id: str
    staff_id: str
    status: str
    created_at: datetime
    read_at: datetime | None


@dataclass(frozen=True)
class DeadLetter:
    id: int
    alert_id: int
    channel: str
    role: str
    inbox_id: str
    attempts: int
    dead_reason: str | None
    created_at: datetime
    finished_at: datetime | None


def count_stages(alerts: Iterable[FunnelAlert], key: Callable[[FunnelAlert], K | None]) -> dict[K, StageCounts]:
    """The funnel counted per ``key(alert)``; alerts whose key is ``None`` are left out. Keys sorted."""
    out: dict[K, StageCounts] = {}
    for a in alerts:
        k = key(a)
        if k is None:
            continue
        out.setdefault(k, StageCounts()).add(a)
    return {k: out[k] for k in sorted(out)}  # type: ignore[type-var]


class AlertReadModel:
    """Read-only queries of the alert store for monitoring and reports (any SQLAlchemy engine)."""

    def __init__(self, engine: Engine, by: Literal["created", "as_of"] = "created"):
        self.engine = engine
        self._time = Alert.as_of if by == "as_of" else Alert.created_at

    def _in(self, start: datetime, end: datetime):
        if self._time is Alert.as_of:   # a score as of T is about the data before T: (start, end]
            return sa.and_(self._time > start, self._time <= end)
        return sa.and_(self._time >= start, self._time < end)

    def _created_in(self, start: datetime, end: datetime):
        return sa.select(Alert.id).where(self._in(start, end))

    def funnel_alerts(self, start: datetime, end: datetime) -> list[FunnelAlert]:
        """Every alert created in ``[start, end)``, oldest first, with the steps it reached."""
        items = (sa.select(InboxItem.alert_id,
                           sa.func.min(InboxItem.created_at).label("delivered_at"),
                           sa.func.min(InboxItem.acknowledged_at).label("acknowledged_at"))
                 .group_by(InboxItem.alert_id).subquery("items"))
        reported = sa.exists().where(AlertOutcome.alert_id == Alert.id)
        q = (sa.select(Alert.id, Alert.person_id, Alert.level, Alert.score, Alert.categories, Alert.urgent,
                       Alert.source, Alert.state, Alert.created_at, Alert.reviewed_at, Alert.review_decision,
                       items.c.delivered_at, items.c.acknowledged_at, reported.label("outcome_reported"))
             .outerjoin(items, items.c.alert_id == Alert.id)
             .where(self._in(start, end))
             .order_by(Alert.created_at, Alert.id))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [FunnelAlert(id=int(r.id), person_id=str(r.person_id), level=r.level, score=r.score,
                            categories=tuple(r.categories or ()), urgent=bool(r.urgent), source=r.source,
                            state=r.state, created_at=r.created_at, reviewed_at=r.reviewed_at,
                            review_decision=r.review_decision, delivered_at=_dt(r.delivered_at),
                            acknowledged_at=_dt(r.acknowledged_at), outcome_reported=bool(r.outcome_reported))
                for r in rows]

    def outcome_counts(self, start: datetime, end: datetime) -> list[OutcomeCount]:
        """Outcome reports on the alerts created in ``[start, end)``, by kind (most first)."""
        n = sa.func.count(AlertOutcome.id).label("n")
        q = (sa.select(AlertOutcome.kind, AlertOutcome.kind_label, n)
             .where(AlertOutcome.alert_id.in_(self._created_in(start, end)))
             .group_by(AlertOutcome.kind, AlertOutcome.kind_label).order_by(n.desc(), AlertOutcome.kind))
        with self.engine.connect() as conn:
            return [OutcomeCount(r.kind, r.kind_label, int(r.n)) for r in conn.execute(q)]

    def stale_items(self, start: datetime, end: datetime, *, now: datetime,
                    older_than: timedelta = timedelta(days=7)) -> list[StaleItem]:
        """Inbox items of those alerts, unread or read but not acknowledged, received before ``now - older_than``."""
        q = (sa.select(InboxItem.alert_id, InboxItem.inbox_id, InboxItem.staff_id, InboxItem.status,
                       InboxItem.created_at, InboxItem.read_at)
             .where(InboxItem.alert_id.in_(self._created_in(start, end)), InboxItem.acknowledged_at.is_(None),
                    InboxItem.status.in_(["unread", "read"]), InboxItem.created_at < now - older_than)
             .order_by(InboxItem.created_at, InboxItem.id))
        with self.engine.connect() as conn:
            return [StaleItem(int(r.alert_id), r.inbox_id, r.staff_id, r.status, r.created_at, r.read_at)
                    for r in conn.execute(q)]

    def dead_letters(self, start: datetime, end: datetime) -> list[DeadLetter]:
        """Dead-lettered sends of those alerts (retractions are not counted)."""
        q = (sa.select(Delivery.id, Delivery.alert_id, Delivery.channel, Delivery.role, Delivery.inbox_id,
                       Delivery.attempts, Delivery.dead_reason, Delivery.created_at, Delivery.finished_at)
             .where(Delivery.alert_id.in_(self._created_in(start, end)), Delivery.kind == "send",
                    Delivery.status == "dead")
             .order_by(Delivery.id))
        with self.engine.connect() as conn:
            return [DeadLetter(int(r.id), int(r.alert_id), r.channel, r.role, r.inbox_id, int(r.attempts or 0),
                               r.dead_reason, r.created_at, r.finished_at) for r in conn.execute(q)]


def _dt(v) -> datetime | None:
    """Aggregates (``min``) come back as strings on SQLite: read them back as datetimes."""
    if v is None or isinstance(v, datetime):
        return v
    return datetime.fromisoformat(str(v))
