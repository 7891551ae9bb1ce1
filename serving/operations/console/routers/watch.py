"""The watch list (关注名单) as a page (``/watch``) and as JSON (``/api/watch``); every listing is audited."""

# no `from __future__ import annotations`: FastAPI reads the parameters' annotations at runtime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from serving.operations import audit
from serving.operations.auth.errors import Forbidden
from serving.operations.console.display import person_text
from serving.operations.console.watch import budget_line, watch_page
from serving.operations.console.web import ConsoleContext, Viewer, context, current_viewer, render

__all__ = ["router"]

router = APIRouter()


def watch_rows(viewer: Viewer, ctx: ConsoleContext):
    """The viewer's watch list and budget figures (role checked, listing audited)."""
    if not viewer.policy.view_queue:
        raise Forbidden(f"{viewer.user.role_label}角色不能查看关注名单 / role {viewer.user.role} "
                        f"may not view the watch list.")
    rows, status = watch_page(ctx.engine, ctx.world, viewer.jurisdiction, limit=ctx.settings.queue_limit)
    audit.record(ctx.engine, viewer.user.actor, "watch.view", f"watch:{viewer.jurisdiction.code}", {"rows": len(rows)})
    return rows, status


@router.get("/watch", response_class=HTMLResponse, include_in_schema=False)
def watch(request: Request, viewer: Viewer = Depends(current_viewer), ctx: ConsoleContext = Depends(context)):
    rows, status = watch_rows(viewer, ctx)
    items = [{"row": r, "person": person_text(r.person_id, viewer.policy)} for r in rows]
    return render(request, "watch.html", items=items, header=budget_line(status))


@router.get("/api/watch")
def api_watch(viewer: Viewer = Depends(current_viewer), ctx: ConsoleContext = Depends(context)) -> dict:
    rows, s = watch_rows(viewer, ctx)
    return {"budget": {"alerts": s.alerts, "budget": s.budget, "urgent": s.urgent, "watch": s.watch, "days": s.days},
            "items": [{"person": person_text(r.person_id, viewer.policy), "probability": r.probability,
                       "county": r.county, "as_of": r.as_of.isoformat(), "listed_at": r.listed_at.isoformat()}
                      for r in rows]}
