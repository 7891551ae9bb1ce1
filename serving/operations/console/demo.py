"""Demo accounts and the labelled demo review used by ``weimeng demo``.

Every demo account has ``is_demo`` set, a username starting with ``demo-`` and a display name that
starts with 演示; the console shows a 演示账号 tag. The demo review is done *as* ``demo-reviewer``
through the same code path as a person clicking in the console: scope and role checks, a reason
(``演示审核：…``), the audit entry in the decision's transaction. It is never skipped silently: what it
did is returned and printed by the demo.

>>> # accounts = seed_demo_accounts(engine)            # list[DemoAccount], passwords shown once
>>> # summary = demo_review(engine, world, approve=10)  # {"approved": 10, "dismissed": 2, ...}
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from serving.operations import audit
from serving.operations.alerts.errors import AlertsError
from serving.operations.auth.users import UserStore
from serving.operations.console.models import person_places
from serving.operations.console.queue import QueueFilters, list_queue
from serving.operations.console.scope import sync_places
from serving.operations.console.world import World

__all__ = ["DemoAccount", "seed_demo_accounts", "demo_review", "DEMO_REVIEWER", "busiest_county", "start_console",
           "RunningConsole"]

DEMO_REVIEWER = "demo-reviewer"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: str
    jurisdiction: str
    password: str

    def line(self) -> str:
        return (f"{self.display_name:<12} 用户名 {self.username:<22} 密码 {self.password}  "
                f"（{self.role}，辖区 {self.jurisdiction}）")


def busiest_county(engine: Engine, world: World | None = None, default: str = "510104") -> str:
    """The county with the most alerted people (so the county demo account has something to review)."""
    if world is not None:
        sync_places(engine, world)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(person_places.c.county_code)
                            .where(person_places.c.county_code.is_not(None))).all()
    counts = Counter(r.county_code for r in rows)
    return counts.most_common(1)[0][0] if counts else default


def seed_demo_accounts(engine: Engine, *, county: str | None = None, other_county: str | None = None,
                       world: World | None = None, password: str | None = None) -> list[DemoAccount]:
    """Create (or reset the passwords of) the demo accounts; returns them with their passwords.

    ``county`` defaults to the busiest county; ``other_county`` (a second county reviewer, to show
    refusal across counties) defaults to a county different from it.
    """
    county = county or busiest_county(engine, world)
    other_county = other_county or ("510104" if county != "510104" else "510105")
    specs = [
        (DEMO_REVIEWER, "演示审核员·省级", "reviewer", "510000"),
        ("demo-county-reviewer", f"演示区县审核员·{county}", "reviewer", county),
        ("demo-other-reviewer", f"演示外县审核员·{other_county}", "reviewer", other_county),
        ("demo-analyst", "演示研判分析员", "analyst", "510000"),
        ("demo-leader", "演示领导", "leadership", "510000"),
        ("demo-admin", "演示管理员", "admin", "510000"),
    ]
    users = UserStore(engine)
    out = []
    for username, display, role, juris in specs:
        pw = password or ("demo-" + secrets.token_urlsafe(9))
        if users.exists(username):
            users.set_password(username, pw)
            users.set_active(username, True)
        else:
            users.add(username, display, role=role, jurisdiction=juris, password=pw, is_demo=True)
        out.append(DemoAccount(username, display, role, juris, pw))
    audit.record(engine, "system:demo", "users.demo_seeded", "users:demo", {"accounts": [a.username for a in out]})
    return out


def demo_review(engine: Engine, world: World, *, approve: int = 20, dismiss: int = 3, policy=None,
                echo=print) -> dict:
    """Review the pending queue as ``demo-reviewer``: approve the top ``approve``, dismiss the lowest ``dismiss``.

    Reasons are written as ``演示审核：…``; each decision is audited like any other.
    """
    from serving.operations.console.decide import decide

    user = UserStore(engine).by_username(DEMO_REVIEWER)
    audit.record(engine, user.actor, "demo.review_started", "queue:510000", {"approve": approve, "dismiss": dismiss})
    page = list_queue(engine, world, user.jurisdiction, QueueFilters(status="created"), limit=5000)
    rows = list(page.rows)
    to_approve = rows[:approve]
    to_dismiss = [r for r in reversed(rows[approve:])][:dismiss]
    done: dict[str, Any] = {"approved": 0, "dismissed": 0, "failed": 0, "pending_left": 0, "alert_ids": []}
    for r in to_approve:
        why = (r.summary or "规则与模型均提示风险升高")[:60]
        try:
            decide(engine, world, user, r.id, "approve", f"演示审核：{why}，批准推送给网格员走访", policy=policy)
            done["approved"] += 1
            done["alert_ids"].append(r.id)
        except AlertsError as exc:
            done["failed"] += 1
            echo(f"  演示审核未能批准 #{r.id}: {exc}")
    for r in to_dismiss:
        try:
            decide(engine, world, user, r.id, "dismiss", "演示审核：风险较低，演示中驳回（实际工作中须逐条研判）",
                   policy=policy)
            done["dismissed"] += 1
        except AlertsError as exc:
            done["failed"] += 1
            echo(f"  演示审核未能驳回 #{r.id}: {exc}")
    done["pending_left"] = max(len(rows) - done["approved"] - done["dismissed"] - done["failed"], 0)
    audit.record(engine, user.actor, "demo.review_finished", "queue:510000",
                 {k: v for k, v in done.items() if k != "alert_ids"})
    return done


@dataclass
class RunningConsole:
    """A console (``/console``), the cadre inbox page (``/inbox``) and, with a world, the public tip page
    (``/tip/{address_code}``), served by uvicorn in a thread."""

    url: str
    inbox_url: str
    server: Any       # uvicorn.Server
    thread: Any       # threading.Thread

    def stop(self, timeout: float = 10) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=timeout)


def start_console(engine: Engine, *, world: World | None = None, event_store=None, data_dir=None, reports_dir=None,
                  tracking_uri: str | None = None, host: str = "127.0.0.1", port: int = 8600,
                  startup_timeout: float = 15) -> RunningConsole:
    """Serve the console and the inbox page in a background thread (the demo and the browser tests).

    >>> # running = start_console(engine, event_store=es, reports_dir=home / "reports")
    >>> # print(running.url)          # http://127.0.0.1:8600/console/login
    """
    import threading
    import time

    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from serving.operations.console.app import create_app
    from serving.operations.console.settings import ConsoleSettings
    from serving.operations.inbox import create_app as inbox_app

    settings = ConsoleSettings(data_dir=data_dir, reports_dir=reports_dir, inbox_url="/inbox/",
                               tracking_uri=tracking_uri)
    console = create_app(settings, engine=engine, world=world, event_store=event_store)
    routes = [Mount("/console", app=console)]
    es = event_store or (world.store() if world is not None else None)
    directory = None
    if es is not None:  # the grassroots routes: field reports in the inbox, the public tip page at /tip
        from serving.operations.grassroots import GrassrootsDirectory, TipIntake
        from serving.operations.grassroots.tip_page import create_tip_app

        directory = GrassrootsDirectory.from_event_store(es)
        routes.append(Mount("/tip", app=create_tip_app(TipIntake(engine, directory))))
    app = Starlette(routes=[Mount("/inbox", app=inbox_app(engine, directory=directory)), *routes])
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="weimeng-console", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"审核台未能启动 / the console did not start on {host}:{port} (port in use?); "
                               f"pass another port.")
        time.sleep(0.05)
    return RunningConsole(f"http://{host}:{port}/console/login", f"http://{host}:{port}/inbox/", server, thread)
