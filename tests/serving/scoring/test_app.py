"""The scoring application in-process: per-item statuses, scope, malformed input, events, explain,
atomic reload, the batch run and the CLI."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from tests.serving.scoring.conftest import AS_OF


def _audit_lines(app) -> list[dict]:
    from pathlib import Path

    p = Path(app.settings.home) / "serving" / "audit.jsonl"
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines()] if p.exists() else []


def test_each_item_gets_its_own_status(app, keys, split_ids):
    inside, outside = split_ids
    ids = [inside[0], "NOBODY-1", outside[0], inside[1]]
    status, body = app.score_ids(keys["chengdu"], ids, AS_OF)
    assert status == 200
    assert [it["status"] for it in body["items"]] == ["ok", "unknown_person", "out_of_scope", "ok"]
    assert [it["http_status"] for it in body["items"]] == [200, 404, 403, 200]
    assert "result" not in body["items"][2] and body["counts"] == {"ok": 2, "unknown_person": 1, "out_of_scope": 1}
    assert body["model_version"] and body["ruleset_version"] and body["catalog_version"]
    assert any(a["person_id"] == outside[0] and a["code"] == "out_of_scope" for a in _audit_lines(app))


def test_province_key_sees_everyone(app, keys, split_ids):
    inside, outside = split_ids
    status, body = app.score_ids(keys["province"], inside[:3] + outside[:3], AS_OF, "all")
    assert status == 200 and body["counts"] == {"ok": 6}
    assert all(it["result"]["explanation"] is not None or it["result"]["level"] == "none" for it in body["items"])


@pytest.mark.parametrize("key, code", [(None, 401), ("wm_deadbeef_" + "x" * 40, 401), ("garbage", 401)])
def test_missing_or_wrong_keys_are_refused(app, split_ids, key, code):
    status, body = app.score_ids(key, split_ids[0][:1], AS_OF)
    assert status == code and body["error"]["field"] == "X-API-Key"


def test_bad_input_names_the_field_and_the_reason(app, keys, split_ids):
    pid = split_ids[0][0]
    status, body = app.score_ids(keys["province"], [pid], "2024-13-45")
    assert status == 422 and body["error"]["field"] == "as_of" and "不是有效日期" in body["error"]["message"]
    status, body = app.score_ids(keys["province"], [pid], "2031-01-01")
    assert status == 422 and "data window" in body["error"]["message"]
    status, body = app.score_ids(keys["province"], [], AS_OF)
    assert status == 422 and body["error"]["field"] == "person_ids"
    rec = {"person_id": pid, "as_of": AS_OF, "features": {"calls_30dd": 3}}
    status, body = app.score_records(keys["province"], [rec])
    assert status == 422 and body["error"]["field"] == "records[0].features.calls_30dd"
    assert "calls_30d" in body["error"]["message"]  # did-you-mean


def test_supplied_records_are_scored_and_scoped(app, keys, split_ids):
    inside, outside = split_ids
    recs = [{"person_id": inside[0], "as_of": AS_OF, "features": {"threat_30d": 2, "calls_30d": 5}},
            {"person_id": outside[0], "as_of": AS_OF, "features": {"calls_30d": 1}},
            {"person_id": "NEW-PERSON", "as_of": AS_OF, "features": {"calls_30d": 1},
             "residence_address_code": "510104001001-0001"},
            {"person_id": "NEW-PERSON-2", "as_of": AS_OF, "features": {}}]
    status, body = app.score_records(keys["chengdu"], recs)
    assert status == 200
    assert [it["status"] for it in body["items"]] == ["ok", "out_of_scope", "ok", "unknown_person"]


def test_an_urgent_event_returns_an_alert_at_once_and_reaches_the_sink(app, keys, split_ids, sink_calls):
    pid = split_ids[0][0]
    event = {"incident_id": "I-T-1", "person_id": pid, "role": "party", "event_time": "2024-11-30T23:10:00+08:00",
             "category": "marital", "flag_threat": True, "note": "扬言要同归于尽", "features": None}
    n = len(sink_calls)
    status, body = app.ingest_event(keys["chengdu"], event)
    assert status == 200, body
    assert body["urgent"] is True and body["level"] == "red"
    alert = body["alert"]
    assert {"FE001"} <= {h["rule_id"] for h in alert["explanation"]["rule_hits"]}
    assert "family_emotion" in alert["categories"] and alert["source"] == "event"
    assert alert["extra"]["feature_source"] == "store+incident"
    assert len(sink_calls) == n + 1 and sink_calls[-1].person_id == pid and body["sink"] == "ok"


def test_errors_have_the_one_json_shape(app, keys, split_ids):
    status, body = app.explain_person(keys["province"], "NOBODY", AS_OF)
    assert status == 404
    assert body == {"error": {"kind": "not_found", "message": "数据中没有此人 / not in the service's data.",
                              "field": "person_id"}}
    status, body = app.score_ids(keys["province"], split_ids[0][:1], "2024-13-45")
    assert status == 422 and set(body) == {"error"} and set(body["error"]) == {"kind", "message", "field"}
    assert body["error"]["kind"] == "bad_input" and body["error"]["field"] == "as_of"
    status, body = app.score_ids(keys["chengdu"], ["NOBODY-1", split_ids[1][0]], AS_OF)
    assert status == 200
    assert [it["error"]["kind"] for it in body["items"]] == ["not_found", "forbidden"]
    assert all(it["error"]["field"] == "person_id" and it["error"]["message"] for it in body["items"])


def test_an_out_of_scope_event_or_explain_is_refused_whole(app, keys, split_ids):
    pid = split_ids[1][0]
    event = {"incident_id": "I-T-2", "person_id": pid, "role": "party", "event_time": "2024-11-30T10:00:00",
             "category": "debt", "features": None}
    status, body = app.ingest_event(keys["chengdu"], event)
    assert status == 403 and body["error"]["kind"] == "forbidden" and "管辖范围" in body["error"]["message"]
    status, body = app.explain_person(keys["chengdu"], pid, AS_OF)
    assert status == 403


def test_explain_gives_every_factor_every_rule_and_history(app, keys, population):
    pid = population["person_id"].iloc[5]
    status, body = app.explain_person(keys["province"], pid, AS_OF, 3)
    assert status == 200
    person = body["person"]
    assert person["explanation"] is not None and len(person["explanation"]["factors"]) > app.policy.top_factors
    assert [h["as_of"] for h in body["history"]] == ["2024-10-01", "2024-11-01", "2024-12-01"]
    assert body["history"][-1]["probability"] == person["probability"]
    status, body = app.explain_person(keys["province"], "NOBODY", AS_OF)
    assert status == 404


def test_reload_needs_admin_and_swaps_atomically_without_dropping_requests(app, keys, population, small_store,
                                                                             tracking_uri):
    from tests.serving.scoring.modelkit import register_model

    status, body = app.reload(keys["province"])
    assert status == 403 and body["error"]["kind"] == "forbidden" and "管理员" in body["error"]["message"]
    before = app.scorer.bundle.model_version
    register_model(small_store, tracking_uri, ["2024-10-01", "2024-12-01"], rounds=30, seed=7, version_note="v2")
    ids = population["person_id"].head(50).tolist()
    errors, versions = [], set()
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            s, b = app.score_ids(keys["province"], ids, AS_OF)
            if s != 200:
                errors.append(b)
                continue
            vs = {it["result"]["model_version"] for it in b["items"]}
            if len(vs) != 1 or vs != {b["model_version"]}:
                errors.append(("mixed versions", vs, b["model_version"]))
            versions.update(vs)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        status, body = app.reload(keys["admin"])
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert status == 200, body
    assert body["previous"]["model_version"] == before and body["current"]["model_version"] != before
    assert not errors
    assert app.scorer.bundle.model_version == body["current"]["model_version"]
    assert app.status()["model_version"] == body["current"]["model_version"]


def test_batch_cli_writes_scores_levels_categories_and_explanations(app, small_world, tracking_uri, tmp_path,
                                                                   monkeypatch, serving_home):
    import typer
    from typer.testing import CliRunner

    from weimeng.commands import serve as serve_cmd

    cli = typer.Typer()
    cli.command(name="score")(serve_cmd.score_command)
    cli.command(name="noop")(lambda: None)
    monkeypatch.setenv("WEIMENG_HOME", str(serving_home))
    out = tmp_path / "scores.parquet"
    res = CliRunner().invoke(cli, ["score", "--data", str(small_world), "--as-of", AS_OF, "--out", str(out),
                                   "--jsonl", str(tmp_path / "s.jsonl"), "--tracking-uri", tracking_uri])
    assert res.exit_code == 0, res.output
    t = pd.read_parquet(out)
    assert len(t) == len(app.source.population_frame(pd.Timestamp(AS_OF)))
    assert {"probability", "level", "categories", "summary", "explanation_json", "model_version"} <= set(t.columns)
    flagged = t[t["level"] != "none"]
    assert len(flagged) and flagged["summary"].notna().all()
    assert t.loc[t["level"] == "none", "explanation_json"].isna().all()
    res = CliRunner().invoke(cli, ["score", "--data", str(small_world), "--as-of", "2024-02-30", "--out", str(out)])
    assert res.exit_code == 2 and "as-of" in res.output


def test_records_with_mixed_time_zones_are_read_as_local_time(app, keys, split_ids):
    pid = split_ids[0][0]
    recs = [{"person_id": pid, "as_of": "2024-11-30T16:00:00Z", "features": {"calls_30d": 2}},
            {"person_id": pid, "as_of": AS_OF, "features": {"calls_30d": 2}}]
    status, body = app.score_records(keys["province"], recs)
    assert status == 200
    # both are Beijing midnight of 2024-12-01; the API answers in UTC with the offset (issue 11, the clock)
    assert [it["result"]["as_of"] for it in body["items"]] == ["2024-11-30T16:00:00+00:00"] * 2
    snap = body["items"][0]["result"]["snapshot_time"]
    assert snap.endswith("+00:00") and abs(datetime.fromisoformat(snap) - datetime.now(UTC)) < timedelta(days=1)
