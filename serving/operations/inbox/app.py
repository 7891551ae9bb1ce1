"""The inbox API for the mini-program (and the mobile web page that shows the inbox as it would).

Routes (every ``/api`` route needs ``Authorization: Bearer <token>``; tokens come from
``weimeng alerts issue-token``)::

    GET  /                                   mobile web page (Chinese)
    GET  /api/me                             who the token belongs to
    GET  /api/items?status=open|all|...      the inbox, newest first
    GET  /api/items/{alert_id}               one item in full (marks it read)
    POST /api/items/{alert_id}/ack           acknowledge (签收), idempotent
    POST /api/items/{alert_id}/outcome       {"kind": "visited|resolved|referred|false_alarm"
                                                      or 已走访/已化解/已转交/误报, "note": "..."}

Errors are JSON ``{"error": {"kind", "message", "field"}}`` (``common.errors.error_body``) with the status
of the error's kind; a malformed request is ``bad_input`` (422) naming the field, an unknown route
``not_found`` (404). A separate app: ``weimeng alerts serve-inbox`` (the scoring service does not mount it).
"""

# no `from __future__ import annotations`: FastAPI must see the local request models as real types

from pathlib import Path

from serving.operations.http_errors import install_error_handlers

__all__ = ["create_app"]


def _page() -> str:
    return (Path(__file__).parent / "static" / "inbox.html").read_text(encoding="utf-8")


def create_app(engine=None, *, url: str | None = None, check_schema: bool = True):
    """Build the ASGI app. ``engine`` or ``url``; by default the URL comes from ``WEIMENG_DATABASE_URL``."""
    from fastapi import Depends, FastAPI, Header
    from fastapi.responses import HTMLResponse
    from pydantic import BaseModel, Field

    from serving.operations.alerts import db as _db
    from serving.operations.inbox.service import MAX_NOTE_CHARS, Identity, InboxService

    if engine is None:
        engine = _db.make_engine(url or _db.database_url_from_env())
    if check_schema:
        _db.require_current(engine)
    service = InboxService(engine)
    page = _page()

    app = FastAPI(title="未萌 收件箱 Weimeng inbox", version="1", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.inbox = service

    install_error_handlers(app)

    def identity(authorization: str | None = Header(default=None)) -> Identity:
        token = None
        if authorization and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        return service.authenticate(token)

    class OutcomeIn(BaseModel):
        kind: str = Field(description="visited | resolved | referred | false_alarm，或 已走访/已化解/已转交/误报")
        note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page

    @app.get("/api/me")
    def me(who: Identity = Depends(identity)) -> dict:
        return {"inbox_id": who.inbox_id, "staff_id": who.staff_id, "label": who.label}

    @app.get("/api/items")
    def list_items(status: str = "open", limit: int = 100, who: Identity = Depends(identity)) -> dict:
        items = service.list(who, status=status, limit=max(1, min(limit, 500)))
        return {"items": items, "count": len(items)}

    @app.get("/api/items/{alert_id}")
    def read_item(alert_id: int, who: Identity = Depends(identity)) -> dict:
        return service.read(who, alert_id)

    @app.post("/api/items/{alert_id}/ack")
    def acknowledge(alert_id: int, who: Identity = Depends(identity)) -> dict:
        return service.acknowledge(who, alert_id)

    @app.post("/api/items/{alert_id}/outcome")
    def outcome(alert_id: int, body: OutcomeIn, who: Identity = Depends(identity)) -> dict:
        return service.report_outcome(who, alert_id, body.kind, body.note)

    return app
