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

The routes live in :mod:`serving.operations.console.routers` (one module per area: auth, queue, case,
decide, reports, audit); their shared plumbing (the session dependency, CSRF checks, rendering, error
answers) in :mod:`serving.operations.console.web`. JSON errors are ``{"error": {"kind", "message",
"field"}}`` (:func:`common.errors.error_body`) with the kind's status.

FastAPI is imported only when an app is built, so importing the package stays cheap for the CLI.
"""

from pathlib import Path

__all__ = ["create_app", "SESSION_COOKIE"]

SESSION_COOKIE = "wm_console"
_HERE = Path(__file__).parent


def _observe_versions(engine) -> None:
    """Audit a model or rule-set version that appeared since the last audited one.

    See :mod:`serving.operations.audit.versions`.
    """
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
    """Build the console app: its context, the static files, the error answers and the routers.

    ``settings``: a :class:`ConsoleSettings` (default ``ConsoleSettings.from_env()``). ``engine`` /
    ``world`` / ``event_store`` let a host process (the demo, tests) share what it already opened.
    """
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from common.errors import WeimengError
    from serving.operations.alerts import db as _db
    from serving.operations.alerts.errors import AlertsError
    from serving.operations.audit.errors import AuditError
    from serving.operations.auth import SessionStore, UserStore
    from serving.operations.auth.errors import AuthError, SessionExpired
    from serving.operations.console import web
    from serving.operations.console.csrf import LoginCsrf
    from serving.operations.console.errors import ConsoleError
    from serving.operations.console.routers import ROUTERS
    from serving.operations.console.settings import ConsoleSettings
    from serving.operations.console.world import World

    settings = settings or ConsoleSettings.from_env()
    if engine is None:
        engine = _db.make_engine(settings.database_url or _db.database_url_from_env())
    if check_schema:
        _db.require_current(engine)
    world = world or World(settings.data_dir, event_store=event_store)
    _observe_versions(engine)
    ctx = web.ConsoleContext(
        settings=settings, engine=engine, world=world, users=UserStore(engine),
        sessions=SessionStore(engine, idle_minutes=settings.session_idle_minutes,
                              max_hours=settings.session_max_hours),
        login_csrf=LoginCsrf(csrf_secret), templates=_templates(), alert_policy=alert_policy,
        role_policies=role_policies)

    app = FastAPI(title="未萌 审核台 Weimeng review console", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json")
    app.state.engine, app.state.world, app.state.settings, app.state.console = engine, world, settings, ctx
    app.middleware("http")(web.security_headers)
    app.add_exception_handler(SessionExpired, web.session_expired)
    for cls in (WeimengError, AuthError, AlertsError, ConsoleError, AuditError):
        app.add_exception_handler(cls, web.known_error)
    app.add_exception_handler(RequestValidationError, web.invalid_request)
    app.add_exception_handler(StarletteHTTPException, web.http_error)
    app.mount("/static", _static_files(), name="static")
    for router in ROUTERS:
        app.include_router(router)
    return app


def _templates():
    """The Jinja2 templates with the labels and filters every page uses."""
    from fastapi.templating import Jinja2Templates

    from common.levels import LEVEL_LABELS
    from features.catalog import RISK_CATEGORIES
    from serving.operations.alerts.lifecycle import STATE_LABELS
    from serving.operations.auth import ROLE_LABELS
    from serving.operations.console.decide import DECISION_LABELS, MAX_REASON_CHARS
    from serving.operations.console.display import time_text

    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    templates.env.globals.update(LEVEL_LABELS=LEVEL_LABELS, STATE_LABELS=STATE_LABELS,
                                 RISK_CATEGORIES=RISK_CATEGORIES, ROLE_LABELS=ROLE_LABELS,
                                 DECISION_LABELS=DECISION_LABELS, MAX_REASON_CHARS=MAX_REASON_CHARS)
    templates.env.filters["pct"] = lambda v: "—" if v is None else f"{float(v):.1%}"
    templates.env.filters["beijing"] = time_text        # every time shown: aware UTC -> 北京时间
    return templates


def _static_files():
    """``/static``: the stylesheet, cached for an hour."""
    from fastapi.staticfiles import StaticFiles

    class _CachedStatic(StaticFiles):
        def file_response(self, *args, **kwargs):
            resp = super().file_response(*args, **kwargs)
            resp.headers["Cache-Control"] = "max-age=3600"
            return resp

    return _CachedStatic(directory=str(_HERE / "static"))
