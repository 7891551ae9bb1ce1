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
    GET  /api/watch                          the weekly watch lists (本周关注名单), newest first
    GET  /api/watch/{digest_id}              one list with its people (marks it read)
    POST /api/watch/{digest_id}/entries/{position}/visited   mark one person 已走访, idempotent

With a ``directory`` (the world's addresses, grids and staff), also the grassroots routes of
:mod:`serving.operations.inbox.grassroots`: ``/report`` (the field-report page) and ``/api/reports``,
``/api/handle``, ``/api/reports/{id}/sign|handle``, ``/api/tips/{id}/sign|handle``.

Errors are JSON ``{"error": {"kind", "message", "field"}}`` (``common.errors.error_body``) with the status
of the error's kind; a malformed request is ``bad_input`` (422) naming the field, an unknown route
``not_found`` (404). A separate app: ``weimeng alerts serve-inbox`` (the scoring service does not mount it).

Every response carries a Content-Security-Policy (the page's one inline script and stylesheet allowed
by their hashes, nothing else), ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff`` and
``Referrer-Policy: no-referrer``; there are no public API docs. Tokens expire ``token_max_age_days``
after they were issued (90 by default).
"""

# no `from __future__ import annotations`: FastAPI must see the local request models as real types

import base64
import hashlib
import re
from pathlib import Path

from serving.operations.http_errors import install_error_handlers
from serving.operations.inbox.tokens import TOKEN_MAX_AGE_DAYS

__all__ = ["create_app"]


def _page() -> str:
    return (Path(__file__).parent / "static" / "inbox.html").read_text(encoding="utf-8")


def page_csp(page: str) -> str:
    """The page's Content-Security-Policy: its inline ``<script>`` and ``<style>`` blocks by SHA-256, the API
    on the same origin, no framing, no plugins, no other origin."""
    def hashes(tag: str) -> str:
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.S)
        return " ".join("'sha256-" + base64.b64encode(hashlib.sha256(b.encode("utf-8")).digest()).decode() + "'"
                        for b in blocks)

    return (f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; connect-src 'self'; "
            f"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def create_app(engine=None, *, url: str | None = None, check_schema: bool = True,
               token_max_age_days: float = TOKEN_MAX_AGE_DAYS, directory=None, clock=None):
    """Build the ASGI app. ``engine`` or ``url``; by default the URL comes from ``WEIMENG_DATABASE_URL``.
    ``token_max_age_days``: how long a token stays valid after it was issued. ``directory``: a
    :class:`~serving.operations.grassroots.GrassrootsDirectory` to serve the field-report routes too."""
    from fastapi import Depends, FastAPI, Header
    from fastapi.responses import HTMLResponse
    from pydantic import BaseModel, Field

    from serving.operations.alerts import db as _db
    from serving.operations.inbox.service import MAX_NOTE_CHARS, Identity, InboxService

    if engine is None:
        engine = _db.make_engine(url or _db.database_url_from_env())
    if check_schema:
        _db.require_current(engine)
    service = InboxService(engine, token_max_age_days=token_max_age_days)
    page = _page()
    headers = {"Content-Security-Policy": page_csp(page), "X-Frame-Options": "DENY",
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

    app = FastAPI(title="未萌 收件箱 Weimeng inbox", version="1", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.inbox = service

    install_error_handlers(app)

    @app.middleware("http")
    async def security_headers(request, call_next):
        resp = await call_next(request)
        for k, v in headers.items():
            resp.headers.setdefault(k, v)
        if "/api/" in request.url.path:
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

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

    if directory is not None:
        from serving.operations.grassroots import GrassrootsService
        from serving.operations.inbox.grassroots import grassroots_router, report_page

        grassroots = GrassrootsService(engine, directory, **({"clock": clock} if clock else {}))
        app.state.grassroots = grassroots
        report_headers = {**headers, "Content-Security-Policy": page_csp(report_page())}
        app.include_router(grassroots_router(grassroots, identity, report_headers))

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

    @app.get("/api/watch")
    def watch_lists(who: Identity = Depends(identity)) -> dict:
        lists = service.digests(who)
        return {"lists": lists, "count": len(lists)}

    @app.get("/api/watch/{digest_id}")
    def watch_list(digest_id: int, who: Identity = Depends(identity)) -> dict:
        return service.digest(who, digest_id)

    @app.post("/api/watch/{digest_id}/entries/{position}/visited")
    def watch_visited(digest_id: int, position: int, who: Identity = Depends(identity)) -> dict:
        return service.mark_visited(who, digest_id, position)

    return app
