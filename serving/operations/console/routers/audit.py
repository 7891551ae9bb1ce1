"""The audit log page (``/audit``): entries and the chain's verification, for admins; viewing it is audited."""

# no `from __future__ import annotations`: FastAPI reads the parameters' annotations at runtime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from serving.operations import audit
from serving.operations.auth.errors import Forbidden
from serving.operations.console.web import ConsoleContext, Viewer, context, current_viewer, render

__all__ = ["router", "audit_reader"]

router = APIRouter()


def audit_reader(viewer: Viewer = Depends(current_viewer)) -> Viewer:
    """A logged-in viewer whose role reads the audit log (admin)."""
    if not viewer.policy.read_audit:
        raise Forbidden(f"{viewer.user.role_label}角色不能查看审计日志 / role {viewer.user.role} may not read this.")
    return viewer


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(request: Request, action: str = "", viewer: Viewer = Depends(audit_reader),
               ctx: ConsoleContext = Depends(context)):
    result = audit.verify(ctx.engine)
    audit.record(ctx.engine, viewer.user.actor, "audit.view", "audit:log", {"action": action, "ok": result.ok})
    return render(request, "audit.html", result=result, action=action,
                  entries=audit.entries(ctx.engine, action=action or None, limit=200))
