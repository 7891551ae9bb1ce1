"""The alert lifecycle: one state machine, used by every code path that changes an alert's state.

::

    created ──review──► approved ──(same transaction)──► queued ──worker──► delivered
       │  ▲                                                                    │
       │  └─ escalated (a higher reviewer decides: approve or dismiss)         ▼
       └──► dismissed                                   acknowledged ◄── cadre acknowledges
                                                            │
                                               outcome_reported ──► closed

    Any open state before ``outcome_reported`` may also go to ``expired`` (the deadline passed)
    or ``withdrawn`` (a reviewer retracted it; delivered inbox items are retracted).

Terminal states: dismissed, closed, expired, withdrawn.

>>> check_transition("created", "approved")
>>> check_transition("closed", "approved")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
serving.operations.alerts.errors.InvalidTransition: 预警状态不允许此操作 / cannot move alert ... none (terminal state).
"""

from __future__ import annotations

from typing import Literal

from serving.operations.alerts.errors import InvalidTransition

__all__ = [
    "State",
    "STATES",
    "TRANSITIONS",
    "TERMINAL",
    "OPEN",
    "PUSHED",
    "REVIEW_DECISIONS",
    "STATE_LABELS",
    "check_transition",
    "allowed_from",
]

State = Literal["created", "escalated", "approved", "dismissed", "queued", "delivered", "acknowledged",
                "outcome_reported", "closed", "expired", "withdrawn"]

STATE_LABELS: dict[str, str] = {
    "created": "待审核",
    "escalated": "已上报复核",
    "approved": "已批准",
    "dismissed": "已驳回",
    "queued": "待推送",
    "delivered": "已送达",
    "acknowledged": "已签收",
    "outcome_reported": "已反馈",
    "closed": "已办结",
    "expired": "已过期",
    "withdrawn": "已撤回",
}
STATES: tuple[str, ...] = tuple(STATE_LABELS)

_RETIRE = frozenset({"expired", "withdrawn"})
TRANSITIONS: dict[str, frozenset[str]] = {
    "created": frozenset({"approved", "dismissed", "escalated"}) | _RETIRE,
    "escalated": frozenset({"approved", "dismissed"}) | _RETIRE,
    "approved": frozenset({"queued"}) | _RETIRE,
    "queued": frozenset({"delivered"}) | _RETIRE,
    "delivered": frozenset({"acknowledged"}) | _RETIRE,
    "acknowledged": frozenset({"outcome_reported"}) | _RETIRE,
    "outcome_reported": frozenset({"closed"}),
    "dismissed": frozenset(),
    "closed": frozenset(),
    "expired": frozenset(),
    "withdrawn": frozenset(),
}
TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
#: Open = not terminal (an alert that still counts for dedup and may still change).
OPEN = frozenset(STATES) - TERMINAL
#: States in which the alert has been pushed (deliveries exist).
PUSHED = frozenset({"queued", "delivered", "acknowledged", "outcome_reported"})
#: A review decision and the state it leads to.
REVIEW_DECISIONS: dict[str, str] = {"approve": "approved", "dismiss": "dismissed", "escalate": "escalated"}


def allowed_from(state: str) -> frozenset[str]:
    try:
        return TRANSITIONS[state]
    except KeyError:
        raise InvalidTransition(f"unknown alert state {state!r}; known states: {', '.join(STATES)}",
                                current=state) from None


def check_transition(current: str, target: str, *, alert_id: int | None = None) -> None:
    """Raise :class:`InvalidTransition` unless ``current -> target`` is a lifecycle step."""
    allowed = allowed_from(current)
    if target in allowed:
        return
    which = f"alert {alert_id}" if alert_id is not None else "alert"
    options = ", ".join(sorted(allowed)) if allowed else "none (terminal state)"
    raise InvalidTransition(
        f"预警状态不允许此操作 / cannot move {which} from {current!r} to {target!r}; "
        f"allowed from {current!r}: {options}.",
        alert_id=alert_id, current=current, target=target, allowed=sorted(allowed),
    )
