"""Cadres file field reports from the inbox; the grid's community officer signs for and handles them (API)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serving.operations.inbox import create_app
from serving.operations.inbox.tokens import issue_inbox_token


@pytest.fixture
def client(engine, grassroots_directory, clock):
    with TestClient(create_app(engine, directory=grassroots_directory, clock=clock)) as c:
        yield c


def _auth(engine, member) -> dict:
    token = issue_inbox_token(engine, member["inbox_id"], staff_id=member["staff_id"], label="测试")
    return {"Authorization": "Bearer " + token}


def _audit(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT actor, action, subject, detail FROM audit_log ORDER BY seq")).all()
    return [{"actor": a, "action": b, "subject": c, "detail": json.loads(d)} for a, b, c, d in rows]


def test_a_cadre_files_a_report_and_the_officer_signs_and_handles_it(client, engine, staff_pick):
    worker, officer = _auth(engine, staff_pick["worker"]), _auth(engine, staff_pick["officer"])
    body = {"address_code": staff_pick["address"], "category": "邻里纠纷", "urgency": "紧急",
            "observations": ["obs_threat", "矛盾有激化迹象"], "note": "两户因漏水争吵，一方扬言要砸门"}
    r = client.post("/api/reports", headers=worker, json=body)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert (rep["status"], rep["category"], rep["urgency_label"], rep["observations"]) == (
        "submitted", "neighbour", "紧急", ["obs_conflict_rising", "obs_threat"])
    assert rep["holder"]["level_label"] == "村（社区）" and rep["deadline_text"]
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT reporter_staff_id, reporter_role, provenance, grid_id FROM field_reports"))\
            .one()
    assert tuple(row) == (staff_pick["worker"]["staff_id"], "grid_worker", "inbox", staff_pick["grid"])
    assert [i["id"] for i in client.get("/api/reports/mine", headers=worker).json()["items"]] == [rep["id"]]

    todo = client.get("/api/handle", headers=officer).json()
    assert [i["id"] for i in todo["reports"]] == [rep["id"]]
    # the grid worker does not handle, another grid's officer does not even see it
    assert client.post(f"/api/reports/{rep['id']}/sign", headers=worker).status_code == 404
    other = _auth(engine, staff_pick["other_officer"])
    assert client.get("/api/handle", headers=other).json()["reports"] == []
    assert client.post(f"/api/reports/{rep['id']}/sign", headers=other).status_code == 404

    signed = client.post(f"/api/reports/{rep['id']}/sign", headers=officer).json()
    assert signed["status"] == "signed" and signed["status_label"] == "已签收"
    assert client.post(f"/api/reports/{rep['id']}/sign", headers=officer).status_code == 200      # idempotent
    bad = client.post(f"/api/reports/{rep['id']}/handle", headers=officer, json={"handling": "搞定"})
    assert bad.status_code == 422 and "已走访" in bad.json()["error"]["message"]
    done = client.post(f"/api/reports/{rep['id']}/handle", headers=officer,
                       json={"handling": "已调解", "note": "双方签订调解协议"}).json()
    assert (done["status"], done["handling"], done["handling_label"]) == ("handled", "mediated", "已调解")
    again = client.post(f"/api/reports/{rep['id']}/handle", headers=officer, json={"handling": "visited"})
    assert again.status_code == 409
    assert client.get("/api/handle", headers=officer).json()["reports"] == []

    entries = [e for e in _audit(engine) if e["subject"] == f"report:{rep['id']}"]   # the log outlives a test
    assert [e["action"] for e in entries] == ["report.filed", "report.signed", "report.signed", "report.handled"]
    assert entries[0]["actor"] == f"cadre:{staff_pick['worker']['staff_id']}"
    assert not any("漏水" in json.dumps(e, ensure_ascii=False) or "调解协议" in json.dumps(e, ensure_ascii=False)
                   for e in entries), "notes never go to the audit log"


@pytest.mark.parametrize(("body", "status", "field", "text"), [
    ({"category": "吵架"}, 422, "category", "取值不在允许范围"),
    ({"urgency": "十万火急"}, 422, "urgency", "紧急程度"),
    ({"address_code": "武侯区某小区"}, 422, "address_code", "格式不符"),
    ({"observations": ["他脾气暴躁"]}, 422, "observations", "所见情况无效"),
    ({"note": "很" * 501}, 422, "note", ""),
])
def test_bad_reports_are_refused_with_the_field_and_a_chinese_reason(client, engine, staff_pick, body, status, field,
                                                                     text):
    worker = _auth(engine, staff_pick["worker"])
    full = {"address_code": staff_pick["address"], "category": "family", "urgency": "routine", **body}
    r = client.post("/api/reports", headers=worker, json=full)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["kind"] == "bad_input" and err["field"] == field and text in err["message"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM field_reports")).scalar_one() == 0


def test_reports_stay_inside_the_cadres_grids(client, engine, staff_pick):
    worker = _auth(engine, staff_pick["worker"])
    r = client.post("/api/reports", headers=worker, json={"address_code": staff_pick["other_address"],
                                                          "category": "family", "urgency": "routine"})
    assert r.status_code == 404 and "网格" in r.json()["error"]["message"]
    by_person = client.post("/api/reports", headers=worker, json={"person_id": staff_pick["person"],
                                                                  "category": "family", "urgency": "soon"})
    assert by_person.status_code == 200, by_person.text
    assert by_person.json()["person_id"] == staff_pick["person"]
    assert client.get("/api/reports/mine").status_code == 401


def test_the_report_page_is_served_with_its_own_csp(client):
    r = client.get("/report")
    assert r.status_code == 200 and "掌上排查上报" in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'sha256-" in csp and "unsafe-inline" not in csp


def test_filed_reports_and_tips_export_as_valid_contract_tables(client, engine, staff_pick, grassroots_directory,
                                                                 alerts_world, tmp_path, clock, db_url):
    import shutil

    from typer.testing import CliRunner

    from features.store import EventStore
    from serving.operations.grassroots import TipIntake
    from weimeng.commands.alerts import app

    worker = _auth(engine, staff_pick["worker"])
    assert client.post("/api/reports", headers=worker, json={
        "person_id": staff_pick["person"], "category": "family", "urgency": "urgent",
        "observations": ["obs_threat"], "note": "扬言"}).status_code == 200
    TipIntake(engine, grassroots_directory, clock=clock).submit(staff_pick["address"], category="neighbour",
                                                                note="楼上打架", client="192.0.2.1")
    world = tmp_path / "world"
    shutil.copytree(alerts_world, world, ignore=shutil.ignore_patterns("field_reports.parquet", "tips.parquet",
                                                                       "quarantine"))
    r = CliRunner().invoke(app, ["alerts", "export-grassroots", "--out", str(world), "--url", db_url])
    assert r.exit_code == 0 and "排查上报 1 条、匿名线索 1 条" in r.output, r.output
    es = EventStore.open(world, progress=False)
    assert es.report.summary().set_index("table").loc[["field_reports", "tips"], "dropped"].sum() == 0
    f = es.features("2026-11-02", person_ids=[staff_pick["person"]]).iloc[0]
    assert (f.reports_30d, f.reports_threat_90d, f.tips_90d) == (1, 1, 1)
