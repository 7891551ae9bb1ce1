"""The inbox's grassroots routes: cadres file field reports; community officers sign for and handle reports
and tips. Mounted by :func:`serving.operations.inbox.app.create_app` when it is given a directory (the world)::

    GET  /report                          mobile page: the report form, my reports, what I handle
    POST /api/reports                     {"address_code" or "person_id", "category", "urgency",
                                           "observations": [...], "note"}  (a cadre of the address's grid)
    GET  /api/reports/mine                reports I filed, with who holds each now
    GET  /api/handle?status=open|all      reports and tips of my grids (community officer) or risen to my township
    POST /api/reports/{id}/sign           签收, idempotent
    POST /api/reports/{id}/handle         {"handling": "visited|mediated|referred|no_risk" or 已走访/..., "note"}
    POST /api/tips/{id}/sign              签收
    POST /api/tips/{id}/handle            {"verdict": "confirmed|unfounded|malicious|duplicate" or 属实/..., "note",
                                           "person_id": optional, a person of the tip's address}
"""

# no `from __future__ import annotations`: FastAPI must see the local request models as real types

from pathlib import Path

from serving.operations.grassroots.service import GrassrootsService

__all__ = ["grassroots_router", "report_page"]


def report_page() -> str:
    return (Path(__file__).parent / "static" / "report.html").read_text(encoding="utf-8")


def grassroots_router(service: GrassrootsService, identity, page_headers: dict[str, str]):
    """An APIRouter over ``service``; ``identity`` is the inbox app's token dependency."""
    from fastapi import APIRouter, Depends
    from fastapi.responses import HTMLResponse
    from pydantic import BaseModel, Field

    from serving.operations.inbox.tokens import Identity

    limit = service.policy.max_note_chars
    router = APIRouter()
    page = report_page()

    class ReportIn(BaseModel):
        address_code: str | None = Field(default=None, max_length=40)
        person_id: str | None = Field(default=None, max_length=40)
        category: str = Field(max_length=40)
        urgency: str = Field(default="routine", max_length=20)
        observations: list[str] = Field(default_factory=list, max_length=10)
        note: str | None = Field(default=None, max_length=limit)

    class HandleIn(BaseModel):
        handling: str = Field(max_length=40)
        note: str | None = Field(default=None, max_length=limit)

    class VerdictIn(BaseModel):
        verdict: str = Field(max_length=40)
        note: str | None = Field(default=None, max_length=limit)
        person_id: str | None = Field(default=None, max_length=40)

    @router.get("/report", response_class=HTMLResponse, include_in_schema=False)
    def report_form() -> HTMLResponse:
        return HTMLResponse(page, headers=page_headers)

    @router.post("/api/reports")
    def file_report(body: ReportIn, who: Identity = Depends(identity)) -> dict:
        return service.file_report(who, address_code=body.address_code, person_id=body.person_id,
                                   category=body.category, urgency=body.urgency, observations_=body.observations,
                                   note=body.note)

    @router.get("/api/reports/mine")
    def mine(who: Identity = Depends(identity)) -> dict:
        items = service.mine(who)
        return {"items": items, "count": len(items)}

    @router.get("/api/handle")
    def to_handle(status: str = "open", who: Identity = Depends(identity)) -> dict:
        return service.to_handle(who, status=status)

    @router.post("/api/reports/{item_id}/sign")
    def sign_report(item_id: int, who: Identity = Depends(identity)) -> dict:
        return service.sign(who, "report", item_id)

    @router.post("/api/reports/{item_id}/handle")
    def handle_report(item_id: int, body: HandleIn, who: Identity = Depends(identity)) -> dict:
        return service.handle_report(who, item_id, body.handling, body.note)

    @router.post("/api/tips/{item_id}/sign")
    def sign_tip(item_id: int, who: Identity = Depends(identity)) -> dict:
        return service.sign(who, "tip", item_id)

    @router.post("/api/tips/{item_id}/handle")
    def handle_tip(item_id: int, body: VerdictIn, who: Identity = Depends(identity)) -> dict:
        return service.handle_tip(who, item_id, body.verdict, body.note, body.person_id)

    return router
