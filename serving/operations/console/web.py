"""The console's request plumbing shared by its routers: the app's context, the session dependency,
the CSRF checks, page rendering and the error answers.

Each router takes what it needs as a dependency::

    @router.get("/queue")
    def queue(viewer: Viewer = Depends(current_viewer), ctx: ConsoleContext = Depends(context)): ...

    @router.post("/cases/{alert_id}/decision")
    def decision(viewer: Viewer = Depends(csrf_form), ...): ...      # session, then its CSRF token

:func:`current_viewer` loads the session from its cookie, the user and their jurisdiction, or raises
``SessionExpired`` (pages redirect to the login form, JSON answers 401).
"""

# no `from __future__ import annotations`: FastAPI reads the dependencies' annotations at runtime

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Form, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from common.errors import HTTP_STATUS, ErrorKind, error_response
from common.places import Jurisdiction
from serving.operations.auth.roles import RolePolicy
from serving.operations.auth.sessions import ActiveSession, SessionStore
from serving.operations.auth.users import User, UserStore
from serving.operations.console.app import SESSION_COOKIE
from serving.operations.console.csrf import LoginCsrf
from serving.operations.console.settings import ConsoleSettings
from serving.operations.console.world import World
from serving.operations.http_errors import json_error

__all__ = ["SESSION_COOKIE", "ConsoleContext", "Viewer", "context", "current_viewer", "csrf_form", "csrf_header",
           "base_path", "cookie_path", "is_api", "safe_next", "render",
           "security_headers", "session_expired", "known_error", "invalid_request", "http_error"]


@dataclass
class ConsoleContext:
    """What every request of one console app shares (kept on ``app.state.console``)."""

    settings: ConsoleSettings
    engine: Any
    world: World
    users: UserStore
    sessions: SessionStore
    login_csrf: LoginCsrf
    templates: Jinja2Templates
    alert_policy: Any = None
    role_policies: Any = None


@dataclass(frozen=True)
class Viewer:
    """The logged-in person behind a request: their session, account, jurisdiction and role policy."""

    session: ActiveSession
    user: User
    jurisdiction: Jurisdiction
    policy: RolePolicy


def context(request: Request) -> ConsoleContext:
    return request.app.state.console


def current_viewer(request: Request, ctx: ConsoleContext = Depends(context)) -> Viewer:
    """The session of the request's cookie with its user and jurisdiction, or ``SessionExpired``."""
    s = ctx.sessions.get(request.cookies.get(SESSION_COOKIE))
    request.state.session = s  # pages show who is logged in
    return Viewer(session=s, user=s.user, jurisdiction=s.user.jurisdiction, policy=s.user.policy(ctx.role_policies))


def csrf_form(csrf_token: str = Form(""), viewer: Viewer = Depends(current_viewer)) -> Viewer:
    """A logged-in form post carrying its session's CSRF token (``csrf_token`` field)."""
    viewer.session.check_csrf(csrf_token)
    return viewer


def csrf_header(x_csrf_token: str | None = Header(default=None), viewer: Viewer = Depends(current_viewer)) -> Viewer:
    """A logged-in JSON call carrying its session's CSRF token (``X-CSRF-Token`` header)."""
    viewer.session.check_csrf(x_csrf_token)
    return viewer


def base_path(request: Request) -> str:
    """Where the console is mounted (``""`` stand-alone, ``/console`` inside a host)."""
    return request.scope.get("root_path", "").rstrip("/")


def cookie_path(request: Request) -> str:
    return base_path(request) or "/"


def is_api(request: Request) -> bool:
    return request.url.path[len(base_path(request)):].startswith("/api/")


def safe_next(nxt: str | None) -> str:
    """Only same-site paths after login (no ``//host``, no backslashes)."""
    if nxt and nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt:
        return nxt
    return "/queue"


def render(request: Request, name: str, status: int = 200, **ctx):
    """A server-rendered page, never cached."""
    console: ConsoleContext = request.app.state.console
    ctx.setdefault("me", getattr(request.state, "session", None))
    ctx.update(base=base_path(request), inbox_url=console.settings.inbox_url)
    resp = console.templates.TemplateResponse(request, name, ctx, status_code=status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- answers for errors, and the headers of every response ------------------------------------------
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
       "form-action 'self'")


async def security_headers(request: Request, call_next):
    resp = await call_next(request)
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    return resp


async def session_expired(request: Request, exc: Exception):
    """Pages go to the login form (and come back after it); JSON answers 401."""
    if is_api(request):
        return json_error(exc)
    path = request.url.path[len(base_path(request)):] or "/queue"
    q = urlencode({"next": path + (f"?{request.url.query}" if request.url.query else "")})
    return RedirectResponse(f"{base_path(request)}/login?{q}", status_code=303)


async def known_error(request: Request, exc: Exception):
    """Any error of ours: the JSON error body on ``/api``, the error page elsewhere, with its status."""
    if is_api(request):
        return json_error(exc)
    status, _ = error_response(exc)
    return render(request, "error.html", status=status, status_code=status, message=str(exc))


async def invalid_request(request: Request, exc: Exception):
    """A request FastAPI could not read (a path id that is not a number, a malformed JSON body)."""
    if is_api(request):
        return json_error(exc)
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    message = f"请求参数有误 / invalid request: {'.'.join(loc) or 'request'}: {first.get('msg', 'not readable')}"
    status = HTTP_STATUS[ErrorKind.BAD_INPUT]
    return render(request, "error.html", status=status, status_code=status, message=message)


async def http_error(request: Request, exc: Exception):
    """The framework's own refusals (an unknown route 404, a wrong method 405, a body it cannot parse 400):
    the one JSON error body on ``/api``, the error page elsewhere."""
    if is_api(request):
        return json_error(exc)
    status = int(getattr(exc, "status_code", 500))
    message = {404: "页面不存在 / not found.", 405: "不支持该请求方式 / method not allowed."}.get(
        status, f"请求无法处理 / bad request: {getattr(exc, 'detail', '')}")
    resp = render(request, "error.html", status=status, status_code=status, message=message)
    for k, v in (getattr(exc, "headers", None) or {}).items():
        resp.headers.setdefault(k, v)
    return resp
