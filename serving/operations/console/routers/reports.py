"""Leadership reports (``/reports`` and the files under it), for the roles that may read them."""

# no `from __future__ import annotations`: FastAPI reads the parameters' annotations at runtime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse

from serving.operations import audit
from serving.operations.auth.errors import Forbidden
from serving.operations.console.reports import REPORT_CSP, list_reports, resolve_report, station_card
from serving.operations.console.web import ConsoleContext, Viewer, context, current_viewer, render

__all__ = ["router", "report_reader"]

router = APIRouter()


def report_reader(viewer: Viewer = Depends(current_viewer)) -> Viewer:
    """A logged-in viewer whose role reads reports (leadership, admin)."""
    if not viewer.policy.read_reports:
        raise Forbidden(f"{viewer.user.role_label}角色不能查看报告 / role {viewer.user.role} may not read this.")
    return viewer


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
def reports(request: Request, viewer: Viewer = Depends(report_reader), ctx: ConsoleContext = Depends(context)):
    return render(request, "reports.html", reports=list_reports(ctx.settings.reports_dir),
                  folder=ctx.settings.reports_dir, card=station_card(ctx, viewer))


@router.get("/reports/{relpath:path}", include_in_schema=False)
def report_file(relpath: str, viewer: Viewer = Depends(report_reader), ctx: ConsoleContext = Depends(context)):
    path = resolve_report(ctx.settings.reports_dir, relpath)
    audit.record(ctx.engine, viewer.user.actor, "report.view", f"report:{relpath}"[:200], {})
    return FileResponse(path, media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": REPORT_CSP, "Cache-Control": "no-store"})
