"""The public tip page: no login, nothing about the tipper stored or logged, floods damped, duplicates joined."""

from __future__ import annotations

import logging
import time

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serving.operations.alerts.models import Base
from serving.operations.grassroots import GrassrootsPolicy, TipIntake
from serving.operations.grassroots.tip_page import create_tip_app
from serving.operations.inbox import create_app
from serving.operations.inbox.tokens import issue_inbox_token

TIPPER_IP = "203.0.113.77"
TIPPER_UA = "Mozilla/5.0 (Linux; Android 14; flood-test-device-8842)"


def _client_from_header(app):
    """An ASGI wrapper that takes the client address from ``X-Test-Client`` (many clients from one TestClient)."""
    async def wrapped(scope, receive, send):
        if scope["type"] == "http":
            for k, v in scope["headers"]:
                if k == b"x-test-client":
                    scope = {**scope, "client": (v.decode(), 40000)}
        await app(scope, receive, send)
    return wrapped


@pytest.fixture
def intake(engine, grassroots_directory, clock):
    return TipIntake(engine, grassroots_directory, clock=clock)


@pytest.fixture
def tips(intake):
    with TestClient(_client_from_header(create_tip_app(intake)), client=(TIPPER_IP, 51234),
                    headers={"User-Agent": TIPPER_UA}) as c:
        yield c


def _all_text(engine) -> str:
    """Every value of every table of the store, as text."""
    out = []
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                out.append(" ".join(str(v) for v in row))
        out.extend(str(r) for r in conn.execute(sa.text("SELECT * FROM audit_log")))
    return "\n".join(out)


def test_the_page_needs_no_login_and_knows_its_address(tips, staff_pick):
    r = tips.get(f"/{staff_pick['address']}")
    assert r.status_code == 200 and "匿名反映矛盾纠纷" in r.text and "不记录您的手机号、IP地址" in r.text
    assert staff_pick["address"].split("-")[1] + "号" in r.text
    assert "set-cookie" not in r.headers and "'unsafe-inline'" not in r.headers["content-security-policy"]
    assert tips.get("/510107999999-0001").status_code == 404


def test_a_tip_is_stored_without_anything_about_the_tipper(tips, engine, staff_pick, caplog):
    caplog.set_level(logging.DEBUG)
    body = {"category": "家庭纠纷", "urgency": "较急", "observations": ["obs_violence"],
            "note": "楼上夫妻深夜打架摔东西"}
    r = tips.post(f"/{staff_pick['address']}", json=body)
    assert r.status_code == 200 and r.json()["accepted"] is True and "已收到" in r.json()["message"]
    assert "id" not in r.json(), "nothing to track a tipper by"
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT address_code, grid_id, category, urgency, status FROM tips")).one()
    assert tuple(row) == (staff_pick["address"], staff_pick["grid"], "family", "soon", "submitted")
    everything = _all_text(engine)
    assert "楼上夫妻" in everything            # the scan does read the stored values
    for trace in (TIPPER_IP, "51234", "flood-test-device", "Android"):
        assert trace not in everything, f"{trace!r} stored"
        assert trace not in caplog.text, f"{trace!r} logged"
    with engine.connect() as conn:
        actors = conn.execute(sa.text("SELECT DISTINCT actor FROM audit_log WHERE action = 'tip.received'")).all()
    assert [a for (a,) in actors] == ["public:tip-page"]


def test_bad_tips_are_refused_and_not_counted(tips, engine, staff_pick):
    r = tips.post(f"/{staff_pick['address']}", json={"category": "吵架"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "category"
    assert tips.post("/510107999999-0001", json={"category": "family"}).status_code == 404
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM tips")).scalar_one() == 0


def test_duplicates_join_the_first_tip_and_do_not_open_an_item(tips, engine, staff_pick, grassroots_directory, clock):
    body = {"category": "neighbour", "note": "三楼  噪音 扰民，邻居扬言报复"}
    first = tips.post(f"/{staff_pick['address']}", json=body, headers={"X-Test-Client": "198.51.100.1"})
    dup = tips.post(f"/{staff_pick['address']}", json={**body, "note": "三楼噪音扰民，邻居扬言报复"},
                    headers={"X-Test-Client": "198.51.100.2"})
    assert (first.json()["duplicate"], dup.json()["duplicate"]) == (False, True)
    officer = staff_pick["officer"]
    token = issue_inbox_token(engine, officer["inbox_id"], staff_id=officer["staff_id"])
    with TestClient(create_app(engine, directory=grassroots_directory, clock=clock)) as inbox:
        h = {"Authorization": "Bearer " + token}
        open_tips = inbox.get("/api/handle", headers=h).json()["tips"]
        assert len(open_tips) == 1 and open_tips[0]["note"] == "三楼  噪音 扰民，邻居扬言报复"
        tid = open_tips[0]["id"]
        bad = inbox.post(f"/api/tips/{tid}/handle", headers=h, json={"verdict": "属实", "person_id": "P999999"})
        assert bad.status_code == 422 and "不住在线索地址" in bad.json()["error"]["message"]
        done = inbox.post(f"/api/tips/{tid}/handle", headers=h,
                          json={"verdict": "属实", "note": "已上门调解", "person_id": staff_pick["person"]}).json()
        assert (done["verdict"], done["verdict_label"], done["linked_person_id"]) == ("confirmed", "属实",
                                                                                     staff_pick["person"])
        other = staff_pick["other_officer"]
        t2 = issue_inbox_token(engine, other["inbox_id"], staff_id=other["staff_id"])
        assert inbox.post(f"/api/tips/{tid}/sign", headers={"Authorization": "Bearer " + t2}).status_code == 404


@pytest.mark.parametrize("n", [pytest.param(500, id="500"), pytest.param(10_000, id="10000", marks=pytest.mark.slow)])
def test_a_flood_from_one_client_is_damped_to_its_quota_with_no_server_error(tips, engine, staff_pick, n):
    statuses: dict[int, int] = {}
    t0 = time.perf_counter()
    for i in range(n):
        r = tips.post(f"/{staff_pick['address']}", json={"category": "other", "note": f"刷屏{i}"})
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
    elapsed = time.perf_counter() - t0
    policy = GrassrootsPolicy()
    assert statuses == {200: policy.tips_per_client_window, 429: n - policy.tips_per_client_window}, statuses
    assert elapsed < n * 0.05          # refused tips take the cheap path (about 4 ms each through the test client)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM tips")).scalar_one() == policy.tips_per_client_window


def test_a_flood_from_many_clients_stops_at_the_codes_daily_quota(tips, engine, staff_pick, clock):
    statuses: dict[int, int] = {}
    for i in range(10_000):
        r = tips.post(f"/{staff_pick['address']}", json={"category": "other", "note": f"刷屏{i}"},
                      headers={"X-Test-Client": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"})
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        if r.status_code == 429 and statuses[429] > 50:
            break                     # every later request takes the same cheap path (counted below)
    quota = GrassrootsPolicy().tips_per_code_per_day
    assert statuses[200] == quota and set(statuses) == {200, 429}
    assert "今日线索已达上限" in r.json()["error"]["message"] and r.headers["retry-after"] == "600"
    clock.advance(days=1)         # a new Beijing day: the code takes tips again
    ok = tips.post(f"/{staff_pick['address']}", json={"category": "other", "note": "次日"},
                   headers={"X-Test-Client": "192.0.2.200"})
    assert ok.status_code == 200


def test_qr_codes_per_building(tmp_path, alerts_world):
    import pandas as pd
    from typer.testing import CliRunner

    from weimeng.commands.alerts import app

    addresses = pd.read_parquet(alerts_world / "addresses.parquet")
    village = str(addresses["village_code"].iloc[0])
    r = CliRunner().invoke(app, ["alerts", "tip-qr", "--data", str(alerts_world), "--base-url", "https://wm.example",
                                 "--out", str(tmp_path / "qr"), "--prefix", village])
    assert r.exit_code == 0, r.output
    index = pd.read_csv(tmp_path / "qr" / "index.csv", dtype=str)
    assert len(index) == int((addresses["village_code"] == village).sum()) and "已生成" in r.output
    first = index.iloc[0]
    assert first["url"] == f"https://wm.example/tip/{first['address_code']}"
    svg = (tmp_path / "qr" / first["file"]).read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "<svg" in svg and first["address_code"] in svg
    bad = CliRunner().invoke(app, ["alerts", "tip-qr", "--data", str(alerts_world), "--base-url", "wm.example",
                                   "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "http" in bad.output
