"""The model page: the registered model versions (``/models``) and one version (``/models/{name}/{version}``).

Every console login may read it (it holds no person data); every view is audited (``model.list``,
``model.view``). Read from the registry the console is configured with (``ConsoleSettings.tracking_uri``);
with none, or one that cannot be reached, the page says so and the rest of the console keeps working.
"""

# no `from __future__ import annotations`: FastAPI reads the parameters' annotations at runtime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from serving.operations import audit
from serving.operations.console.modelinfo import list_versions, load_version
from serving.operations.console.web import ConsoleContext, Viewer, context, current_viewer, render

__all__ = ["router"]

router = APIRouter()


@router.get("/models", response_class=HTMLResponse, include_in_schema=False)
def models(request: Request, viewer: Viewer = Depends(current_viewer), ctx: ConsoleContext = Depends(context)):
    state, rows = list_versions(ctx.settings.tracking_uri)
    audit.record(ctx.engine, viewer.user.actor, "model.list", "models:registry",
                 {"registry": "ok" if state.ok else "unavailable", "versions": len(rows)})
    return render(request, "models.html", state=state, rows=rows)


@router.get("/models/{name}/{version}", response_class=HTMLResponse, include_in_schema=False)
def model_version(request: Request, name: str, version: str, viewer: Viewer = Depends(current_viewer),
                  ctx: ConsoleContext = Depends(context)):
    subject = f"model:{name}/{version}"[:200]
    try:
        state, view = load_version(ctx.settings.tracking_uri, name, version, county_name=ctx.world.county_name)
    except Exception:
        audit.record(ctx.engine, viewer.user.actor, "model.view", subject, {"found": False})
        raise
    audit.record(ctx.engine, viewer.user.actor, "model.view", subject,
                 {"registry": "ok" if state.ok else "unavailable"})
    return render(request, "model.html", state=state, v=view, model_name=name, version=version)
