"""Login, logout and who is logged in (``/login``, ``/logout``, ``/api/me``), plus ``/`` and ``/healthz``.

The login form carries an HMAC of a nonce kept in a short-lived cookie (there is no session yet);
every login, failed or not, and every logout is audited.
"""

# no `from __future__ import annotations`: FastAPI reads the parameters' annotations at runtime

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from serving.operations import audit
from serving.operations.auth.errors import LoginFailed
from serving.operations.console.app import SESSION_COOKIE
from serving.operations.console.csrf import LOGIN_COOKIE
from serving.operations.console.web import (
    ConsoleContext,
    Viewer,
    base_path,
    context,
    cookie_path,
    csrf_form,
    current_viewer,
    render,
    safe_next,
)

__all__ = ["router"]

router = APIRouter()


def login_page(request: Request, ctx: ConsoleContext, status: int = 200, error: str = "", nxt: str = "/queue",
               username: str = ""):
    nonce = ctx.login_csrf.new_nonce()
    resp = render(request, "login.html", status=status, csrf=ctx.login_csrf.token(nonce), error=error,
                  next=safe_next(nxt), username=username, me=None,
                  idle_minutes=f"{ctx.settings.session_idle_minutes:g}")
    resp.set_cookie(LOGIN_COOKIE, nonce, max_age=1800, httponly=True, samesite="strict",
                    secure=ctx.settings.cookie_secure, path=cookie_path(request))
    return resp


@router.get("/", include_in_schema=False)
def index(request: Request):
    return RedirectResponse(f"{base_path(request)}/queue", status_code=303)


@router.get("/healthz", include_in_schema=False)
def healthz() -> dict:
    return {"ok": True}


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, next: str = "/queue", ctx: ConsoleContext = Depends(context)):
    return login_page(request, ctx, nxt=next)


@router.post("/login", include_in_schema=False)
def login(request: Request, username: str = Form(""), password: str = Form(""), csrf_token: str = Form(""),
          next: str = Form("/queue"), ctx: ConsoleContext = Depends(context)):
    ctx.login_csrf.check(request.cookies.get(LOGIN_COOKIE), csrf_token)
    name = username.strip()[:64]
    address = request.client.host if request.client else ""
    client = address + " " + request.headers.get("user-agent", "")[:150]
    try:  # failures are counted per (username, address) and per address: the address, never the user agent
        user = ctx.users.authenticate(name, password, client=address or None)
    except LoginFailed as exc:
        audit.record(ctx.engine, name or "(empty)", "login.failed", f"user:{name or '(empty)'}",
                     {"reason": exc.code, "client": client.strip()[:200]})
        return login_page(request, ctx, status=exc.http_status, error=str(exc).split(" / ")[0], nxt=next,
                          username=name)
    token, s = ctx.sessions.create(user, client=client.strip())
    audit.record(ctx.engine, user.actor, "login.ok", f"user:{user.username}",
                 {"role": user.role, "jurisdiction": user.jurisdiction.code, "session": s.id,
                  "client": client.strip()[:200]})
    resp = RedirectResponse(base_path(request) + safe_next(next), status_code=303)
    resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=ctx.settings.cookie_secure,
                    path=cookie_path(request), max_age=int(ctx.settings.session_max_hours * 3600))
    resp.delete_cookie(LOGIN_COOKIE, path=cookie_path(request))
    return resp


@router.post("/logout", include_in_schema=False)
def logout(request: Request, viewer: Viewer = Depends(csrf_form), ctx: ConsoleContext = Depends(context)):
    ctx.sessions.revoke(viewer.session.id)
    audit.record(ctx.engine, viewer.user.actor, "logout", f"user:{viewer.user.username}",
                 {"session": viewer.session.id})
    resp = RedirectResponse(f"{base_path(request)}/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path=cookie_path(request))
    return resp


@router.get("/api/me")
def api_me(viewer: Viewer = Depends(current_viewer)) -> dict:
    u = viewer.user
    return {"username": u.username, "display_name": u.display_name, "role": u.role,
            "jurisdiction": viewer.jurisdiction.code, "csrf_token": viewer.session.csrf_token}
