"""Issue 13 on the console: the login throttle per client address, cadres' notes hidden from roles that may
not read them, no 500 on hostile URLs or bodies, and a cap on a decision's reason."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from common.clock import utcnow
from serving.operations import audit
from serving.operations.alerts.models import Alert, AlertEvent
from serving.operations.auth.users import MAX_FAILED
from serving.operations.console.decide import MAX_REASON_CHARS

from .kit import csrf_from, login

NOTE = "当事人张某称要报复邻居，已劝离"


def _one_error_body(r, kind: str) -> None:
    body = r.json()
    assert set(body) == {"error"} and body["error"]["kind"] == kind and body["error"]["message"], body


# -- the login throttle counts per client address -------------------------------------------------------
def test_failed_logins_from_one_address_do_not_lock_the_account_for_another(client, seeded):
    for _ in range(MAX_FAILED):
        assert login(client, "reviewer-a", "wrong-password").status_code == 401
    assert login(client, "reviewer-a").status_code == 429               # this address is locked out
    with TestClient(client.app, client=("10.20.30.40", 50000)) as other:
        r = login(other, "reviewer-a")
        assert r.status_code == 200 and "审核队列" in r.text               # the account itself is not
    failed = audit.entries(seeded[0], action="login.failed", limit=100)
    assert failed and all(e.detail["client"].startswith("testclient") for e in failed)


# -- cadres' outcome notes -------------------------------------------------------------------------------
def _outcome_event(engine, alert_id: int) -> None:
    """What the inbox writes when a cadre reports an outcome with a note (see InboxService.report_outcome)."""
    with engine.begin() as conn:
        conn.execute(sa.insert(AlertEvent).values(alert_id=alert_id, at=utcnow(), action="outcome_reported",
                                                  from_state="acknowledged", to_state="outcome_reported",
                                                  actor="cadre:W1", reason=f"已化解：{NOTE}",
                                                  detail={"kind": "resolved"}))


def test_outcome_notes_in_the_case_history_only_for_roles_that_see_notes(client, seeded, counties):
    engine, _, alerts = seeded
    alert_id = alerts[counties[0]][0]
    _outcome_event(engine, alert_id)
    for user, shown in (("reviewer-a", True), ("analyst", False), ("leader", False), ("admin", False)):
        login(client, user)
        html = client.get(f"/cases/{alert_id}").text
        assert "已化解" in html, user
        assert (NOTE in html) is shown, user
        client.cookies.clear()


# -- hostile URLs and bodies are 4xx, never 500 --------------------------------------------------------
def test_ids_too_large_for_the_database_are_not_found(seeded):
    engine, world, _ = seeded
    from serving.operations.console import ConsoleSettings, create_app

    app = create_app(ConsoleSettings(), engine=engine, world=world)
    with TestClient(app, raise_server_exceptions=False) as c:
        login(c, "reviewer-a")
        r = c.get("/cases/99999999999999999999999")
        assert r.status_code == 404 and "不在您的辖区" in r.text
        r = c.get("/api/cases/9223372036854775808")
        assert r.status_code == 404
        _one_error_body(r, "not_found")
        assert c.get("/api/cases/-9223372036854775809").status_code == 404
        token = c.get("/api/me").json()["csrf_token"]
        r = c.post("/api/cases/9223372036854775808/decision", headers={"X-CSRF-Token": token},
                   json={"decision": "approve", "reason": "理由充分的批准"})
        assert r.status_code == 404
        _one_error_body(r, "not_found")
    denied = audit.entries(engine, action="case.denied", limit=10)
    assert {e.subject for e in denied} >= {"alert:99999999999999999999999", "alert:9223372036854775808"}


def test_a_nul_byte_in_a_report_path_is_not_found(client, seeded):
    login(client, "leader")
    r = client.get("/reports/x.html%00.db")
    assert r.status_code == 404 and "报告不存在" in r.text


def test_multipart_without_a_boundary_is_a_bad_request(seeded, counties):
    engine, world, alerts = seeded
    from serving.operations.console import ConsoleSettings, create_app

    alert_id = alerts[counties[0]][0]
    app = create_app(ConsoleSettings(), engine=engine, world=world)
    bad = {"Content-Type": "multipart/form-data"}
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/login", content=b"x", headers=bad)
        assert r.status_code == 400 and "请求无法处理" in r.text                 # the error page
        login(c, "reviewer-a")
        token = c.get("/api/me").json()["csrf_token"]
        for path in ("/logout", f"/cases/{alert_id}/decision"):
            r = c.post(path, content=b"x", headers=bad)
            assert r.status_code == 400 and r.headers["content-type"].startswith("text/html"), (path, r.text[:200])
            assert 'id="error-message"' in r.text
        r = c.post(f"/api/cases/{alert_id}/decision", content=b"x", headers={**bad, "X-CSRF-Token": token})
        assert 400 <= r.status_code < 500, r.text
        _one_error_body(r, "bad_input")
        assert c.get("/api/me").status_code == 200                       # still logged in
    with engine.connect() as conn:
        assert conn.scalar(sa.select(Alert.state).where(Alert.id == alert_id)) == "created"


def test_unknown_routes_and_methods_answer_the_one_error_body(client, seeded):
    login(client, "reviewer-a")
    r = client.get("/api/nowhere")
    assert r.status_code == 404
    _one_error_body(r, "not_found")
    r = client.delete("/api/queue")
    assert r.status_code == 405 and r.json()["error"]["message"]


# -- a decision's reason is capped ----------------------------------------------------------------------
def test_a_reason_longer_than_the_cap_is_refused_naming_the_field(client, seeded, counties):
    engine, _, alerts = seeded
    alert_id = alerts[counties[0]][0]
    page = login(client, "reviewer-a")
    token = client.get("/api/me").json()["csrf_token"]
    r = client.post(f"/api/cases/{alert_id}/decision", headers={"X-CSRF-Token": token},
                    json={"decision": "approve", "reason": "长" * 300_000})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["kind"] == "bad_input" and err["field"] == "reason" and str(MAX_REASON_CHARS) in err["message"]
    r = client.post(f"/cases/{alert_id}/decision", data={"decision": "approve", "reason": "长" * (MAX_REASON_CHARS + 1),
                                                         "csrf_token": csrf_from(page.text)})
    assert r.status_code == 422 and "理由过长" in r.text
    with engine.connect() as conn:
        assert conn.scalar(sa.select(Alert.state).where(Alert.id == alert_id)) == "created"
    assert not audit.entries(engine, action="case.decide", limit=10)
    assert not audit.entries(engine, action="case.decide_failed", limit=10)
    ok = client.post(f"/api/cases/{alert_id}/decision", headers={"X-CSRF-Token": token},
                     json={"decision": "approve", "reason": "长" * MAX_REASON_CHARS})
    assert ok.status_code == 200 and ok.json()["decision"] == "approve"


# -- the CLI's administrative actions ---------------------------------------------------------------------
def test_keys_create_is_audited_without_the_secret(db_template, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from serving.operations.alerts.db import make_engine
    from weimeng.commands.serve import keys_app

    db = tmp_path / "ops.db"
    shutil.copy(db_template, db)
    env = {"WEIMENG_HOME": str(tmp_path / "home"), "WEIMENG_DATABASE_URL": f"sqlite:///{db}"}
    r = CliRunner().invoke(keys_app, ["create", "--name", "省基层治理平台", "--scope", "510104",
                                      "--keys-file", str(tmp_path / "keys.json")], env=env)
    assert r.exit_code == 0, r.output
    key = r.stdout.strip().splitlines()[0]
    engine = make_engine(f"sqlite:///{db}")
    [e] = audit.entries(engine, action="apikey.create", limit=5)
    assert (e.actor, e.subject) == ("cli:keys create", f"apikey:{key.split('_')[1]}")
    assert e.detail == {"name": "省基层治理平台", "scopes": ["510104"], "admin": False}
    assert key.split("_", 2)[2] not in str(e.detail)
    engine.dispose()
