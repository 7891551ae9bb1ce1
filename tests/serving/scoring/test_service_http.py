"""The real service over HTTP: `bentoml serve` in a subprocess on a free port (marked `service`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._shared import free_port
from tests.serving.scoring.conftest import AS_OF

pytestmark = pytest.mark.service

REPO = Path(__file__).resolve().parents[3]


def _start(cmd_base, env, log):
    """Start the service on a fresh port; return (proc, url) or (None, reason) if it died at start-up."""
    import httpx

    port = free_port()
    cmd = cmd_base[:5] + ["-p", str(port)] + cmd_base[5:]
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            return None, f"service exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    return None, f"service not ready in 90 s:\n{log.read_text()[-3000:]}"


@pytest.fixture(scope="module")
def server_log(tmp_path_factory):
    return tmp_path_factory.mktemp("srv") / "serve.log"


@pytest.fixture(scope="module")
def ops_url(tmp_path_factory):
    """The operational store the served app writes its audit events (and alerts) to."""
    from tests._shared import migrated_sqlite

    return f"sqlite:///{migrated_sqlite(tmp_path_factory.mktemp('srv_ops') / 'ops.db')}"


@pytest.fixture(scope="module")
def server(settings, keys, server_log, ops_url):
    log = server_log
    s = settings.resolve()
    cmd = [sys.executable, "-m", "bentoml", "serve", "serving.scoring.service:WeimengScoring", "--host", "127.0.0.1"]
    for k in ("home", "data_dir", "tracking_uri", "keys_file", "default_as_of"):
        cmd += ["--arg", f"{k}={getattr(s, k)}"]
    env = {**os.environ, "WEIMENG_PROGRESS": "0", "BENTOML_DO_NOT_TRACK": "true", "WEIMENG_DATABASE_URL": ops_url}
    # BentoML picks its internal (circus/zmq) ports itself and binds them later; on a busy machine
    # another process can take one in between. Such a start-up race is retried, nothing else is.
    for _ in range(3):
        proc, url = _start(cmd, env, log)
        if proc is not None or "Address already in use" not in url:
            break
    if proc is None:
        pytest.fail(url)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _post(url, path, body, key=None):
    import httpx

    headers = {"X-API-Key": key} if key else {}
    return httpx.post(url + path, json=body, headers=headers, timeout=30)


def test_status_reports_versions(server, keys):
    r = _post(server, "/v1/status", {})
    assert r.status_code == 200
    d = r.json()
    assert d["model_version"] and d["ruleset_version"] and d["catalog_version"] and d["thresholds"]["mode"]


def test_score_over_http_with_per_item_status_and_scope(server, keys, split_ids):
    inside, outside = split_ids
    r = _post(server, "/v1/score", {"person_ids": [inside[0], outside[0], "NOBODY"], "as_of": AS_OF},
              keys["chengdu"])
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["status"] for i in items] == ["ok", "out_of_scope", "unknown_person"]
    assert items[0]["result"]["ruleset_version"] and "probability" in items[0]["result"]


def test_a_station_key_over_http_scores_and_explains_only_the_stations_people(server, app, population):
    from common.places import Jurisdiction, allows

    places = {pid: app.source.places(pid) for pid in population["person_id"]}
    pid, station = next((p, ps[1].station_id) for p, ps in places.items() if ps[1].station_id)
    j = Jurisdiction.parse(station)
    other = next(p for p, ps in places.items() if not allows([j], ps))
    key = app.keys.create("派出所平台", [station])  # the server sees the key file change
    r = _post(server, "/v1/score", {"person_ids": [pid, other], "as_of": AS_OF}, key)
    assert r.status_code == 200 and [i["status"] for i in r.json()["items"]] == ["ok", "out_of_scope"]
    assert _post(server, "/v1/explain", {"person_id": pid, "as_of": AS_OF}, key).status_code == 200
    assert _post(server, "/v1/explain", {"person_id": other, "as_of": AS_OF}, key).status_code == 403


def test_unauthenticated_and_out_of_scope_requests_are_refused(server, keys, split_ids):
    r = _post(server, "/v1/score", {"person_ids": split_ids[0][:1]})
    assert r.status_code == 401, (r.request.headers, r.text[:300])
    assert r.json()["error"]["field"] == "X-API-Key"
    r = _post(server, "/v1/explain", {"person_id": split_ids[1][0], "as_of": AS_OF}, keys["chengdu"])
    assert r.status_code == 403 and r.json()["error"]["kind"] == "forbidden" and "管辖范围" in r.text
    r = _post(server, "/v1/reload", {}, keys["chengdu"])
    assert r.status_code == 403 and r.json()["error"]["kind"] == "forbidden" and "管理员" in r.text


@pytest.mark.parametrize("path, body, status, field", [
    ("/v1/score", {"person_ids": ["bad id!"]}, 400, "person_ids"),
    ("/v1/score", {"person_ids": "P1"}, 400, "person_ids"),
    ("/v1/score", {}, 400, "person_ids"),
    ("/v1/score", {"person_ids": ["P1"], "explain": "everything"}, 400, "explain"),
    ("/v1/score", {"person_ids": ["P1"], "as_of": "yesterday"}, 422, "as_of"),
    ("/v1/score/records", {"records": [{"person_id": "P1", "as_of": AS_OF, "features": {"nope": 1}}]}, 422,
     "records[0].features.nope"),
    ("/v1/score/records", {"records": [{"person_id": "P1", "as_of": AS_OF, "features": {"calls_30d": "many"}}]},
     400, "records"),
    ("/v1/event", {"event": {"incident_id": "I1", "person_id": "P1", "role": "boss", "event_time": AS_OF,
                             "category": "debt"}}, 400, "event"),
])
def test_malformed_input_gets_a_4xx_naming_the_field(server, keys, path, body, status, field):
    r = _post(server, path, body, keys["province"])
    assert r.status_code == status, r.text
    err = r.json()["error"]  # one shape for both: {"error": {"kind", "message", "field"}}
    assert err["kind"] == "bad_input" and err["message"]
    if status == 400:  # shape errors: BentoML/pydantic validation, reshaped; field = the first bad value's path
        assert err["field"].split("[")[0].split(".")[0] == field, err
    else:
        assert err["field"] == field


def test_a_404_and_a_422_over_http_have_the_one_body(server, keys):
    r = _post(server, "/v1/explain", {"person_id": "NOBODY", "as_of": AS_OF}, keys["province"])
    assert r.status_code == 404
    assert r.json() == {"error": {"kind": "not_found", "message": "数据中没有此人 / not in the service's data.",
                                  "field": "person_id"}}
    r = _post(server, "/v1/score", {"person_ids": ["P1"], "as_of": "2024-13-45"}, keys["province"])
    assert r.status_code == 422 and set(r.json()["error"]) == {"kind", "message", "field"}
    assert r.json()["error"]["kind"] == "bad_input" and "不是有效日期" in r.json()["error"]["message"]


def test_event_and_metrics_over_http(server, keys, split_ids):
    import httpx

    pid = split_ids[0][0]
    ev = {"incident_id": "I-H-1", "person_id": pid, "role": "party", "event_time": "2024-11-30T22:30:00+08:00",
          "category": "family", "flag_threat": True}
    r = _post(server, "/v1/event", {"event": ev}, keys["province"])
    assert r.status_code == 200 and r.json()["urgent"] is True and r.json()["alert"]["level"] == "red"
    text = httpx.get(server + "/metrics", timeout=10).text
    for name in ("weimeng_requests_total", "weimeng_request_seconds", "weimeng_levels_total",
                 "weimeng_rule_hits_total", "weimeng_refusals_total"):
        assert name in text
    assert 'weimeng_levels_total{level="red",source="event"}' in text


def test_openapi_documents_the_endpoints_with_examples(server):
    import httpx

    spec = httpx.get(server + "/docs.json", timeout=10).json()
    for p in ("/v1/score", "/v1/score/records", "/v1/event", "/v1/explain", "/v1/status", "/v1/reload"):
        assert p in spec["paths"]
    assert "examples" in str(spec["paths"]["/v1/score"]) and "I20250601-0001" in str(spec)


def test_openapi_declares_the_one_error_body_for_every_error_status(server):
    import httpx

    spec = httpx.get(server + "/docs.json", timeout=10).json()
    body = spec["components"]["schemas"]["ErrorBody"]
    assert body["properties"]["error"]["required"] == ["kind", "message"]
    for path in ("/v1/score", "/v1/score/records", "/v1/event", "/v1/explain", "/v1/status", "/v1/reload"):
        responses = spec["paths"][path]["post"]["responses"]
        for code in ("400", "401", "403", "404", "422", "500", "503"):
            assert responses[code]["content"]["application/json"]["schema"] == \
                {"$ref": "#/components/schemas/ErrorBody"}, (path, code)


def test_status_over_http_does_not_show_the_data_directory(server, settings):
    r = _post(server, "/v1/status", {})
    assert r.status_code == 200 and str(settings.resolve().data_dir) not in r.text and "dir" not in r.json()["data"]


@pytest.mark.parametrize("path, body, field", [
    ("/v1/score", {"person_ids": ["P1"], "as_of": AS_OF, "persons": ["P2"]}, "persons"),
    ("/v1/explain", {"person_id": "P1", "history": True}, "history"),
    ("/v1/explain", {"person_id": "P1", "history": "3"}, "history"),
    ("/v1/event", {"event": {"incident_id": "I1", "person_id": "P1", "role": "party", "event_time": AS_OF,
                             "category": "debt", "flag_threat": 1}}, "event"),
    ("/v1/reload", {"alias": "champion", "force": True}, "force"),
])
def test_unknown_fields_and_loose_types_are_refused(server, keys, path, body, field):
    r = _post(server, path, body, keys["admin"])
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["kind"] == "bad_input" and err["field"].split("[")[0].split(".")[0] == field, err


@pytest.mark.parametrize("path, body, field", [
    ("/v1/score", {"person_ids": ["P1"], "as_of": "0000-01-01"}, "as_of"),
    ("/v1/explain", {"person_id": "P1", "as_of": "0000-01-01"}, "as_of"),
    ("/v1/event", {"event": {"incident_id": "I1", "person_id": "P1", "role": "party", "event_time": "0000-01-01",
                             "category": "debt"}}, "event_time"),
    ("/v1/event", {"event": {"incident_id": "I1", "person_id": "P1", "role": "party", "event_time": AS_OF,
                             "category": "debt", "address_code": "510104001001-0001",
                             "features": {"calls_30d": 1e308}}}, "features.calls_30d"),
])
def test_year_zero_and_huge_values_are_a_clean_422_over_http(server, keys, path, body, field):
    r = _post(server, path, body, keys["province"])
    assert r.status_code == 422, r.text
    assert r.json()["error"]["kind"] == "bad_input" and r.json()["error"]["field"] == field


def test_non_finite_feature_values_in_an_event_are_refused_over_http(server, keys, split_ids):
    import httpx

    ev = ('{"event": {"incident_id": "I1", "person_id": "%s", "role": "party", "event_time": "%s", '
          '"category": "debt", "features": {"calls_30d": %s}}}')
    for literal in ("NaN", "Infinity", "-Infinity"):
        r = httpx.post(server + "/v1/event", content=ev % (split_ids[0][0], AS_OF, literal),
                       headers={"X-API-Key": keys["province"], "Content-Type": "application/json"}, timeout=30)
        assert r.status_code in (400, 422), (literal, r.text)
        err = r.json()["error"]
        assert err["kind"] == "bad_input" and "calls_30d" in (err.get("field") or ""), r.text


def test_reads_over_http_are_in_the_audit_log(server, keys, split_ids, ops_url):
    from serving.operations.alerts.db import make_engine
    from serving.operations.audit import entries

    inside, outside = split_ids
    assert _post(server, "/v1/explain", {"person_id": inside[3], "as_of": AS_OF}, keys["chengdu"]).status_code == 200
    assert _post(server, "/v1/explain", {"person_id": outside[3], "as_of": AS_OF}, keys["chengdu"]).status_code == 403
    engine = make_engine(ops_url)
    want = {("api.explain", f"person:{inside[3]}"), ("api.refused", f"person:{outside[3]}")}
    deadline = time.monotonic() + 10  # the service writes audit events off the request path, at once
    while True:
        got = {(e.action, e.subject) for e in entries(engine, subject=[f"person:{inside[3]}", f"person:{outside[3]}"])}
        if got == want or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    engine.dispose()
    assert got == {("api.explain", f"person:{inside[3]}"), ("api.refused", f"person:{outside[3]}")}


def test_refused_requests_leave_no_person_id_or_note_text_in_the_service_log(server, server_log, keys, population):
    """A bounded fuzz of bad requests carrying real person ids and Chinese note text; the service log
    must mention neither (issue 13 row 8)."""
    import random

    rng = random.Random(13)
    ids = list(population["person_id"].iloc[100:130])
    notes = [f"测试备注{i}号：当事人与邻居争吵扬言报复" for i in range(len(ids))]
    for i, (pid, note) in enumerate(zip(ids, notes, strict=True)):
        other = rng.choice(ids)
        bad = [
            ("/v1/score", {"person_ids": [pid, "bad id!"], "as_of": AS_OF}),
            ("/v1/score", {"person_ids": [pid], "as_of": AS_OF, "note": note}),
            ("/v1/score", {"person_ids": pid}),
            ("/v1/explain", {"person_id": pid, "history": True}),
            ("/v1/explain", {"person_id": pid, "as_of": "0000-01-01"}),
            ("/v1/event", {"event": {"incident_id": f"I-{i}", "person_id": pid, "role": "boss", "event_time": AS_OF,
                                     "category": "debt", "note": note}}),
            ("/v1/event", {"event": {"incident_id": f"I-{i}", "person_id": pid, "role": "party",
                                     "event_time": AS_OF, "category": "debt", "note": note * 500}}),
            ("/v1/event", {"event": {"incident_id": pid, "person_id": other, "role": "party", "event_time": "later",
                                     "category": "debt", "note": note, "extra": pid}}),
            ("/v1/score/records", {"records": [{"person_id": pid, "as_of": AS_OF, "features": {"calls_30d": note}}]}),
        ]
        for path, body in bad:
            r = _post(server, path, body, keys["chengdu"] if i % 2 else keys["province"])
            assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:300])
        # an out-of-scope read is refused and audited, but not logged with the person
        _post(server, "/v1/explain", {"person_id": pid, "as_of": AS_OF}, keys["chengdu"])
    time.sleep(1.0)  # let the worker flush its log
    text = server_log.read_text(encoding="utf-8", errors="replace")
    assert "refused request on /v1/" in text  # the refusals are logged, without their values
    leaked = [p for p in ids if p in text] + [n for n in notes if n in text]
    assert "测试备注" not in text and not leaked, leaked[:5]
    assert "input_value" not in text


@pytest.mark.slow
def test_reload_reaches_every_worker(settings, keys, small_store, tracking_uri, tmp_path):
    """Two workers: a reload sent to one is followed by the other (token file), no request fails."""
    import httpx

    from tests.serving.scoring.modelkit import register_model

    port = free_port()
    s = settings.resolve()
    cmd = [sys.executable, "-m", "bentoml", "serve", "serving.scoring.service:WeimengScoring", "-p", str(port)]
    for k in ("home", "data_dir", "tracking_uri", "keys_file", "default_as_of", "watch_seconds"):
        cmd += ["--arg", f"{k}={getattr(s, k)}"]
    env = {**os.environ, "BENTOML_CONFIG_OPTIONS": "services.weimeng_scoring.workers=2", "BENTOML_DO_NOT_TRACK": "true"}
    log = tmp_path / "serve.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        time.sleep(3)  # both workers up
        new = register_model(small_store, tracking_uri, ["2024-11-01", "2024-12-01"], rounds=20, seed=11)
        r = _post(url, "/v1/reload", {}, keys["admin"])
        assert r.status_code == 200, r.text
        assert r.json()["current"]["model_version"] == new
        deadline = time.time() + 60
        seen: list[str] = []
        while time.time() < deadline:
            seen = [_post(url, "/v1/status", {}).json()["model_version"] for _ in range(12)]
            if set(seen) == {new}:
                break
            time.sleep(0.5)
        assert set(seen) == {new}, (seen, log.read_text()[-2000:])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
