"""The review queue as a page (``/queue``) and as JSON (``/api/queue``); every listing is audited."""

# no `from __future__ import annotations`: FastAPI reads the parameters' annotations at runtime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from serving.operations import audit
from serving.operations.auth.errors import Forbidden
from serving.operations.console.display import person_text
from serving.operations.console.queue import AGE_CHOICES, LEVEL_CHOICES, STATUS_CHOICES, QueueFilters, list_queue
from serving.operations.console.watch import budget_header, budget_line
from serving.operations.console.web import ConsoleContext, Viewer, context, current_viewer, render

__all__ = ["router"]

router = APIRouter()


def queue_filters(region: str = "", category: str = "", level: str = "", status: str = "pending",
                  age: str = "") -> QueueFilters:
    return QueueFilters(region=region, category=category, level=level, status=status, age=age)


def queue_page(viewer: Viewer, ctx: ConsoleContext, filters: QueueFilters):
    """The rows the viewer may see under ``filters`` (role checked, listing audited)."""
    if not viewer.policy.view_queue:
        raise Forbidden(f"{viewer.user.role_label}角色不能查看审核队列 / role {viewer.user.role} "
                        f"may not view the queue.")
    page = list_queue(ctx.engine, ctx.world, viewer.jurisdiction, filters, limit=ctx.settings.queue_limit)
    audit.record(ctx.engine, viewer.user.actor, "queue.view", f"queue:{viewer.jurisdiction.code}",
                 {**filters.as_query(), "rows": len(page.rows)})
    return page


@router.get("/queue", response_class=HTMLResponse, include_in_schema=False)
def queue(request: Request, viewer: Viewer = Depends(current_viewer), filters: QueueFilters = Depends(queue_filters),
          ctx: ConsoleContext = Depends(context)):
    page = queue_page(viewer, ctx, filters)
    rows = [{"row": r, "person": person_text(r.person_id, viewer.policy),
             "counties": "、".join(ctx.world.county_name(c) for c in r.counties)} for r in page.rows]
    budget = budget_line(budget_header(ctx.engine, ctx.world, viewer.jurisdiction))
    return render(request, "queue.html", page=page, rows=rows, filters=filters, STATUS_CHOICES=STATUS_CHOICES,
                  AGE_CHOICES=AGE_CHOICES, LEVEL_CHOICES=LEVEL_CHOICES, budget=budget)


@router.get("/api/queue")
def api_queue(viewer: Viewer = Depends(current_viewer), filters: QueueFilters = Depends(queue_filters),
              ctx: ConsoleContext = Depends(context)) -> dict:
    page = queue_page(viewer, ctx, filters)
    s = budget_header(ctx.engine, ctx.world, viewer.jurisdiction)
    return {"counts": page.counts, "total": page.total,
            "budget": {"alerts": s.alerts, "budget": s.budget, "urgent": s.urgent, "watch": s.watch, "days": s.days},
            "items": [{"alert_id": r.id, "person": person_text(r.person_id, viewer.policy), "level": r.level,
                       "score": r.score, "state": r.state, "categories": list(r.categories), "urgent": r.urgent,
                       "created_at": r.created_at.isoformat(), "counties": list(r.counties)} for r in page.rows]}
