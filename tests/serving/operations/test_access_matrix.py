"""The access matrix of the console and the inbox (issue 13): every endpoint × every role × a person inside
and a person outside the account's jurisdiction.

The refusals: another county's case is "not found" (404, nothing leaks) and audited as ``case.denied``; a
role's missing right is 403 (a refused decision audited as ``case.decide_refused``); no session is 401 on
``/api`` and a redirect to the login form on pages. An inbox token reaches only its own inbox's items
(another inbox's are 404); no token or a revoked one is 401.

Each account walks the whole table on a fresh copy of one seeded store; a failing test prints every cell
that differs from the table.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from serving.operations import audit
from serving.operations.alerts import AlertStore
from serving.operations.alerts.db import make_engine
from serving.operations.auth import UserStore
from tests._shared import migrated_sqlite
from tests.serving.operations.console.kit import PASSWORD, add_users, login, seed_alerts, two_counties


# -- the seeded store ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world(small_world):
    from features.store import EventStore
    from serving.operations.console import World

    return World(event_store=EventStore.open(small_world, progress=False))


@pytest.fixture(scope="module")
def template(world, tmp_path_factory):
    """Alerts in counties A and B; every console role with county A as its jurisdiction; two alerts approved
    and delivered (one in each county) for the inbox rows."""
    from serving.operations.push import LocalInboxAdapter, PushWorker

    path = migrated_sqlite(tmp_path_factory.mktemp("matrix") / "matrix.db")
    engine = make_engine(f"sqlite:///{path}")
    a, b = two_counties(world)
    alerts = seed_alerts(engine, world, a, b)
    add_users(engine, a, b)
    users = UserStore(engine)
    for role in ("analyst", "leadership", "admin"):
        users.add(f"{role}-a", f"甲县{role}", role=role, jurisdiction=a, password=PASSWORD)
    store = AlertStore(engine, directory=world.directory())
    delivered = {a: alerts[a][3], b: alerts[b][3]}
    for alert_id in delivered.values():
        store.approve(alert_id, by="matrix", reason="为收件箱准备的预警")
    PushWorker(engine, {"inbox": LocalInboxAdapter(engine)}).run(drain=True, poll_seconds=0.01, max_seconds=20)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path, alerts, (a, b), delivered


@pytest.fixture
def site(template, world, tmp_path):
    path, alerts, counties, delivered = template
    copy = tmp_path / "matrix.db"
    shutil.copy(path, copy)
    engine = make_engine(f"sqlite:///{copy}")
    yield engine, alerts, counties, delivered
    engine.dispose()


@pytest.fixture
def console(site, world, tmp_path):
    from serving.operations.console import ConsoleSettings, create_app

    reports = tmp_path / "reports" / "2026-11"
    reports.mkdir(parents=True)
    (reports / "leadership.html").write_text("<html><body>月度报告</body></html>", encoding="utf-8")
    app = create_app(ConsoleSettings(reports_dir=reports.parent), engine=site[0], world=world)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


# -- the console --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    method: str
    path: str            # {in} / {out}: an alert inside / outside the account's jurisdiction; {in2}: another inside
    expect: dict         # role -> status
    audited: str = ""    # the audit action a refusal leaves (subject alert:<id>)
    json: dict | None = None
    form: dict | None = None


ROLES = ("reviewer", "analyst", "leadership", "admin")
ACCOUNTS = {"reviewer": "reviewer-a", "analyst": "analyst-a", "leadership": "leadership-a", "admin": "admin-a"}
ALL = {r: 200 for r in ROLES}
DECIDE = {"decision": "dismiss", "reason": "访问矩阵测试的驳回理由"}

CONSOLE_TABLE = [
    Cell("GET", "/api/me", ALL),
    Cell("GET", "/queue", ALL),
    Cell("GET", "/api/queue", ALL),
    Cell("GET", "/cases/{in}", ALL),
    Cell("GET", "/cases/{out}", {r: 404 for r in ROLES}, audited="case.denied"),
    Cell("GET", "/api/cases/{in}", ALL),
    Cell("GET", "/api/cases/{out}", {r: 404 for r in ROLES}, audited="case.denied"),
    Cell("POST", "/api/cases/{in}/decision", {"reviewer": 200, "analyst": 403, "leadership": 403, "admin": 403},
         audited="case.decide_refused", json=DECIDE),
    Cell("POST", "/api/cases/{out}/decision", {r: 404 for r in ROLES}, audited="case.denied", json=DECIDE),
    Cell("POST", "/cases/{in2}/decision", {"reviewer": 303, "analyst": 403, "leadership": 403, "admin": 403},
         audited="case.decide_refused", form=DECIDE),
    Cell("POST", "/cases/{out}/decision", {r: 404 for r in ROLES}, audited="case.denied", form=DECIDE),
    Cell("GET", "/reports", {"reviewer": 403, "analyst": 403, "leadership": 200, "admin": 200}),
    Cell("GET", "/reports/2026-11/leadership.html", {"reviewer": 403, "analyst": 403, "leadership": 200, "admin": 200}),
    Cell("GET", "/audit", {"reviewer": 403, "analyst": 403, "leadership": 403, "admin": 200}),
    Cell("GET", "/models", ALL),                            # model information holds no person data
    Cell("GET", "/models/weimeng-escalation/1", ALL),       # (no registry configured here: the page says so)
]


def _call(c: TestClient, cell: Cell, path: str, csrf: str):
    if cell.method == "GET":
        return c.get(path, follow_redirects=False)
    if cell.json is not None:
        return c.post(path, json=cell.json, headers={"X-CSRF-Token": csrf}, follow_redirects=False)
    return c.post(path, data={**(cell.form or {}), "csrf_token": csrf}, follow_redirects=False)


@pytest.mark.parametrize("role", ROLES)
def test_console_matrix(role, console, site):
    engine, alerts, (a, b), _ = site
    ids = {"in": alerts[a][0], "in2": alerts[a][1], "out": alerts[b][0]}
    assert login(console, ACCOUNTS[role]).status_code == 200
    csrf = console.get("/api/me").json()["csrf_token"]
    actor = UserStore(engine).by_username(ACCOUNTS[role]).actor
    wrong = []
    for cell in CONSOLE_TABLE:
        path = cell.path.format(**ids)
        target = next((ids[k] for k in ids if "{" + k + "}" in cell.path), None)
        before = {e.seq for e in audit.entries(engine, action=cell.audited, limit=1000)} if cell.audited else set()
        r = _call(console, cell, path, csrf)
        want = cell.expect[role]
        if r.status_code != want:
            wrong.append(f"{cell.method} {path}: {r.status_code} (want {want}) {r.text[:120]}")
            continue
        if want >= 400 and path.startswith("/api/"):
            body = r.json()
            if set(body) != {"error"} or body["error"]["kind"] not in ("not_found", "forbidden"):
                wrong.append(f"{cell.method} {path}: error body {body}")
        if want >= 400 and cell.audited:
            new = [e for e in audit.entries(engine, action=cell.audited, limit=1000) if e.seq not in before]
            if not any(e.subject == f"alert:{target}" and e.actor == actor for e in new):
                wrong.append(f"{cell.method} {path}: no {cell.audited} audit entry by {actor}")
    listed = {i["alert_id"] for i in console.get("/api/queue?status=all").json()["items"]}
    if not listed or not listed <= set(alerts[a]) or set(alerts[b]) & listed:
        wrong.append(f"/api/queue lists {sorted(listed)}; county A has {alerts[a]}, county B {alerts[b]}")
    assert audit.verify(engine).ok
    assert not wrong, "\n".join(wrong)


def test_console_without_a_session(console, site):
    _, alerts, (a, b), _ = site
    wrong = []
    for cell in CONSOLE_TABLE:
        path = cell.path.format(**{"in": alerts[a][0], "in2": alerts[a][1], "out": alerts[b][0]})
        r = _call(console, cell, path, "")
        if path.startswith("/api/"):
            ok = r.status_code == 401 and r.json()["error"]["kind"] == "unauthenticated"
        elif cell.method == "POST":         # a form post without a session: refused, nothing decided
            ok = r.status_code in (303, 401, 403) and "/login" in r.headers.get("location", "/login")
        else:
            ok = r.status_code == 303 and "/login?next=" in r.headers["location"]
        if not ok:
            wrong.append(f"{cell.method} {path}: {r.status_code} {r.headers.get('location', '')} {r.text[:120]}")
    assert {AlertStore(site[0]).get(i).state for i in (alerts[a][0], alerts[a][1], alerts[b][0])} == {"created"}
    assert not wrong, "\n".join(wrong)


def test_a_county_account_sees_the_other_county_nowhere(console, site):
    """Province-wide accounts reach both counties; a county account reaches one (same table, scope flipped)."""
    _, alerts, (a, b), _ = site
    login(console, "reviewer-b")
    assert console.get(f"/api/cases/{alerts[b][0]}").status_code == 200
    assert console.get(f"/api/cases/{alerts[a][0]}").status_code == 404
    console.cookies.clear()
    login(console, "analyst")                                     # province
    assert all(console.get(f"/api/cases/{alerts[c][0]}").status_code == 200 for c in (a, b))


# -- the inbox ----------------------------------------------------------------------------------------
def test_inbox_matrix(site):
    from serving.operations.inbox import create_app
    from serving.operations.inbox.tokens import issue_inbox_token, revoke_inbox_tokens

    engine, _, (a, b), delivered = site
    store = AlertStore(engine)
    own, other = delivered[a], delivered[b]
    own_inboxes = {d.inbox_id for d in store.deliveries(own) if d.channel == "inbox"}
    other_inboxes = {d.inbox_id for d in store.deliveries(other) if d.channel == "inbox"}
    assert own_inboxes and other_inboxes and not own_inboxes & other_inboxes
    inbox_id = sorted(own_inboxes)[0]
    token = issue_inbox_token(engine, inbox_id, label="矩阵")
    stale = issue_inbox_token(engine, "openid-revoked", label="已吊销")
    revoke_inbox_tokens(engine, "openid-revoked")
    rows = [("GET", "/api/me", None), ("GET", "/api/items", None), ("GET", "/api/items/{id}", None),
            ("POST", "/api/items/{id}/ack", None), ("POST", "/api/items/{id}/outcome", {"kind": "visited"})]
    wrong = []
    with TestClient(create_app(engine), raise_server_exceptions=False) as c:
        for headers, label in (({}, "no token"), ({"Authorization": "Bearer " + stale}, "revoked token"),
                               ({"Authorization": "Bearer wm_forged"}, "forged token")):
            for method, path, body in rows:
                r = c.request(method, path.format(id=own), headers=headers, json=body)
                if r.status_code != 401 or r.json()["error"]["kind"] != "unauthenticated":
                    wrong.append(f"{label} {method} {path}: {r.status_code}")
        h = {"Authorization": "Bearer " + token}
        for method, path, body in rows[2:]:
            r = c.request(method, path.format(id=other), headers=h, json=body)
            if r.status_code != 404 or r.json()["error"]["kind"] != "not_found":
                wrong.append(f"other inbox's {method} {path}: {r.status_code}")
            r = c.request(method, path.format(id=own), headers=h, json=body)
            if r.status_code != 200:
                wrong.append(f"own {method} {path}: {r.status_code} {r.text[:120]}")
        listed = {i["alert_id"] for i in c.get("/api/items?status=all", headers=h).json()["items"]}
        if listed != {own}:
            wrong.append(f"/api/items lists {sorted(listed)}, want [{own}]")
    actions = {e.action for e in audit.entries(engine, subject=f"alert:{own}", limit=100)}
    assert {"inbox.read", "inbox.ack", "inbox.outcome"} <= actions
    assert not {e.action for e in audit.entries(engine, subject=f"alert:{other}", limit=100)} & {
        "inbox.read", "inbox.ack", "inbox.outcome"}
    assert not wrong, "\n".join(wrong)
