"""Review decisions from the console: scope and role checked, reason required, audited atomically.

The decision is taken in one of the alert store's units of work and the ``case.decide`` audit entry
is written through that unit's session: the decision, its event row, its outbox rows and its audit
entry commit together or not at all. A decision that fails is audited as ``case.decide_failed`` on
its own.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from serving.operations import audit
from serving.operations.alerts import AlertStore
from serving.operations.alerts.errors import ReasonRequired
from serving.operations.alerts.lifecycle import REVIEW_DECISIONS
from serving.operations.alerts.policy import AlertPolicy
from serving.operations.alerts.views import AlertView
from serving.operations.auth.errors import Forbidden
from serving.operations.auth.users import User
from serving.operations.console.case import decide_permission, load_alert_in_scope, subject
from serving.operations.console.world import World

__all__ = ["decide", "DECISION_LABELS", "MIN_REASON_CHARS", "MAX_REASON_CHARS"]

DECISION_LABELS = {"approve": "批准推送", "dismiss": "驳回", "escalate": "上报复核"}
MIN_REASON_CHARS = 4
#: the longest reason accepted (the case page's form allows as many); a longer one is refused before anything
#: is decided or audited
MAX_REASON_CHARS = 1000


def decide(engine: Engine, world: World, user: User, alert_id: int, decision: str, reason: str, *,
           policy: AlertPolicy | None = None, policies=None) -> AlertView:
    if decision not in REVIEW_DECISIONS:
        from serving.operations.alerts.errors import InvalidInput

        raise InvalidInput(f"decision={decision!r}; allowed: {', '.join(REVIEW_DECISIONS)}.")
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON_CHARS:
        raise ReasonRequired(f"请填写理由（至少 {MIN_REASON_CHARS} 个字） / a reason of at least {MIN_REASON_CHARS} "
                             f"characters is required to {decision}.")
    if len(reason) > MAX_REASON_CHARS:
        from serving.operations.alerts.errors import InvalidInput

        raise InvalidInput(f"理由过长（最多 {MAX_REASON_CHARS} 个字，现有 {len(reason)} 个字） / the reason has "
                           f"{len(reason)} characters; at most {MAX_REASON_CHARS} are allowed.", field="reason")
    alert, places = load_alert_in_scope(engine, world, user, alert_id)
    ok, why = decide_permission(user, alert, policies)
    if not ok:
        audit.record(engine, user.actor, "case.decide_refused", subject(alert_id), {"decision": decision, "why": why})
        raise Forbidden(f"{why} / {user.username} may not {decision} alert {alert_id} now.")
    store = AlertStore(engine, policy=policy, directory=world.directory())
    detail = {"decision": decision, "decision_label": DECISION_LABELS[decision], "reason": reason,
              "person_id": alert.person_id, "level": alert.level, "from_state": alert.state,
              "jurisdiction": user.jurisdiction.code}
    try:
        with store.unit_of_work() as uow:
            view = uow.review(alert_id, decision, by=user.actor, reason=reason)
            audit.record(uow.session, user.actor, "case.decide", subject(alert_id), detail)
    except Exception as exc:
        audit.record(engine, user.actor, "case.decide_failed", subject(alert_id),
                     {**detail, "error": type(exc).__name__, "message": str(exc)[:300]})
        raise
    return view
