"""The inbox API (FastAPI, in-process over ASGI) and the mobile page."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serving.operations.inbox import create_app
from serving.operations.inbox.tokens import hash_token, issue_inbox_token, revoke_inbox_tokens

from .helpers import person_with_one_place, person_with_two_places, pump, scored


@pytest.fixture
def delivered(store, engine, world_tables, directory, clock):
    ids = []
    for i in range(2):
        [r] = store.ingest([scored(person_with_one_place(world_tables, directory, i), level="red" if i else "yellow")])
        store.approve(r.alert_id, by="r", reason="x")
        ids.append(r.alert_id)
    pump(engine, clock=clock)
    return ids


@pytest.fixture
def client(engine):
    with TestClient(create_app(engine)) as c:
        yield c


def _token(store, alert_id):
    d = store.deliveries(alert_id)[0]
    token = issue_inbox_token(store.engine, d.inbox_id, staff_id=d.staff_id, label="测试")
    return d.inbox_id, {"Authorization": "Bearer " + token}


def test_tokens_are_required_and_stored_hashed(client, store, delivered, engine):
    assert client.get("/api/items").status_code == 401
    r = client.get("/api/items", headers={"Authorization": "Bearer wm_nope"})
    assert r.status_code == 401 and r.json()["error"]["kind"] == "unauthenticated" and "令牌无效" in r.text
    inbox_id, h = _token(store, delivered[0])
    token = h["Authorization"][7:]
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT token_hash FROM inbox_tokens")).scalar_one()
    assert stored == hash_token(token) and token not in stored
    assert client.get("/api/me", headers=h).json()["inbox_id"] == inbox_id
    revoke_inbox_tokens(store.engine, inbox_id)
    assert client.get("/api/me", headers=h).status_code == 401


def test_list_read_ack_and_report(client, store, delivered, engine):
    alert_id = delivered[0]
    _, h = _token(store, alert_id)
    items = client.get("/api/items", headers=h).json()["items"]
    assert [i["alert_id"] for i in items] == [alert_id] and items[0]["status"] == "unread"
    assert "reasons" not in items[0] and items[0]["level_label"] == "黄色预警"
    detail = client.get(f"/api/items/{alert_id}", headers=h).json()
    assert detail["status"] == "read" and detail["reasons"] and detail["action"]
    assert client.post(f"/api/items/{alert_id}/ack", headers=h).json()["status"] == "acknowledged"
    assert client.post(f"/api/items/{alert_id}/ack", headers=h).status_code == 200        # idempotent
    assert store.get(alert_id).state == "acknowledged"
    bad = client.post(f"/api/items/{alert_id}/outcome", headers=h, json={"kind": "搞定了"})
    assert bad.status_code == 422 and "已走访" in bad.json()["error"]["message"], bad.json()
    ok = client.post(f"/api/items/{alert_id}/outcome", headers=h, json={"kind": "已化解", "note": "双方达成调解协议"})
    assert ok.status_code == 200 and ok.json()["status"] == "reported"
    assert store.get(alert_id).state == "outcome_reported"
    assert client.get("/api/items", headers=h).json()["count"] == 0
    assert client.get("/api/items?status=all", headers=h).json()["count"] == 1
    labels = store.outcome_labels()
    row = labels.iloc[0]
    assert (row.kind, row.kind_label, row.note, row.alert_level) == ("resolved", "已化解", "双方达成调解协议", "yellow")
    assert row.person_id == store.get(alert_id).person_id and row.ruleset_version == "rules-2026.11.1"


def test_report_without_ack_acknowledges_first(client, store, delivered):
    alert_id = delivered[1]
    _, h = _token(store, alert_id)
    assert client.post(f"/api/items/{alert_id}/outcome", headers=h, json={"kind": "false_alarm"}).status_code == 200
    steps = [x["to"] for x in store.history(alert_id) if x["to"]]
    assert steps[-2:] == ["acknowledged", "outcome_reported"]
    assert store.outcome_labels().iloc[0].kind == "false_alarm"


def test_another_inboxs_item_is_not_found(client, store, delivered):
    _, h = _token(store, delivered[0])
    r = client.get(f"/api/items/{delivered[1]}", headers=h)
    assert r.status_code == 404 and r.json()["error"]["kind"] == "not_found" and "收件箱中没有" in r.text
    assert client.post(f"/api/items/{delivered[1]}/ack", headers=h).status_code == 404


def test_withdrawn_items_show_a_notice_and_refuse_actions(client, store, delivered, engine, clock):
    alert_id = delivered[0]
    _, h = _token(store, alert_id)
    store.withdraw(alert_id, by="r", reason="误报")
    pump(engine, clock=clock)
    item = client.get(f"/api/items/{alert_id}", headers=h).json()
    assert item["status"] == "withdrawn" and item["notice"] == "该预警已撤回，无需处置"
    assert "person" not in item and "address" not in item
    r = client.post(f"/api/items/{alert_id}/ack", headers=h)
    assert r.status_code == 409 and r.json()["error"]["kind"] == "conflict" and "已撤回" in r.text


def test_two_places_two_inboxes_each_report(client, store, engine, world_tables, directory, clock):
    [r] = store.ingest([scored(person_with_two_places(world_tables, directory))])
    store.approve(r.alert_id, by="r", reason="x")
    pump(engine, clock=clock)
    sends = store.deliveries(r.alert_id)
    hukou = next(d for d in sends if d.places == ["hukou"])
    res = next(d for d in sends if d.places == ["residence"])
    for d, kind in ((hukou, "已走访"), (res, "已转交")):
        h = {"Authorization": "Bearer " + issue_inbox_token(store.engine, d.inbox_id, staff_id=d.staff_id)}
        item = client.get(f"/api/items/{r.alert_id}", headers=h).json()
        assert item["places"] == (["户籍地"] if d is hukou else ["居住地"])
        assert client.post(f"/api/items/{r.alert_id}/outcome", headers=h, json={"kind": kind}).status_code == 200
    labels = store.outcome_labels()
    assert sorted(labels.kind) == ["referred", "visited"] and set(labels.staff_id) == {hukou.staff_id, res.staff_id}


def test_the_mobile_page_is_chinese_and_uses_relative_api_paths(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    for text in ("预警收件箱", "签收", "已走访", "已化解", "已转交", "误报", 'lang="zh-CN"'):
        assert text in html
    assert 'base + "api/' in html


def test_errors_have_the_one_json_shape(client, store, delivered):
    alert_id = delivered[0]
    _, h = _token(store, alert_id)
    r = client.get("/api/items/999999", headers=h)                              # ours: InboxItemNotFound
    assert r.status_code == 404
    assert r.json() == {"error": {"kind": "not_found",
                                  "message": "收件箱中没有该预警 / no item for alert 999999 in this inbox."}}
    r = client.get("/api/nowhere", headers=h)                                   # the framework's: no route
    assert r.status_code == 404 and r.json()["error"]["kind"] == "not_found" and set(r.json()) == {"error"}
    r = client.post(f"/api/items/{alert_id}/outcome", headers=h, json={"kind": "已走访", "note": "长" * 501})
    assert r.status_code == 422, r.text                                         # request validation
    err = r.json()["error"]
    assert err["kind"] == "bad_input" and err["field"] == "note" and "请求格式无效" in err["message"]
    r = client.post(f"/api/items/{alert_id}/outcome", headers=h, json={"kind": "搞定了"})      # ours: InvalidInput
    assert r.status_code == 422 and r.json()["error"]["kind"] == "bad_input" and "已走访" in r.text
    r = client.get("/api/items/abc", headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "alert_id"


def test_unmigrated_database_fails_at_start(tmp_path):
    from serving.operations.alerts import DatabaseNotMigrated

    with pytest.raises(DatabaseNotMigrated, match="weimeng db upgrade"):
        create_app(url=f"sqlite:///{tmp_path / 'empty.db'}")


@pytest.mark.service
def test_mounts_into_a_bentoml_service(tmp_path):
    bentoml = pytest.importorskip("bentoml")
    from serving.operations.alerts.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'bento.db'}")
    upgrade(engine)

    @bentoml.asgi_app(create_app(engine), path="/inbox")
    @bentoml.service
    class InboxMountCheck:
        @bentoml.api
        def ping(self) -> str:
            return "ok"

    with TestClient(InboxMountCheck.to_asgi()) as c:
        assert "预警收件箱" in c.get("/inbox/").text
        assert c.get("/inbox/api/items").status_code == 401


def test_inbox_tokens_are_issued_verified_and_revoked_by_the_inbox(engine, clock):
    from sqlalchemy.orm import Session

    from serving.operations.alerts.errors import AuthenticationError
    from serving.operations.alerts.models import InboxToken
    from serving.operations.inbox.tokens import verify_inbox_token

    token = issue_inbox_token(engine, "openid-1", staff_id="W1", label="甲", clock=clock)
    assert token.startswith("wm_") and len(token) > 40
    clock.advance(minutes=5)
    with Session(engine) as s, s.begin():
        who = verify_inbox_token(s, token, now=clock.now)
    assert (who.inbox_id, who.staff_id, who.label) == ("openid-1", "W1", "甲")
    with engine.connect() as conn:
        row = conn.execute(sa.select(InboxToken.token_hash, InboxToken.last_used_at)).one()
    assert row.token_hash == hash_token(token) and row.last_used_at == clock.now
    assert revoke_inbox_tokens(engine, "openid-1") == 1 and revoke_inbox_tokens(engine, "openid-1") == 0
    for bad in (token, "wm_unknown", None):
        with Session(engine) as s, s.begin(), pytest.raises(AuthenticationError):
            verify_inbox_token(s, bad, now=clock.now)


# -- issue 13: audit, hostile input, headers, docs, token expiry ----------------------------------------
def test_reads_acks_and_outcomes_are_audited_without_the_note(client, store, delivered, engine):
    from serving.operations import audit

    alert_id = delivered[0]
    inbox_id, h = _token(store, alert_id)
    staff_id = store.deliveries(alert_id)[0].staff_id
    note = "邻居称要报复，已联系村委会"
    assert client.get(f"/api/items/{alert_id}", headers=h).status_code == 200
    assert client.post(f"/api/items/{alert_id}/ack", headers=h).status_code == 200
    assert client.post(f"/api/items/{alert_id}/outcome", headers=h,
                       json={"kind": "resolved", "note": note}).status_code == 200
    entries = audit.entries(engine, subject=f"alert:{alert_id}", limit=50)
    by_action = {e.action: e for e in entries}
    assert {"inbox.read", "inbox.ack", "inbox.outcome"} <= set(by_action)
    for e in (by_action[a] for a in ("inbox.read", "inbox.ack", "inbox.outcome")):
        assert e.actor == f"cadre:{staff_id or inbox_id}" and e.detail["inbox_id"] == inbox_id
        assert e.detail["person_id"] == store.get(alert_id).person_id
    assert by_action["inbox.outcome"].detail["kind"] == "resolved"
    assert all(note not in str(e.detail) for e in audit.entries(engine, limit=500))
    assert audit.verify(engine).ok
    other = client.get(f"/api/items/{delivered[1]}", headers=h)                 # another inbox's: nothing audited
    assert other.status_code == 404 and not audit.entries(engine, subject=f"alert:{delivered[1]}", action="inbox.read")


def test_ids_too_large_and_bodies_without_a_boundary_are_4xx(engine, store, delivered):
    alert_id = delivered[0]
    _, h = _token(store, alert_id)
    with TestClient(create_app(engine), raise_server_exceptions=False) as c:
        for method, path in (("get", "/api/items/99999999999999999999"), ("post", "/api/items/9223372036854775808/ack"),
                             ("post", "/api/items/-9223372036854775809/outcome")):
            r = getattr(c, method)(path, headers=h, **({"json": {"kind": "visited"}} if "outcome" in path else {}))
            assert r.status_code == 404, (path, r.text)
            assert r.json()["error"]["kind"] == "not_found" and set(r.json()) == {"error"}
        r = c.post(f"/api/items/{alert_id}/outcome", content=b"x",
                   headers={**h, "Content-Type": "multipart/form-data"})
        assert 400 <= r.status_code < 500 and set(r.json()) == {"error"}, r.text
        assert r.json()["error"]["kind"] == "bad_input"


def test_the_page_and_the_api_send_security_headers_and_no_docs(client, store, delivered):
    import base64
    import hashlib
    import re

    _, h = _token(store, delivered[0])
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    script = re.search(r"<script>(.*?)</script>", page.text, flags=re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    assert f"'sha256-{digest}'" in csp                          # the page's own script may run, nothing else
    assert 'style="' not in page.text                           # no inline style attributes the policy would block
    for r in (page, client.get("/api/items", headers=h), client.get("/api/items")):
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"] == csp
    assert client.get("/api/items", headers=h).headers["cache-control"] == "no-store"
    for path in ("/api/docs", "/docs", "/redoc", "/api/openapi.json", "/openapi.json"):
        assert client.get(path).status_code == 404, path


def test_tokens_expire_after_the_configured_age(engine, store, delivered):
    from datetime import timedelta

    from common.clock import utcnow

    inbox_id = store.deliveries(delivered[0]).pop().inbox_id

    def issued(days_ago: float) -> dict:
        t = issue_inbox_token(engine, inbox_id, clock=lambda: utcnow() - timedelta(days=days_ago))
        return {"Authorization": "Bearer " + t}

    with TestClient(create_app(engine)) as c:                                   # default: 90 days
        assert c.get("/api/me", headers=issued(89)).status_code == 200
        r = c.get("/api/me", headers=issued(91))
        assert r.status_code == 401 and "令牌已过期" in r.json()["error"]["message"]
    with TestClient(create_app(engine, token_max_age_days=7)) as c:             # configurable
        assert c.get("/api/me", headers=issued(6)).status_code == 200
        assert c.get("/api/me", headers=issued(8)).status_code == 401


def test_cli_token_commands_and_requeue_are_audited(engine, store, delivered, db_url):
    from typer.testing import CliRunner

    from serving.operations import audit
    from serving.operations.alerts.models import Delivery
    from weimeng.commands.alerts import app

    runner = CliRunner()
    r = runner.invoke(app, ["alerts", "issue-token", "--url", db_url, "--inbox-id", "o-audit", "--staff-id", "W9"])
    assert r.exit_code == 0, r.output
    token = r.output.strip()
    r = runner.invoke(app, ["alerts", "revoke-tokens", "--url", db_url, "--inbox-id", "o-audit"])
    assert r.exit_code == 0 and "revoked: 1" in r.output
    d = store.deliveries(delivered[0])[0]
    with engine.begin() as conn:
        conn.execute(sa.update(Delivery).where(Delivery.id == d.id).values(status="dead", dead_reason="test"))
    r = runner.invoke(app, ["alerts", "requeue", str(d.id), "--url", db_url, "--by", "运维", "--reason", "渠道恢复"])
    assert r.exit_code == 0, r.output
    issued = audit.entries(engine, action="inbox.token_issued", limit=5)
    assert [(e.actor, e.subject, e.detail["staff_id"]) for e in issued] == [
        ("cli:alerts issue-token", "inbox:o-audit", "W9")]
    assert token not in str(issued[0].detail) and hash_token(token) not in str(issued[0].detail)
    [revoked] = audit.entries(engine, action="inbox.tokens_revoked", limit=5)
    assert (revoked.actor, revoked.detail["revoked"]) == ("cli:alerts revoke-tokens", 1)
    [requeued] = audit.entries(engine, action="delivery.requeue", limit=5)
    assert (requeued.actor, requeued.subject, requeued.detail["by"]) == ("cli:alerts requeue", f"delivery:{d.id}",
                                                                          "运维")
