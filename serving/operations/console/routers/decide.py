"""Review decisions: approve | dismiss | escalate with a reason, from the case page's form or as JSON.

Both need the session's CSRF token (form field ``csrf_token``, header ``X-CSRF-Token``); the decision
and its audit entry are written in one transaction (:func:`serving.operations.console.decide.decide`).
"""

# no `from __future__ import annotations`: FastAPI reads the request model's annotations at runtime

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from serving.operations.alerts.lifecycle import STATE_LABELS
from serving.operations.console.decide import decide
from serving.operations.console.web import ConsoleContext, Viewer, base_path, context, csrf_form, csrf_header

__all__ = ["router", "DecisionIn"]

router = APIRouter()


class DecisionIn(BaseModel):
    decision: str
    reason: str


@router.post("/cases/{alert_id}/decision", include_in_schema=False)
def case_decision(request: Request, alert_id: int, decision: str = Form(""), reason: str = Form(""),
                  viewer: Viewer = Depends(csrf_form), ctx: ConsoleContext = Depends(context)):
    decide(ctx.engine, ctx.world, viewer.user, alert_id, decision, reason, policy=ctx.alert_policy,
           policies=ctx.role_policies)
    return RedirectResponse(f"{base_path(request)}/cases/{alert_id}?done={decision}", status_code=303)


@router.post("/api/cases/{alert_id}/decision")
def api_decision(alert_id: int, body: DecisionIn, viewer: Viewer = Depends(csrf_header),
                 ctx: ConsoleContext = Depends(context)) -> dict:
    v = decide(ctx.engine, ctx.world, viewer.user, alert_id, body.decision, body.reason, policy=ctx.alert_policy,
               policies=ctx.role_policies)
    return {"alert_id": v.id, "state": v.state, "state_label": STATE_LABELS.get(v.state, v.state),
            "decision": v.review_decision, "reviewed_by": v.reviewed_by}
