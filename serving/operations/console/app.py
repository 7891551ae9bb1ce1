"""The review console as an ASGI app (FastAPI + server-rendered Jinja2, Chinese first).

Pages::

    GET  /login, POST /login, POST /logout
    GET  /queue                      the review queue (filters: region, category, level, status, age)
    GET  /cases/{alert_id}           the case page (audited as case.view)
    POST /cases/{alert_id}/decision  approve | dismiss | escalate with a reason (CSRF token required)
    GET  /reports, /reports/{path}   leadership reports (leadership, admin)
    GET  /audit                      the audit log and its verification (admin)

JSON (same session cookie, same jurisdiction checks; POST needs ``X-CSRF-Token``)::

    GET /api/me, GET /api/queue, GET /api/cases/{alert_id}, POST /api/cases/{alert_id}/decision

A separate app: ``weimeng console`` (or ``uvicorn --factory serving.operations.console:create_app``).
The scoring service does not mount it; scoring reaches the alerts only through the alert sink.
"""

# no `from __future__ import annotations`: FastAPI reads the request models' annotations at runtime

from pathlib import Path
from urllib.parse import urlencode

__all__ = ["create_app", "SESSION_COOKIE"]

SESSION_COOKIE = "wm_console"
_HERE = Path(__file__).parent


def _timestamp_text(v) -> str:
    if v is None:
        return ""
    return v.strftime("%Y-%m-%d %H:%M") if hasattr(v, "strftime") else str(v)[:16].replace("T", " ")


def _china_time_text(v) -> str:
    """Store timestamps are naive UTC; people read China Standard Time (UTC+8)."""
    from datetime import datetime, timedelta

    if v is None or v == "":
        return ""
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    return (v + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")


def _observe_versions(engine) -> None:
    """Audit a model or rule-set version that appeared since the last audited one (see serving.operations.audit.versions)."""
    import sqlalchemy as sa

    from serving.operations import audit
    from serving.operations.alerts.models import Alert

    with engine.connect() as conn:
        row = conn.execute(sa.select(Alert.model_version, Alert.ruleset_version)
                           .order_by(Alert.created_at.desc(), Alert.id.desc()).limit(1)).first()
    if row is not None:
        audit.observe_versions(engine, model_version=row.model_version, ruleset_version=row.ruleset_version,
                               actor="system:console")


def create_app(settings=None, *, engine=None, world=None, event_store=None, check_schema: bool = True,
               alert_policy=None, role_policies=None, csrf_secret: bytes | None = None):
    """Build the console app.

    ``settings``: a :class:`ConsoleSettings` (default ``ConsoleSettings.from_env()``). ``engine`` /
    ``world`` / ``event_store`` let a host process (the demo, tests) share what it already opened.
    """
    from fastapi import FastAPI, Form, Request
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
    from fastapi.templating import Jinja2Templates
    from pydantic import BaseModel

    from common.levels import LEVEL_LABELS
    from features.catalog import RISK_CATEGORIES
    from serving.operations import audit
    from serving.operations.alerts import db as _db
    from serving.operations.alerts.errors import AlertsError
    from serving.operations.alerts.lifecycle import STATE_LABELS
    from serving.operations.audit.errors import AuditError
    from serving.operations.auth import ROLE_LABELS, SessionStore, UserStore
    from serving.operations.auth.errors import AuthError, Forbidden, LoginFailed, SessionExpired
    from serving.operations.console.case import load_case
    from serving.operations.console.csrf import LOGIN_COOKIE, LoginCsrf
    from serving.operations.console.decide import DECISION_LABELS, decide
    from serving.operations.console.display import person_text
    from serving.operations.console.errors import ConsoleError
    from serving.operations.console.queue import AGE_CHOICES, LEVEL_CHOICES, STATUS_CHOICES, QueueFilters, list_queue
    from serving.operations.console.reports import REPORT_CSP, list_reports, resolve_report
    from serving.operations.console.settings import ConsoleSettings
    from serving.operations.console.world import World

    settings = settings or ConsoleSettings.from_env()
    if engine is None:
        engine = _db.make_engine(settings.database_url or _db.database_url_from_env())
    if check_schema:
        _db.require_current(engine)
    world = world or World(settings.data_dir, event_store=event_store)
    _observe_versions(engine)
    users = UserStore(engine)
    sessions = SessionStore(engine, idle_minutes=settings.session_idle_minutes,
                            max_hours=settings.session_max_hours)
    login_csrf = LoginCsrf(csrf_secret)
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    templates.env.globals.update(LEVEL_LABELS=LEVEL_LABELS, STATE_LABELS=STATE_LABELS,
                                 RISK_CATEGORIES=RISK_CATEGORIES, ROLE_LABELS=ROLE_LABELS,
                                 DECISION_LABELS=DECISION_LABELS)
    templates.env.filters["pct"] = lambda v: "—" if v is None else f"{float(v):.1%}"
    templates.env.filters["ts"] = _timestamp_text       # world records: already local time
    templates.env.filters["cst"] = _china_time_text     # store timestamps: naive UTC -> 北京时间
    css = (_HERE / "static" / "console.css").read_text(encoding="utf-8")

    app = FastAPI(title="未萌 审核台 Weimeng review console", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json")
    app.state.engine, app.state.world, app.state.settings = engine, world, settings

    # -- plumbing ----------------------------------------------------------------------------------
    def base(request: Request) -> str:
        return request.scope.get("root_path", "").rstrip("/")

    def cookie_path(request: Request) -> str:
        return base(request) or "/"

    def is_api(request: Request) -> bool:
        return request.url.path[len(base(request)):].startswith("/api/")

    def render(request: Request, name: str, status: int = 200, **ctx):
        ctx.setdefault("me", getattr(request.state, "session", None))
        ctx.update(base=base(request), inbox_url=settings.inbox_url)
        resp = templates.TemplateResponse(request, name, ctx, status_code=status)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def current(request: Request):
        s = sessions.get(request.cookies.get(SESSION_COOKIE))
        request.state.session = s
        return s

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        resp = await call_next(request)
        resp.headers.setdefault("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        return resp

    @app.exception_handler(SessionExpired)
    async def _expired(request: Request, exc: SessionExpired):
        if is_api(request):
            return JSONResponse({"error": exc.code, "message": str(exc)}, status_code=401)
        path = request.url.path[len(base(request)):] or "/queue"
        q = urlencode({"next": path + (f"?{request.url.query}" if request.url.query else "")})
        return RedirectResponse(f"{base(request)}/login?{q}", status_code=303)

    async def _error(request: Request, exc: Exception):
        status = getattr(exc, "http_status", 500)
        code = getattr(exc, "code", "error")
        if is_api(request):
            return JSONResponse({"error": code, "message": str(exc)}, status_code=status)
        return render(request, "error.html", status=status, status_code=status, message=str(exc))

    for cls in (AuthError, AlertsError, ConsoleError, AuditError):
        app.add_exception_handler(cls, _error)

    def safe_next(nxt: str | None) -> str:
        if nxt and nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt:
            return nxt
        return "/queue"

    # -- login ---------------------------------------------------------------------------------------
    def login_page(request: Request, status: int = 200, error: str = "", nxt: str = "/queue", username: str = ""):
        nonce = login_csrf.new_nonce()
        resp = render(request, "login.html", status=status, csrf=login_csrf.token(nonce), error=error,
                      next=safe_next(nxt), username=username, me=None,
                      idle_minutes=f"{settings.session_idle_minutes:g}")
        resp.set_cookie(LOGIN_COOKIE, nonce, max_age=1800, httponly=True, samesite="strict",
                        secure=settings.cookie_secure, path=cookie_path(request))
        return resp

    @app.get("/", include_in_schema=False)
    def index(request: Request):
        return RedirectResponse(f"{base(request)}/queue", status_code=303)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"ok": True}

    @app.get("/static/console.css", include_in_schema=False)
    def stylesheet():
        return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/queue"):
        return login_page(request, nxt=next)

    @app.post("/login", include_in_schema=False)
    def login(request: Request, username: str = Form(""), password: str = Form(""), csrf_token: str = Form(""),
              next: str = Form("/queue")):
        login_csrf.check(request.cookies.get(LOGIN_COOKIE), csrf_token)
        name = username.strip()[:64]
        client = (request.client.host if request.client else "") + " " + request.headers.get("user-agent", "")[:150]
        try:
            user = users.authenticate(name, password)
        except LoginFailed as exc:
            audit.record(engine, name or "(empty)", "login.failed", f"user:{name or '(empty)'}",
                         {"reason": exc.code, "client": client.strip()[:200]})
            return login_page(request, status=exc.http_status, error=str(exc).split(" / ")[0], nxt=next,
                              username=name)
        token, s = sessions.create(user, client=client.strip())
        audit.record(engine, user.actor, "login.ok", f"user:{user.username}",
                     {"role": user.role, "jurisdiction": user.jurisdiction.code, "session": s.id,
                      "client": client.strip()[:200]})
        resp = RedirectResponse(base(request) + safe_next(next), status_code=303)
        resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=settings.cookie_secure,
                        path=cookie_path(request), max_age=int(settings.session_max_hours * 3600))
        resp.delete_cookie(LOGIN_COOKIE, path=cookie_path(request))
        return resp

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf_token: str = Form("")):
        s = current(request)
        s.check_csrf(csrf_token)
        sessions.revoke(s.id)
        audit.record(engine, s.user.actor, "logout", f"user:{s.user.username}", {"session": s.id})
        resp = RedirectResponse(f"{base(request)}/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path=cookie_path(request))
        return resp

    # -- queue -----------------------------------------------------------------------------------------
    def queue_data(s, region, category, level, status, age):
        pol = s.user.policy(role_policies)
        if not pol.view_queue:
            raise Forbidden(f"{s.user.role_label}角色不能查看审核队列 / role {s.user.role} may not view the queue.")
        filters = QueueFilters(region=region, category=category, level=level, status=status, age=age)
        page = list_queue(engine, world, s.user.jurisdiction, filters, limit=settings.queue_limit)
        audit.record(engine, s.user.actor, "queue.view", f"queue:{s.user.jurisdiction.code}",
                     {**filters.as_query(), "rows": len(page.rows)})
        return pol, filters, page

    @app.get("/queue", response_class=HTMLResponse, include_in_schema=False)
    def queue(request: Request, region: str = "", category: str = "", level: str = "", status: str = "pending",
              age: str = ""):
        s = current(request)
        pol, filters, page = queue_data(s, region, category, level, status, age)
        rows = [{"row": r, "person": person_text(r.person_id, pol),
                 "counties": "、".join(world.county_name(c) for c in r.counties)} for r in page.rows]
        return render(request, "queue.html", page=page, rows=rows, filters=filters, STATUS_CHOICES=STATUS_CHOICES,
                      AGE_CHOICES=AGE_CHOICES, LEVEL_CHOICES=LEVEL_CHOICES)

    @app.get("/api/queue")
    def api_queue(request: Request, region: str = "", category: str = "", level: str = "", status: str = "pending",
                  age: str = "") -> dict:
        s = current(request)
        pol, _filters, page = queue_data(s, region, category, level, status, age)
        return {"counts": page.counts, "total": page.total,
                "items": [{"alert_id": r.id, "person": person_text(r.person_id, pol), "level": r.level,
                           "score": r.score, "state": r.state, "categories": list(r.categories), "urgent": r.urgent,
                           "created_at": r.created_at.isoformat(), "counties": list(r.counties)} for r in page.rows]}

    # -- case ------------------------------------------------------------------------------------------
    @app.get("/cases/{alert_id}", response_class=HTMLResponse, include_in_schema=False)
    def case_page(request: Request, alert_id: int, done: str = ""):
        s = current(request)
        case = load_case(engine, world, s.user, alert_id, policies=role_policies)
        return render(request, "case.html", case=case, a=case.alert, done=done)

    @app.get("/api/cases/{alert_id}")
    def api_case(request: Request, alert_id: int) -> dict:
        s = current(request)
        return load_case(engine, world, s.user, alert_id, policies=role_policies).to_dict()

    @app.post("/cases/{alert_id}/decision", include_in_schema=False)
    def case_decision(request: Request, alert_id: int, decision: str = Form(""), reason: str = Form(""),
                      csrf_token: str = Form("")):
        s = current(request)
        s.check_csrf(csrf_token)
        decide(engine, world, s.user, alert_id, decision, reason, policy=alert_policy, policies=role_policies)
        return RedirectResponse(f"{base(request)}/cases/{alert_id}?done={decision}", status_code=303)

    class DecisionIn(BaseModel):
        decision: str
        reason: str

    @app.post("/api/cases/{alert_id}/decision")
    def api_decision(request: Request, alert_id: int, body: DecisionIn) -> dict:
        s = current(request)
        s.check_csrf(request.headers.get("x-csrf-token"))
        v = decide(engine, world, s.user, alert_id, body.decision, body.reason, policy=alert_policy,
                   policies=role_policies)
        return {"alert_id": v.id, "state": v.state, "state_label": STATE_LABELS.get(v.state, v.state),
                "decision": v.review_decision, "reviewed_by": v.reviewed_by}

    @app.get("/api/me")
    def api_me(request: Request) -> dict:
        s = current(request)
        u = s.user
        return {"username": u.username, "display_name": u.display_name, "role": u.role,
                "jurisdiction": u.jurisdiction.code, "csrf_token": s.csrf_token}

    # -- reports and audit -------------------------------------------------------------------------------
    def need(s, flag: str, what: str):
        if not getattr(s.user.policy(role_policies), flag):
            raise Forbidden(f"{s.user.role_label}角色不能查看{what} / role {s.user.role} may not read this.")

    @app.get("/reports", response_class=HTMLResponse, include_in_schema=False)
    def reports(request: Request):
        s = current(request)
        need(s, "read_reports", "报告")
        return render(request, "reports.html", reports=list_reports(settings.reports_dir),
                      folder=settings.reports_dir)

    @app.get("/reports/{relpath:path}", include_in_schema=False)
    def report_file(request: Request, relpath: str):
        s = current(request)
        need(s, "read_reports", "报告")
        path = resolve_report(settings.reports_dir, relpath)
        audit.record(engine, s.user.actor, "report.view", f"report:{relpath}"[:200], {})
        return FileResponse(path, media_type="text/html; charset=utf-8",
                            headers={"Content-Security-Policy": REPORT_CSP, "Cache-Control": "no-store"})

    @app.get("/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit_page(request: Request, action: str = ""):
        s = current(request)
        need(s, "read_audit", "审计日志")
        result = audit.verify(engine)
        audit.record(engine, s.user.actor, "audit.view", "audit:log", {"action": action, "ok": result.ok})
        return render(request, "audit.html", result=result, action=action,
                      entries=audit.entries(engine, action=action or None, limit=200))

    return app
