"""The one place that changes an alert's state: checks the lifecycle and writes an event row.

Public for every path that moves alerts inside its own transaction: the store (review, approval,
retirement), the push worker (``queued -> delivered``) and the inbox (acknowledgement, outcome).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from serving.operations.alerts.lifecycle import check_transition
from serving.operations.alerts.models import Alert, AlertEvent

__all__ = ["transition", "advance_if", "advance_many_if", "record_event"]


def record_event(session: Session, alert_id: int, *, action: str, actor: str, now: datetime, reason: str | None = None,
                 from_state: str | None = None, to_state: str | None = None, detail: dict | None = None) -> None:
    session.add(AlertEvent(alert_id=alert_id, at=now, action=action, from_state=from_state, to_state=to_state,
                           actor=actor, reason=reason, detail=detail or {}))


def transition(session: Session, alert: Alert, target: str, *, actor: str, now: datetime, reason: str | None = None,
               action: str | None = None, detail: dict | None = None) -> None:
    """Move a loaded (and, on PostgreSQL, row-locked) alert to ``target`` or raise InvalidTransition."""
    check_transition(alert.state, target, alert_id=alert.id)
    record_event(session, alert.id, action=action or target, actor=actor, now=now, reason=reason,
                 from_state=alert.state, to_state=target, detail=detail)
    alert.state = target
    alert.updated_at = now


def advance_if(session: Session, alert_id: int, expected: str, target: str, *, actor: str, now: datetime,
               reason: str | None = None, detail: dict | None = None) -> bool:
    """Compare-and-set for concurrent paths (workers, inbox): move only if the state is still ``expected``.

    Returns False (and changes nothing) when another path moved the alert first.
    """
    check_transition(expected, target, alert_id=alert_id)
    # an UPDATE always gives a CursorResult (with rowcount); Session.execute is typed as the general Result
    res = cast(CursorResult[Any], session.execute(sa.update(Alert).where(Alert.id == alert_id,
                                                                       Alert.state == expected)
                                                  .values(state=target, updated_at=now)))
    if res.rowcount != 1:
        return False
    record_event(session, alert_id, action=target, actor=actor, now=now, reason=reason, from_state=expected,
                 to_state=target, detail=detail)
    return True


def advance_many_if(session: Session, alert_ids, expected: str, target: str, *, actor: str, now: datetime,
                    reason: str | None = None) -> list[int]:
    """:func:`advance_if` for many alerts in three statements; rows are locked in id order (no deadlocks
    between workers). Returns the ids that moved."""
    check_transition(expected, target)
    ids = sorted(set(alert_ids))
    if not ids:
        return []
    moved = list(session.scalars(
        sa.select(Alert.id).where(Alert.id.in_(ids), Alert.state == expected).order_by(Alert.id)
        .with_for_update(key_share=True)))
    if moved:
        session.execute(sa.update(Alert).where(Alert.id.in_(moved)).values(state=target, updated_at=now))
        session.execute(sa.insert(AlertEvent), [
            dict(alert_id=i, at=now, action=target, from_state=expected, to_state=target, actor=actor, reason=reason,
                 detail={}) for i in moved])
    return moved
