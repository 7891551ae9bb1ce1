"""AlertStore: the alert lifecycle on a SQL database (SQLite by default, PostgreSQL in production).

>>> # store = AlertStore.open("sqlite:///weimeng-data/weimeng.db", directory=Directory.from_event_store(es))
>>> # results = store.ingest(scored)                        # or serving.operations.alerts.ingest(store, scored)
>>> # store.approve(results[0].alert_id, by="审核民警A", reason="多次报警且有威胁言语")
>>> # ... `weimeng push-worker` delivers; cadres acknowledge and report in the inbox ...

Every state change goes through :mod:`serving.operations.alerts.transitions` (which checks
:mod:`serving.operations.alerts.lifecycle`) and leaves an ``alert_events`` row with actor and reason.
Approval writes the outbox rows (one per recipient x channel) in the same transaction that moves
the alert to ``queued``. Withdrawal and expiry cancel unsent rows and write
retraction rows for what was already delivered.

A caller that must write something of its own in a decision's transaction (the console's audit
entry) opens a unit of work::

    with store.unit_of_work() as uow:
        view = uow.review(alert_id, "approve", by=actor, reason=reason)
        audit.record(uow.session, actor, "case.decide", f"alert:{alert_id}", detail)

Inbox tokens belong to the inbox (:mod:`serving.operations.inbox.tokens`).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import Session, sessionmaker

from common.clock import utcnow
from common.records import ScoredPerson
from serving.operations.alerts import db as _db
from serving.operations.alerts.errors import (
    AlertNotFound,
    DeliveryNotFound,
    InvalidInput,
    InvalidTransition,
    ReasonRequired,
    RoutingError,
)
from serving.operations.alerts.ingest import _check, ingest_one
from serving.operations.alerts.lifecycle import OPEN, REVIEW_DECISIONS
from serving.operations.alerts.models import Alert, AlertEvent, AlertOutcome, Delivery, RoutingGap
from serving.operations.alerts.payload import build_payload
from serving.operations.alerts.policy import AlertPolicy
from serving.operations.alerts.routing import Directory, Route
from serving.operations.alerts.transitions import record_event, transition
from serving.operations.alerts.views import AlertView, DeliveryView, GapView, IngestResult, to_view
from serving.operations.alerts.watch import WatchReport, record_scores

__all__ = ["AlertStore", "UnitOfWork", "send_key", "retract_key"]

INGEST_CHUNK = 500


def send_key(alert_id: int, inbox_id: str, channel: str) -> str:
    """The idempotency key of one (alert x recipient x channel) send."""
    return f"a{alert_id}:{channel}:{inbox_id}"


def retract_key(alert_id: int, inbox_id: str, channel: str) -> str:
    return f"{send_key(alert_id, inbox_id, channel)}:retract"


def _reason(reason: str | None, what: str) -> str:
    if reason is None or not str(reason).strip():
        raise ReasonRequired(f"{what}需要填写理由 / a reason is required to {what}; give reason='...'.")
    return str(reason).strip()


class AlertStore:
    """The alert store. Construction is cheap; :meth:`open` checks the schema is migrated."""

    def __init__(self, engine: Engine, *, policy: AlertPolicy | None = None, directory: Directory | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.policy = policy or AlertPolicy()
        self.directory = directory
        self.clock = clock
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str | None = None, **kwargs) -> AlertStore:
        """Open the store at ``url`` (default: ``database_url_from_env()``) and check its schema."""
        engine = _db.make_engine(url or _db.database_url_from_env())
        _db.require_current(engine)
        return cls(engine, **kwargs)

    # -- ingest ----------------------------------------------------------------------------------
    def ingest(self, scored_people: Iterable[ScoredPerson]) -> list[IngestResult]:
        """See :func:`serving.operations.alerts.ingest`. Validates everything first, then writes in chunks."""
        people = list(scored_people)
        for sp in people:
            _check(sp)
        out: list[IngestResult] = []
        for start in range(0, len(people), INGEST_CHUNK):
            with self.sessions.begin() as s:
                now = self.clock()
                out.extend(ingest_one(s, sp, policy=self.policy, now=now) for sp in people[start:start + INGEST_CHUNK])
        return out

    # -- reads -----------------------------------------------------------------------------------
    def record_watch(self, scored_people: Iterable[ScoredPerson]) -> WatchReport:
        """Keep the watch list (关注名单) and the county budgets current with a scoring run (all people
        scored, not only the flagged ones; see :mod:`serving.operations.alerts.watch`)."""
        return record_scores(self.engine, list(scored_people), now=self.clock())

    def get(self, alert_id: int) -> AlertView:
        with self.sessions() as s:
            return to_view(AlertView, _load(s, alert_id, lock=False))

    def list(self, *, state: str | Sequence[str] | None = None, person_id: str | None = None,
             limit: int = 1000) -> list[AlertView]:
        q = sa.select(Alert)
        if state is not None:
            q = q.where(Alert.state.in_([state] if isinstance(state, str) else list(state)))
        if person_id is not None:
            q = q.where(Alert.person_id == person_id)
        with self.sessions() as s:
            return [to_view(AlertView, a) for a in s.scalars(q.order_by(Alert.id).limit(limit))]

    def review_queue(self, limit: int = 200) -> builtins.list[AlertView]:
        """Alerts waiting for a decision: urgent first, then red > orange > yellow, oldest first."""
        rank = sa.case({"red": 3, "orange": 2, "yellow": 1}, value=Alert.level)
        q = (sa.select(Alert).where(Alert.state.in_(["created", "escalated"]))
             .order_by(Alert.urgent.desc(), rank.desc(), Alert.created_at, Alert.id).limit(limit))
        with self.sessions() as s:
            return [to_view(AlertView, a) for a in s.scalars(q)]

    def history(self, alert_id: int) -> builtins.list[dict]:
        with self.sessions() as s:
            _load(s, alert_id, lock=False)
            rows = s.scalars(sa.select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id))
            return [{"at": e.at, "action": e.action, "from": e.from_state, "to": e.to_state, "actor": e.actor,
                     "reason": e.reason, "detail": e.detail} for e in rows]

    def deliveries(self, alert_id: int | None = None, *, status: str | Sequence[str] | None = None,
                   kind: str | None = None) -> builtins.list[DeliveryView]:
        q = sa.select(Delivery)
        if alert_id is not None:
            q = q.where(Delivery.alert_id == alert_id)
        if status is not None:
            q = q.where(Delivery.status.in_([status] if isinstance(status, str) else list(status)))
        if kind is not None:
            q = q.where(Delivery.kind == kind)
        with self.sessions() as s:
            return [to_view(DeliveryView, d) for d in s.scalars(q.order_by(Delivery.id))]

    def dead_letters(self) -> builtins.list[DeliveryView]:
        return self.deliveries(status="dead")

    def routing_gaps(self, since: datetime | None = None) -> builtins.list[GapView]:
        q = sa.select(RoutingGap).order_by(RoutingGap.id)
        if since is not None:
            q = q.where(RoutingGap.created_at >= since)
        with self.sessions() as s:
            return [to_view(GapView, g) for g in s.scalars(q)]

    def outcome_labels(self):
        """The ``alert_outcomes`` table as a DataFrame (one row per report; training takes the latest)."""
        import pandas as pd

        with self.engine.connect() as conn:
            return pd.read_sql(sa.select(AlertOutcome).order_by(AlertOutcome.id), conn)

    # -- units of work ---------------------------------------------------------------------------
    @contextmanager
    def unit_of_work(self, *, now: datetime | None = None) -> Iterator[UnitOfWork]:
        """One transaction for several operations and the caller's own writes (e.g. an audit entry).

        Everything done through the yielded :class:`UnitOfWork` and its ``session`` commits together
        when the block ends, or rolls back together when it raises. An approval that could reach
        nobody still records its routing gaps, in a transaction of their own.
        """
        try:
            with self.sessions.begin() as s:
                yield UnitOfWork(self, s, now or self.clock())
        except _NoRecipients as exc:
            self._record_gaps(exc.route, exc.alert_id)
            raise

    # -- review ----------------------------------------------------------------------------------
    def review(self, alert_id: int, decision: str, *, by: str, reason: str) -> AlertView:
        """``decision`` is ``approve``, ``dismiss`` or ``escalate``; a reason is always required."""
        with self.unit_of_work() as uow:
            return uow.review(alert_id, decision, by=by, reason=reason)

    def dismiss(self, alert_id: int, *, by: str, reason: str) -> AlertView:
        return self.review(alert_id, "dismiss", by=by, reason=reason)

    def escalate(self, alert_id: int, *, by: str, reason: str) -> AlertView:
        return self.review(alert_id, "escalate", by=by, reason=reason)

    def approve(self, alert_id: int, *, by: str, reason: str) -> AlertView:
        """Approve and queue: route, build payloads and write the outbox in the approval's transaction.

        Raises :class:`RoutingError` (and changes nothing but the recorded gaps) when nobody at all can
        be reached; a grid without staff that falls back to its township desk is recorded as a gap.
        """
        with self.unit_of_work() as uow:
            return uow.approve(alert_id, by=by, reason=reason)

    # -- retire ----------------------------------------------------------------------------------
    def withdraw(self, alert_id: int, *, by: str, reason: str) -> AlertView:
        """Withdraw an open alert; delivered inbox items are retracted through the outbox."""
        with self.unit_of_work() as uow:
            return uow.withdraw(alert_id, by=by, reason=reason)

    def close(self, alert_id: int, *, by: str, reason: str) -> AlertView:
        with self.unit_of_work() as uow:
            return uow.close(alert_id, by=by, reason=reason)

    def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """Expire open alerts past ``expires_at``; close alerts whose outcome is older than the policy."""
        now = now or self.clock()
        with self.sessions() as s:
            due = list(s.scalars(sa.select(Alert.id).where(
                Alert.state.in_(sorted(OPEN - {"outcome_reported"})), Alert.expires_at <= now)))
            closable = list(s.scalars(sa.select(Alert.id).where(
                Alert.state == "outcome_reported",
                Alert.updated_at <= now - timedelta(days=self.policy.close_after_outcome_days))))
        expired = closed = 0
        for alert_id in due:
            try:
                with self.unit_of_work(now=now) as uow:
                    uow.retire(alert_id, "expired", by="system:sweep", reason="超过有效期 / past expiry")
                expired += 1
            except InvalidTransition:
                pass  # moved on meanwhile
        for alert_id in closable:
            try:
                self.close(alert_id, by="system:sweep", reason="反馈后自动办结 / closed after outcome")
                closed += 1
            except InvalidTransition:
                pass
        return {"expired": expired, "closed": closed}

    # -- dead letters ----------------------------------------------------------------------------
    def requeue(self, delivery_id: int, *, by: str, reason: str) -> DeliveryView:
        """Put a dead-lettered delivery back in the queue (after the cause was fixed)."""
        with self.unit_of_work() as uow:
            return uow.requeue(delivery_id, by=by, reason=reason)

    # -- helpers ---------------------------------------------------------------------------------
    def _record_gaps(self, route: Route, alert_id: int) -> None:
        with self.sessions.begin() as s:  # the approval rolled back; the gap is still worth reporting
            now = self.clock()
            for gap in route.gaps:
                s.add(RoutingGap(alert_id=alert_id, place=gap.place, grid_id=gap.grid_id,
                                 township_code=gap.township_code, kind=gap.kind, detail=gap.detail,
                                 created_at=now))


def _load(s: Session, alert_id: int, lock: bool = True) -> Alert:
    alert = s.get(Alert, alert_id, with_for_update={"key_share": True} if lock else None)
    if alert is None:
        raise AlertNotFound(f"预警不存在 / alert {alert_id} not found.")
    return alert


class UnitOfWork:
    """The store's decisions inside one open transaction (from :meth:`AlertStore.unit_of_work`).

    ``session`` is that transaction's SQLAlchemy session: whatever the caller writes through it (an
    audit entry, say) commits or rolls back with the decisions. ``now`` is the one time stamped on
    everything done in it.

    >>> # with store.unit_of_work() as uow:
    >>> #     view = uow.review(alert_id, "approve", by="审核民警A", reason="多次报警且有威胁言语")
    >>> #     audit.record(uow.session, "审核民警A", "case.decide", f"alert:{alert_id}", {...})
    """

    def __init__(self, store: AlertStore, session: Session, now: datetime):
        self.store = store
        self.session = session
        self.now = now

    # -- review ----------------------------------------------------------------------------------
    def review(self, alert_id: int, decision: str, *, by: str, reason: str) -> AlertView:
        """``decision`` is ``approve``, ``dismiss`` or ``escalate``; a reason is always required."""
        if decision not in REVIEW_DECISIONS:
            raise InvalidInput(f"decision={decision!r}; allowed: {', '.join(REVIEW_DECISIONS)}.")
        if decision == "approve":
            return self.approve(alert_id, by=by, reason=reason)
        reason = _reason(reason, decision)
        s, now = self.session, self.now
        alert = _load(s, alert_id)
        transition(s, alert, REVIEW_DECISIONS[decision], actor=by, now=now, reason=reason, action=decision)
        alert.review_decision, alert.reviewed_by, alert.review_reason, alert.reviewed_at = decision, by, reason, now
        if decision == "dismiss":
            alert.closed_at = now
        return to_view(AlertView, alert)

    def dismiss(self, alert_id: int, *, by: str, reason: str) -> AlertView:
        return self.review(alert_id, "dismiss", by=by, reason=reason)

    def escalate(self, alert_id: int, *, by: str, reason: str) -> AlertView:
        return self.review(alert_id, "escalate", by=by, reason=reason)

    def approve(self, alert_id: int, *, by: str, reason: str) -> AlertView:
        """See :meth:`AlertStore.approve`; the outbox rows are written in this transaction."""
        reason = _reason(reason, "approve")
        store = self.store
        if store.directory is None:
            raise RoutingError("没有人员目录，无法分派 / the store has no Directory to route with; construct "
                               "AlertStore(..., directory=Directory.from_event_store(store)).")
        s, now = self.session, self.now
        alert = _load(s, alert_id)
        transition(s, alert, "approved", actor=by, now=now, reason=reason, action="approve")
        route = store.directory.route(alert.person_id)
        if not route.recipients:
            raise _NoRecipients(route, alert_id)
        alert.review_decision, alert.reviewed_by, alert.review_reason, alert.reviewed_at = "approve", by, reason, now
        alert.deadline_at = now + store.policy.deadline(alert.level)
        s.flush()
        for gap in route.gaps:
            s.add(RoutingGap(alert_id=alert.id, place=gap.place, grid_id=gap.grid_id,
                             township_code=gap.township_code, kind=gap.kind, detail=gap.detail, created_at=now))
        n = 0
        for rec in route.recipients:
            payload = build_payload(alert=alert, recipient=rec, places=route.places, policy=store.policy).to_dict()
            for channel in store.policy.channels:
                s.add(Delivery(alert_id=alert.id, kind="send", channel=channel, inbox_id=rec.inbox_id,
                               staff_id=rec.staff_id, role=rec.role, grid_id=rec.grid_id, places=list(rec.places),
                               fallback=rec.fallback, idempotency_key=send_key(alert.id, rec.inbox_id, channel),
                               payload=payload, status="pending", attempts=0, next_attempt_at=now, created_at=now))
                n += 1
        transition(s, alert, "queued", actor=by, now=now, action="queue",
                   detail={"deliveries": n, "recipients": len(route.recipients), "gaps": len(route.gaps)})
        return to_view(AlertView, alert)

    # -- retire ----------------------------------------------------------------------------------
    def withdraw(self, alert_id: int, *, by: str, reason: str) -> AlertView:
        """Withdraw an open alert; delivered inbox items are retracted through the outbox."""
        return self.retire(alert_id, "withdrawn", by=by, reason=_reason(reason, "withdraw"))

    def close(self, alert_id: int, *, by: str, reason: str) -> AlertView:
        reason = _reason(reason, "close")
        s, now = self.session, self.now
        alert = _load(s, alert_id)
        transition(s, alert, "closed", actor=by, now=now, reason=reason, action="close")
        alert.closed_at = now
        return to_view(AlertView, alert)

    def retire(self, alert_id: int, target: str, *, by: str, reason: str) -> AlertView:
        """Move an open alert to ``withdrawn`` or ``expired``: cancel unsent rows, queue retractions."""
        s, now = self.session, self.now
        # Deliveries first, alert second: the worker locks deliveries then the alert, so taking the
        # alert row first here could deadlock against it on PostgreSQL.
        cancelled = cast(CursorResult, s.execute(
            sa.update(Delivery).where(Delivery.alert_id == alert_id, Delivery.kind == "send",
                                      Delivery.status == "pending")
            .values(status="cancelled", finished_at=now, last_detail=f"{target}: {reason}")
        )).rowcount
        alert = _load(s, alert_id)
        transition(s, alert, target, actor=by, now=now, reason=reason,
                   action="withdraw" if target == "withdrawn" else "expire")
        alert.closed_at = now
        delivered = s.scalars(sa.select(Delivery).where(Delivery.alert_id == alert_id, Delivery.kind == "send",
                                                        Delivery.status == "delivered")).all()
        for d in delivered:
            s.add(Delivery(alert_id=alert_id, kind="retract", channel=d.channel, inbox_id=d.inbox_id,
                           staff_id=d.staff_id, role=d.role, grid_id=d.grid_id, places=d.places, fallback=d.fallback,
                           idempotency_key=retract_key(alert_id, d.inbox_id, d.channel),
                           payload={"alert_id": alert_id, "status": target, "reason": reason,
                                    "send_key": d.idempotency_key},
                           status="pending", attempts=0, next_attempt_at=now, created_at=now))
        record_event(s, alert_id, action="retract_queued", actor=by, now=now,
                     detail={"cancelled": cancelled, "retractions": len(delivered)})
        return to_view(AlertView, alert)

    # -- dead letters ----------------------------------------------------------------------------
    def requeue(self, delivery_id: int, *, by: str, reason: str) -> DeliveryView:
        """Put a dead-lettered delivery back in the queue (after the cause was fixed)."""
        reason = _reason(reason, "requeue")
        s, now = self.session, self.now
        d = s.get(Delivery, delivery_id, with_for_update=True)
        if d is None:
            raise DeliveryNotFound(f"delivery {delivery_id} not found.")
        if d.status != "dead":
            raise InvalidTransition(f"delivery {delivery_id} is {d.status!r}; only 'dead' deliveries can be "
                                    f"requeued.", current=d.status, target="pending")
        d.status, d.attempts, d.next_attempt_at, d.dead_reason = "pending", 0, now, None
        record_event(s, d.alert_id, action="requeue", actor=by, now=now, reason=reason,
                     detail={"delivery_id": delivery_id})
        return to_view(DeliveryView, d)


class _NoRecipients(RoutingError):
    def __init__(self, route: Route, alert_id: int):
        gaps = "; ".join(g.detail for g in route.gaps) or "no places"
        super().__init__(f"无可送达人员 / nobody can be reached for person {route.person_id}: {gaps}. "
                         f"Fix the staff directory (active staff with inbox ids, or a township fallback desk).")
        self.route = route
        self.alert_id = alert_id
