"""The console over HTTP (in-process): login with CSRF, the queue, the case page per role, decisions,
jurisdiction refusals by page and by API, reports, and the audit trail of all of it."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from serving.operations import audit
from serving.operations.alerts import AlertStore
from serving.operations.alerts.models import Alert, Delivery

from .kit import PASSWORD, csrf_from, login


def _audit_actions(engine, action):
    return audit.entries(engine, action=action, limit=1000)


# -- login, sessions, CSRF ---------------------------------------------------------------------------
def test_pages_need_a_login(client):
    r = client.get("/queue", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=%2Fqueue")
    assert client.get("/api/queue").status_code == 401


def test_login_form_needs_its_csrf_token(client, seeded):
    client.get("/login")
    r = client.post("/login", data={"username": "reviewer-a", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 403 and "表单已失效" in r.text


def test_login_sets_a_strict_session_cookie_and_is_audited(client, seeded):
    engine = seeded[0]
    r = login(client, "reviewer-a")
    assert r.status_code == 200 and "审核队列" in r.text
    cookie = [h for k, h in r.history[0].headers.multi_items()
              if k == "set-cookie" and h.startswith("wm_console=")][0]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert _audit_actions(engine, "login.ok")[0].subject == "user:reviewer-a"


def test_wrong_password_is_refused_and_audited(client, seeded):
    r = login(client, "reviewer-a", "not-the-password")
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    assert _audit_actions(seeded[0], "login.failed")[0].subject == "user:reviewer-a"


def test_logout_ends_the_session(client, seeded):
    r = login(client, "reviewer-a")
    client.post("/logout", data={"csrf_token": csrf_from(r.text)})
    assert client.get("/api/queue").status_code == 401


def test_every_form_post_needs_the_session_csrf_token(client, seeded):
    _, _, alerts = seeded
    login(client, "reviewer-a")
    a_id = alerts[list(alerts)[0]][0]
    r = client.post(f"/cases/{a_id}/decision",
                    data={"decision": "approve", "reason": "理由充分的批准", "csrf_token": "x"})
    assert r.status_code == 403
    r = client.post(f"/api/cases/{a_id}/decision", json={"decision": "approve", "reason": "理由充分的批准"})
    assert r.status_code == 403
    assert client.post("/logout", data={}).status_code == 403


# -- the queue -----------------------------------------------------------------------------------------
def test_queue_is_sorted_by_level_and_score_with_urgent_highlighted(client, seeded, counties):
    login(client, "reviewer-prov")
    data = client.get("/api/queue").json()
    ranks = [{"red": 3, "orange": 2, "yellow": 1}[i["level"]] for i in data["items"]]
    assert ranks == sorted(ranks, reverse=True)
    for lvl in ("red", "orange", "yellow"):
        scores = [i["score"] for i in data["items"] if i["level"] == lvl]
        assert scores == sorted(scores, reverse=True)
    assert data["counts"]["created"] == 8 and data["total"] == 8
    html = client.get("/queue").text
    assert html.count('class="urgent"') == 2 and "紧急" in html


def test_queue_filters(client, seeded, counties):
    a, b = counties
    login(client, "reviewer-prov")
    assert {c for i in client.get(f"/api/queue?region={a}").json()["items"] for c in i["counties"]} == {a}
    assert all(i["level"] == "red" for i in client.get("/api/queue?level=red").json()["items"])
    fam = client.get("/api/queue?category=family_emotion").json()["items"]
    assert fam and all("family_emotion" in i["categories"] for i in fam)
    assert client.get("/api/queue?age=older7").json()["total"] == 0
    assert client.get("/api/queue?age=1").json()["total"] == 8
    assert client.get("/api/queue?status=queued").json()["total"] == 0
    r = client.get("/api/queue?level=purple")
    assert r.status_code == 422 and "allowed: red, orange, yellow" in r.json()["error"]["message"]
    assert r.json()["error"]["kind"] == "bad_input"


def test_a_county_reviewer_lists_only_their_county(client, seeded, counties):
    a, b = counties
    _, _, alerts = seeded
    login(client, "reviewer-a")
    ids = {i["alert_id"] for i in client.get("/api/queue?status=all").json()["items"]}
    assert ids == set(alerts[a])
    html = client.get("/queue").text
    assert not any(f"/cases/{i}\"" in html for i in alerts[b])
    r = client.get(f"/api/queue?region={b}")  # asking for the other county by filter is refused too
    assert r.status_code == 422 and "outside your jurisdiction" in r.json()["error"]["message"]


# -- jurisdiction: open and decide -----------------------------------------------------------------------
def test_another_countys_case_cannot_be_opened_or_decided(client, seeded, counties):
    engine, _, alerts = seeded
    a, b = counties
    r = login(client, "reviewer-b")
    csrf = csrf_from(r.text)
    target = alerts[a][0]
    page = client.get(f"/cases/{target}")
    assert page.status_code == 404 and "不在您的辖区" in page.text
    assert client.get(f"/api/cases/{target}").status_code == 404
    r = client.post(f"/cases/{target}/decision",
                    data={"decision": "approve", "reason": "越权批准尝试", "csrf_token": csrf})
    assert r.status_code == 404
    r = client.post(f"/api/cases/{target}/decision", json={"decision": "dismiss", "reason": "越权驳回尝试"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 404
    assert client.get("/api/cases/999999").status_code == 404  # same answer as a real id: nothing leaks
    with engine.connect() as conn:
        assert conn.scalar(sa.select(Alert.state).where(Alert.id == target)) == "created"
        assert conn.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0
    denied = _audit_actions(engine, "case.denied")
    assert len(denied) == 5 and {e.subject for e in denied} == {f"alert:{target}", "alert:999999"}
    assert not _audit_actions(engine, "case.view")


def test_a_prefecture_reviewer_sees_its_counties(client, seeded, counties):
    _, _, alerts = seeded
    a, b = counties
    login(client, "reviewer-pref")
    ids = {i["alert_id"] for i in client.get("/api/queue").json()["items"]}
    assert set(alerts[a]) <= ids
    assert (set(alerts[b]) <= ids) == (b[:4] == a[:4])


# -- the case page ----------------------------------------------------------------------------------------
def test_reviewer_sees_the_full_case_and_the_view_is_audited(client, seeded, counties):
    engine, world, alerts = seeded
    a, _ = counties
    login(client, "reviewer-a")
    target = alerts[a][0]
    html = client.get(f"/cases/{target}").text
    person = AlertStore(engine).get(target).person_id
    assert person in html                                  # police reviewer: pseudonymous id in full
    assert 'id="factor-chart"' in html and "<svg" in html and "<rect" in html
    assert "近30天因同一纠纷报警4次" in html                   # rule hit with its filled explanation
    assert "简要案情" in html                                  # notes column for police
    notes = [t.note for t in world.timeline(person, with_notes=True) if t.note]
    assert notes and notes[0] in html
    assert 'id="decision-form"' in html and "批准推送" in html
    views = _audit_actions(engine, "case.view")
    assert views[0].subject == f"alert:{target}" and views[0].detail["person_id"] == person
    looks = client.get(f"/api/cases/{target}").json()["looks"]
    assert len(looks) == 2 and "reviewer-a" in looks[0]["actor"]


def test_analyst_sees_a_masked_read_only_case_without_notes(client, seeded, counties):
    engine, world, alerts = seeded
    a, _ = counties
    login(client, "analyst")
    target = alerts[a][0]
    person = AlertStore(engine).get(target).person_id
    html = client.get(f"/cases/{target}").text
    assert person not in html and f"尾号{person[-4:]}" in html
    assert "简要案情" not in html and "警情记录原文不予显示" in html
    for note in (t.note for t in world.timeline(person, with_notes=True) if t.note):
        assert note not in html
    assert 'id="decision-form"' not in html and "只读" in html
    r = client.post(f"/cases/{target}/decision", data={"decision": "approve", "reason": "分析员不能批准",
                                                       "csrf_token": csrf_from(html)})
    assert r.status_code == 403


# -- decisions -------------------------------------------------------------------------------------------
def test_approval_needs_a_reason(client, seeded, counties):
    _, _, alerts = seeded
    a, _ = counties
    r = login(client, "reviewer-a")
    r = client.post(f"/cases/{alerts[a][0]}/decision", data={"decision": "approve", "reason": "  ",
                                                               "csrf_token": csrf_from(r.text)})
    assert r.status_code == 422 and "请填写理由" in r.text


def test_approval_writes_outbox_and_audit_in_one_transaction(client, seeded, counties):
    engine, _, alerts = seeded
    a, _ = counties
    target = alerts[a][0]
    r = login(client, "reviewer-a")
    r = client.post(f"/cases/{target}/decision", data={"decision": "approve", "reason": "多次报警且调解失败，需走访",
                                                         "csrf_token": csrf_from(r.text)})
    assert r.status_code == 200 and "已批准推送" in r.text and "待推送" in r.text
    view = AlertStore(engine).get(target)
    assert view.state == "queued" and view.review_reason == "多次报警且调解失败，需走访"
    assert "reviewer-a" in view.reviewed_by
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Delivery).where(Delivery.alert_id == target)) >= 1
    decided = _audit_actions(engine, "case.decide")
    assert len(decided) == 1 and decided[0].detail["decision"] == "approve"
    assert decided[0].detail["reason"] == "多次报警且调解失败，需走访"
    assert audit.verify(engine).ok


def test_a_failed_approval_leaves_no_decision_entry(client, seeded, counties, monkeypatch):
    """If the store's transaction fails, neither the decision nor its audit entry is written."""
    from serving.operations.alerts import store as store_mod

    engine, _, alerts = seeded
    a, _ = counties
    target = alerts[a][1]

    def boom(**kw):
        raise RuntimeError("payload rendering failed")

    monkeypatch.setattr(store_mod, "build_payload", boom)
    r = login(client, "reviewer-a")
    with pytest.raises(RuntimeError):
        client.post(f"/cases/{target}/decision", data={"decision": "approve", "reason": "批准但推送构建失败",
                                                         "csrf_token": csrf_from(r.text)})
    assert AlertStore(engine).get(target).state == "created"
    assert not _audit_actions(engine, "case.decide")
    assert _audit_actions(engine, "case.decide_failed")[0].detail["error"] == "RuntimeError"


def test_escalated_alerts_are_decided_above_county_level(client, seeded, counties):
    engine, _, alerts = seeded
    a, _ = counties
    target = alerts[a][2]
    r = login(client, "reviewer-a")
    csrf = csrf_from(r.text)
    r = client.post(f"/api/cases/{target}/decision", json={"decision": "escalate", "reason": "情况复杂，请市局研判"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["state"] == "escalated"
    r = client.post(f"/api/cases/{target}/decision", json={"decision": "approve", "reason": "县级不能终审"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403 and "市州或省级" in r.json()["error"]["message"]
    assert r.json()["error"]["kind"] == "forbidden"
    client.cookies.clear()
    r = login(client, "reviewer-pref")
    r = client.post(f"/api/cases/{target}/decision", json={"decision": "dismiss", "reason": "市局研判后驳回"},
                    headers={"X-CSRF-Token": client.get("/api/me").json()["csrf_token"]})
    assert r.status_code == 200 and r.json()["state"] == "dismissed"


def test_deciding_twice_is_a_conflict(client, seeded, counties):
    _, _, alerts = seeded
    a, _ = counties
    target = alerts[a][3]
    login(client, "reviewer-a")
    h = {"X-CSRF-Token": client.get("/api/me").json()["csrf_token"]}
    assert client.post(f"/api/cases/{target}/decision", json={"decision": "dismiss", "reason": "证据不足，驳回"},
                       headers=h).status_code == 200
    r = client.post(f"/api/cases/{target}/decision", json={"decision": "approve", "reason": "再次批准"}, headers=h)
    assert r.status_code == 403 and "无需审核" in r.json()["error"]["message"]


# -- reports and audit pages ---------------------------------------------------------------------------------
def test_reports_are_for_leadership_and_admin_only(client, seeded):
    engine = seeded[0]
    login(client, "reviewer-prov")
    assert client.get("/reports").status_code == 403
    client.cookies.clear()
    login(client, "leader")
    page = client.get("/reports")
    assert page.status_code == 200 and "2026-11/leadership.html" in page.text
    r = client.get("/reports/2026-11/leadership.html")
    assert r.status_code == 200 and "月度报告" in r.text and "sandbox" in r.headers["content-security-policy"]
    assert client.get("/reports/../secret.html").status_code == 404
    assert client.get("/reports/%2e%2e/secret.html").status_code == 404
    assert _audit_actions(engine, "report.view")[0].subject == "report:2026-11/leadership.html"


def test_admin_audit_page_shows_verification(client, seeded):
    login(client, "admin")
    html = client.get("/audit").text
    assert "audit log intact" in html and "login.ok" in html
    client.cookies.clear()
    login(client, "reviewer-prov")
    assert client.get("/audit").status_code == 403


def test_security_headers(client, seeded):
    r = client.get("/login")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
    assert not re.search(r"https?://(?!www\.w3\.org)", r.text)  # no CDN assets


def test_without_a_world_only_the_province_sees_cases(seeded):
    """No world configured: people cannot be placed, so county scopes fail closed."""
    from fastapi.testclient import TestClient

    from serving.operations.console import ConsoleSettings, World, create_app

    engine, _, alerts = seeded
    with TestClient(create_app(ConsoleSettings(), engine=engine, world=World(None))) as c:
        login(c, "reviewer-a")
        assert c.get("/api/queue").json()["total"] == 0
        assert c.get(f"/api/cases/{alerts[list(alerts)[0]][0]}").status_code == 404
        c.cookies.clear()
        login(c, "reviewer-prov")
        assert c.get("/api/queue").json()["total"] == 8
        case = c.get(f"/api/cases/{alerts[list(alerts)[0]][0]}").json()
        assert case["timeline"] == [] and case["places"] == ["地址未知（不在人员目录中）"]


def test_a_station_reviewer_sees_the_grids_of_their_station(client, seeded, counties):
    from serving.operations.auth import UserStore

    engine, world, alerts = seeded
    a, b = counties
    person = AlertStore(engine).get(alerts[a][0]).person_id
    station = world.places(person)[0].station_id
    UserStore(engine).add("station-reviewer", "派出所审核民警", role="reviewer", jurisdiction=station,
                          password=PASSWORD)
    login(client, "station-reviewer")
    ids = {i["alert_id"] for i in client.get("/api/queue?status=all").json()["items"]}
    assert alerts[a][0] in ids and not ids & set(alerts[b])
    expected = {i for i in alerts[a]
                if station in {p.station_id for p in world.places(AlertStore(engine).get(i).person_id)}}
    assert ids == expected
    assert client.get(f"/api/cases/{alerts[b][0]}").status_code == 404


@pytest.mark.parametrize("kind", ["township", "village"])
def test_a_township_or_village_reviewer_sees_only_their_cases(client, seeded, counties, kind):
    from common.places import Jurisdiction, allows
    from serving.operations.auth import UserStore

    engine, world, alerts = seeded
    a, b = counties
    store = AlertStore(engine)
    home = next(p for p in world.places(store.get(alerts[a][0]).person_id) if p.kind == "residence")
    code = home.township_code if kind == "township" else home.village_code
    UserStore(engine).add(f"{kind}-reviewer", "乡镇审核民警", role="reviewer", jurisdiction=code, password=PASSWORD)
    login(client, f"{kind}-reviewer")
    ids = {i["alert_id"] for i in client.get("/api/queue?status=all").json()["items"]}
    j = Jurisdiction.parse(code)
    expected = {i for i in alerts[a] + alerts[b] if allows([j], world.places(store.get(i).person_id))}
    assert alerts[a][0] in ids and ids == expected and not ids & set(alerts[b])
    assert client.get(f"/api/cases/{alerts[a][0]}").status_code == 200
    assert client.get(f"/api/cases/{alerts[b][0]}").status_code == 404
    assert client.get(f"/api/queue?region={a}").status_code == 422  # the county is not inside their scope
    r = client.get(f"/api/queue?status=all&region={home.village_code}")  # a village inside it is a valid filter
    assert r.status_code == 200 and alerts[a][0] in {i["alert_id"] for i in r.json()["items"]}


# -- the app's shape: routers, one error body, the decision's transaction ----------------------------------
def test_the_app_serves_the_same_urls_from_its_routers(client):
    from serving.operations.console.routers import ROUTERS

    routed = {(r.path, m) for router in ROUTERS for r in router.routes for m in r.methods}
    expected = {("/", "GET"), ("/healthz", "GET"), ("/login", "GET"), ("/login", "POST"), ("/logout", "POST"),
                ("/api/me", "GET"), ("/queue", "GET"), ("/api/queue", "GET"), ("/cases/{alert_id}", "GET"),
                ("/api/cases/{alert_id}", "GET"), ("/cases/{alert_id}/decision", "POST"),
                ("/api/cases/{alert_id}/decision", "POST"), ("/reports", "GET"), ("/reports/{relpath:path}", "GET"),
                ("/audit", "GET"), ("/watch", "GET"), ("/api/watch", "GET"), ("/models", "GET"),
                ("/models/{name}/{version}", "GET")}
    assert routed == expected
    for path, method in sorted(routed):  # every one is mounted: login, CSRF or a redirect answers, never 404/405
        r = client.request(method, path.replace("{alert_id}", "1").replace("{relpath:path}", "x.html")
                           .replace("{name}/{version}", "weimeng-escalation/1"), follow_redirects=False)
        assert r.status_code in (200, 303, 401, 403), (method, path, r.status_code)
    css = client.get("/static/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.headers["cache-control"] == "max-age=3600"
    assert "default-src 'self'" in css.headers["content-security-policy"]


def test_json_errors_have_one_shape_with_the_kinds_status(client, seeded, counties):
    _, _, alerts = seeded
    a, _ = counties
    r = client.get("/api/queue")
    assert r.status_code == 401 and r.json()["error"]["kind"] == "unauthenticated"
    assert "请先登录" in r.json()["error"]["message"]
    login(client, "reviewer-b")
    r = client.get(f"/api/cases/{alerts[a][0]}")
    assert r.status_code == 404 and set(r.json()) == {"error"} and set(r.json()["error"]) == {"kind", "message"}
    assert r.json()["error"]["kind"] == "not_found" and "不在您的辖区" in r.json()["error"]["message"]
    r = client.get("/api/cases/not-a-number")
    assert r.status_code == 422 and r.json()["error"]["kind"] == "bad_input"
    assert r.json()["error"]["field"] == "alert_id"
    r = client.post(f"/api/cases/{alerts[a][0]}/decision", json={"decision": "approve", "reason": "无 CSRF 令牌"})
    assert r.status_code == 403 and r.json()["error"]["kind"] == "forbidden"
    page = client.get("/cases/not-a-number")                    # pages answer with the error page
    assert page.status_code == 422 and "输入有误" in page.text


def test_a_failure_after_the_decision_rolls_back_the_decision_and_its_audit_entry(client, seeded, counties,
                                                                                   monkeypatch):
    """The audit entry is written in the decision's transaction: if writing it fails, nothing is decided."""
    engine, _, alerts = seeded
    a, _ = counties
    target = alerts[a][1]
    real_record = audit.record

    class AuditDown(RuntimeError):
        pass

    def record(target_, actor, action, *args, **kw):
        if action == "case.decide":
            real_record(target_, actor, action, *args, **kw)   # written, then the transaction fails
            raise AuditDown("audit store failed after the decision")
        return real_record(target_, actor, action, *args, **kw)

    monkeypatch.setattr(audit, "record", record)
    r = login(client, "reviewer-a")
    with pytest.raises(AuditDown):
        client.post(f"/cases/{target}/decision", data={"decision": "approve", "reason": "批准但审计写入失败",
                                                         "csrf_token": csrf_from(r.text)})
    view = AlertStore(engine).get(target)
    assert view.state == "created" and view.review_decision is None
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Delivery).where(Delivery.alert_id == target)) == 0
    assert [h["action"] for h in AlertStore(engine).history(target)] == ["created"]
    assert not _audit_actions(engine, "case.decide")
    assert _audit_actions(engine, "case.decide_failed")[0].detail["error"] == "AuditDown"
    assert audit.verify(engine).ok
