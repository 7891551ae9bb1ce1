"""The public tip page reached from an address's QR code: ``GET /{address_code}`` (a phone page, no login)
and ``POST /{address_code}`` (JSON ``{"category", "urgency", "observations", "note"}``).

Mount it at ``/tip`` (``weimeng alerts serve-tips``, or the demo's server), so a building's QR code reads
``https://HOST/tip/510107001002-0012``. The app keeps no access log, sets no cookie, loads nothing from another
origin, and hands the client address only to the in-memory limiter (:mod:`serving.operations.grassroots.limits`).
A refused tip answers 429 with a Chinese message (and ``Retry-After``); an unknown address code 404.
"""

# no `from __future__ import annotations`: FastAPI must see the local request models as real types

import html
from pathlib import Path

from serving.operations.grassroots.tips import TipIntake

__all__ = ["create_tip_app"]

_STATIC = Path(__file__).parent / "static"


def create_tip_app(intake: TipIntake):
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse
    from pydantic import BaseModel, Field

    from serving.operations.grassroots.errors import TipRateLimited
    from serving.operations.http_errors import install_error_handlers, json_error
    from serving.operations.inbox.app import page_csp

    page = (_STATIC / "tip.html").read_text(encoding="utf-8")
    headers = {"Content-Security-Policy": page_csp(page), "X-Frame-Options": "DENY",
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
    app = FastAPI(title="未萌 匿名线索", version="1", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.intake = intake
    install_error_handlers(app)

    async def _limited(_request, exc: TipRateLimited):
        resp = json_error(exc)
        resp.headers["Retry-After"] = "600"
        return resp

    app.add_exception_handler(TipRateLimited, _limited)  # type: ignore[arg-type]

    @app.middleware("http")
    async def security_headers(request, call_next):
        resp = await call_next(request)
        for k, v in headers.items():
            resp.headers.setdefault(k, v)
        return resp

    class TipIn(BaseModel):
        category: str = Field(max_length=40)
        urgency: str = Field(default="routine", max_length=20)
        observations: list[str] = Field(default_factory=list, max_length=10)
        note: str | None = Field(default=None, max_length=intake.policy.max_note_chars)

    @app.get("/{address_code}", response_class=HTMLResponse, include_in_schema=False)
    def tip_form(address_code: str) -> HTMLResponse:
        if not intake.known(address_code):
            return HTMLResponse("<!doctype html><meta charset=utf-8><title>未萌</title>"
                                "<p>地址码无效，请核对楼栋二维码。如遇紧急情况请拨打110。</p>", status_code=404)
        place = intake.village_name(address_code)
        house = address_code.split("-", 1)[1]
        return HTMLResponse(page.replace("{{PLACE}}", html.escape(f"{place} {house}号")))

    @app.post("/{address_code}")
    def submit(address_code: str, body: TipIn, request: Request) -> JSONResponse:
        client = request.client.host if request.client else None
        result = intake.submit(address_code, category=body.category, urgency=body.urgency,
                               observations_=body.observations, note=body.note, client=client)
        return JSONResponse({**result, "message": "已收到，感谢您的反映。社区民警将尽快核实处理。"})

    return app
