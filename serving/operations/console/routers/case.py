"""The case page (``/cases/{alert_id}``) and its JSON (``/api/cases/{alert_id}``); each opening is audited."""

# no `from __future__ import annotations`: FastAPI reads the parameters' annotations at runtime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from serving.operations.console.case import load_case
from serving.operations.console.web import ConsoleContext, Viewer, context, current_viewer, render

__all__ = ["router"]

router = APIRouter()


@router.get("/cases/{alert_id}", response_class=HTMLResponse, include_in_schema=False)
def case_page(request: Request, alert_id: int, done: str = "", viewer: Viewer = Depends(current_viewer),
              ctx: ConsoleContext = Depends(context)):
    case = load_case(ctx.engine, ctx.world, viewer.user, alert_id, policies=ctx.role_policies)
    return render(request, "case.html", case=case, a=case.alert, done=done, model_name=ctx.settings.model_name)


@router.get("/api/cases/{alert_id}")
def api_case(alert_id: int, viewer: Viewer = Depends(current_viewer), ctx: ConsoleContext = Depends(context)) -> dict:
    return load_case(ctx.engine, ctx.world, viewer.user, alert_id, policies=ctx.role_policies).to_dict()
