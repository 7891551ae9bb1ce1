"""The local inbox adapter: writes the mini-program's backend store (``inbox_items``).

Exactly once per (alert x inbox identity): the item's ``delivery_key`` is the outbox idempotency key
and is unique, so a repeated send is a no-op that reports ``delivered``. When the inbox lives in the
same database as the outbox, the worker calls :meth:`send_in` with its own session so the item and
the outbox row's ``delivered`` mark commit together (a crash leaves neither); :meth:`send` opens its
own transaction (other databases, tests, the contract suite).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import Session, sessionmaker

from common.clock import utcnow
from serving.operations.alerts.models import InboxItem
from serving.operations.push.protocol import Delivery, DeliveryResult

__all__ = ["LocalInboxAdapter"]


def _insert(s: Session) -> Callable[..., Any]:
    """The dialect's ``insert`` (both have ``on_conflict_do_nothing``)."""
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


class LocalInboxAdapter:
    channel = "inbox"
    transactional = True

    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine)

    def send(self, delivery: Delivery) -> DeliveryResult:
        with self._sessions.begin() as s:
            return self.send_in(s, delivery)

    def retract(self, delivery: Delivery) -> DeliveryResult:
        with self._sessions.begin() as s:
            return self.retract_in(s, delivery)

    def send_in(self, s: Session, delivery: Delivery) -> DeliveryResult:
        # one statement: INSERT ... ON CONFLICT DO NOTHING RETURNING id (PostgreSQL and SQLite >= 3.35);
        # a conflict on the key or on (inbox, alert) means the item is already there
        values = dict(inbox_id=delivery.inbox_id, alert_id=delivery.alert_id, delivery_key=delivery.idempotency_key,
                      staff_id=delivery.staff_id, payload=delivery.payload, status="unread", created_at=utcnow())
        stmt = _insert(s)(InboxItem).values(**values).on_conflict_do_nothing().returning(InboxItem.id)
        new_id = s.execute(stmt).scalar_one_or_none()
        if new_id is not None:
            return DeliveryResult("delivered", "inbox item created", external_id=str(new_id))
        existing = s.scalar(sa.select(InboxItem.id).where(InboxItem.inbox_id == delivery.inbox_id,
                                                          InboxItem.alert_id == delivery.alert_id))
        return DeliveryResult("delivered", "already in the inbox (idempotent repeat)",
                              external_id=str(existing) if existing is not None else None)

    def send_batch_in(self, s: Session, deliveries: list[Delivery]) -> list[DeliveryResult]:
        """Many sends in one ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (the worker's fast path)."""
        if not deliveries:
            return []
        now = utcnow()
        rows = [dict(inbox_id=d.inbox_id, alert_id=d.alert_id, delivery_key=d.idempotency_key, staff_id=d.staff_id,
                     payload=d.payload, status="unread", created_at=now) for d in deliveries]
        stmt = _insert(s)(InboxItem).on_conflict_do_nothing().returning(InboxItem.delivery_key, InboxItem.id)
        created = dict(s.execute(stmt, rows).all())   # executemany -> SQLAlchemy's batched "insertmanyvalues"
        out = []
        for d in deliveries:
            if d.idempotency_key in created:
                created_id = str(created[d.idempotency_key])
                out.append(DeliveryResult("delivered", "inbox item created", external_id=created_id))
            else:
                out.append(self.send_in(s, d))  # already there: the single path finds and reports it
        return out

    def retract_in(self, s: Session, delivery: Delivery) -> DeliveryResult:
        status = delivery.payload.get("status", "withdrawn")
        key = delivery.payload.get("send_key") or delivery.idempotency_key.removesuffix(":retract")
        # an UPDATE always gives a CursorResult (with rowcount); Session.execute is typed as the general Result
        res = cast(CursorResult[Any], s.execute(sa.update(InboxItem).where(InboxItem.delivery_key == key,
                                                   InboxItem.status.not_in(["withdrawn", "expired"]))
                        .values(status=status, retracted_at=utcnow(), retract_reason=delivery.payload.get("reason"))))
        return DeliveryResult("delivered", "inbox item retracted" if res.rowcount else "nothing to retract")
