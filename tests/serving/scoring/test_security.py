"""Issue 13 in the scoring app, in-process: non-finite feature values, out-of-range dates, what status and
reload reveal, and the audit events of every person read and every refusal."""

from __future__ import annotations

import json
import math

import pytest

from tests.serving.scoring.conftest import AS_OF

NOTE = "当事人与邻居争吵，扬言要报复对方。"


def _event(pid: str, **extra) -> dict:
    return {"incident_id": "I-SEC-1", "person_id": pid, "role": "party", "event_time": "2024-11-30T10:00:00",
            "category": "neighbour", "note": NOTE, **extra}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e308, -1e308])
def test_event_refuses_non_finite_or_huge_feature_values_naming_the_field(app, keys, split_ids, value):
    status, body = app.ingest_event(keys["province"], _event(split_ids[0][0], features={"calls_30d": value}))
    assert status == 422, body
    assert body["error"]["kind"] == "bad_input" and body["error"]["field"] == "features.calls_30d"


def test_records_refuse_huge_feature_values_like_non_finite_ones(app, keys, split_ids):
    for value in (math.inf, 1e308):
        rec = {"person_id": split_ids[0][0], "as_of": AS_OF, "features": {"calls_30d": value}}
        status, body = app.score_records(keys["province"], [rec])
        assert status == 422 and body["error"]["field"] == "records[0].features.calls_30d", body


def test_a_finite_supplied_feature_value_is_still_scored(app, keys, split_ids):
    status, body = app.ingest_event(keys["province"], _event(split_ids[0][0], features={"calls_30d": 3.0}))
    assert status == 200, body


@pytest.mark.parametrize("value", ["0000-01-01", "0001-01-01T00:00:00", "9999-12-31", "1677-09-21T00:00:00+14:00"])
def test_dates_outside_the_supported_range_are_a_clean_422(app, keys, split_ids, value):
    pid = split_ids[0][0]
    status, body = app.score_ids(keys["province"], [pid], value)
    assert status == 422 and body["error"] == {**body["error"], "kind": "bad_input", "field": "as_of"}, body
    status, body = app.explain_person(keys["province"], pid, value)
    assert status == 422 and body["error"]["field"] == "as_of", body
    status, body = app.ingest_event(keys["province"], _event(pid, event_time=value))
    assert status == 422 and body["error"]["field"] == "event_time", body


def test_status_does_not_show_the_data_directory(app):
    text = json.dumps(app.status(), ensure_ascii=False)
    assert app.settings.data_dir not in text and "dir" not in app.status()["data"]
    assert app.status()["data"]["grids"] > 0


def test_reload_of_an_unknown_alias_does_not_print_the_tracking_uri(app, keys):
    before = app.scorer.bundle.model_version
    status, body = app.reload(keys["admin"], "no-such-alias")
    assert status == 503 and body["error"]["kind"] == "not_ready" and body["error"]["field"] == "alias"
    text = json.dumps(body, ensure_ascii=False)
    assert app.settings.tracking_uri not in text and "sqlite" not in text and "mlflow" not in text.lower()
    assert app.scorer.bundle.model_version == before


def _since(calls: list, n: int, app=None) -> list:
    if app is not None:  # audit events are written off the request path: wait until they are
        assert app.flush_audit()
    return calls[n:]


def test_every_person_read_is_audited_with_the_key_and_no_note_text(app, keys, split_ids, audit_calls):
    inside, outside = split_ids
    key_id = app.keys.verify(keys["chengdu"]).key_id
    assert app.flush_audit()  # earlier reads' entries are in before counting
    n = len(audit_calls)
    assert app.explain_person(keys["chengdu"], inside[0], AS_OF)[0] == 200
    assert app.ingest_event(keys["chengdu"], _event(inside[1]))[0] == 200
    assert app.score_ids(keys["chengdu"], [inside[2], outside[0], "NOBODY-9"], AS_OF)[0] == 200
    got = [(e.action, e.subject) for e in _since(audit_calls, n, app)]
    assert got == [("api.explain", f"person:{inside[0]}"), ("api.event", f"person:{inside[1]}"),
                   ("api.refused", f"person:{outside[0]}"), ("api.score", f"person:{inside[2]}")]
    for e in _since(audit_calls, n):
        assert key_id in e.actor and "成都市平台" in e.actor and e.detail["key_id"] == key_id
        assert NOTE not in json.dumps(e.detail, ensure_ascii=False)


def test_refusals_are_audited_once_each(app, keys, split_ids, audit_calls):
    outside = split_ids[1]
    assert app.flush_audit()  # earlier reads' entries are in before counting
    n = len(audit_calls)
    assert app.explain_person(keys["chengdu"], outside[0], AS_OF)[0] == 403
    assert app.ingest_event(keys["chengdu"], _event(outside[1]))[0] == 403
    assert app.explain_person("wrong-key", outside[0], AS_OF)[0] == 401
    assert app.reload(keys["chengdu"])[0] == 403
    got = [(e.action, e.subject, e.detail.get("endpoint")) for e in _since(audit_calls, n, app)]
    assert got == [("api.refused", f"person:{outside[0]}", "explain"), ("api.refused", f"person:{outside[1]}", "event"),
                   ("api.refused", "request:explain", "explain"), ("api.refused", "request:reload", "reload")]
    assert _since(audit_calls, n)[2].actor == "apikey:none"


def test_a_failing_audit_sink_does_not_fail_the_read_nor_lose_the_event(app, keys, split_ids, audit_calls,
                                                                         monkeypatch, caplog):
    def broken(events):
        raise RuntimeError(f"cannot write {events[0].subject}")

    assert app.flush_audit()
    assert app.flush_audit()  # earlier reads' entries are in before counting
    n = len(audit_calls)
    monkeypatch.setattr(app, "audit_sink", broken)
    status, _ = app.explain_person(keys["province"], split_ids[0][0], AS_OF)
    assert status == 200
    assert not app.flush_audit(retry=True)  # the hand-over failed: the event stays queued
    assert "audit sink failed" in caplog.text and split_ids[0][0] not in caplog.text
    assert len(audit_calls) == n
    monkeypatch.undo()  # the sink works again: the queued event is written, not lost
    assert app.flush_audit(retry=True)
    assert [(e.action, e.subject) for e in audit_calls[n:]] == [("api.explain", f"person:{split_ids[0][0]}")]


def test_the_audit_log_sink_writes_hash_chained_entries(app, keys, split_ids, tmp_path, monkeypatch):
    from serving.operations.alerts.db import make_engine
    from serving.operations.audit import entries, verify
    from serving.operations.sink import AuditLogSink
    from tests._shared import migrated_sqlite

    url = f"sqlite:///{migrated_sqlite(tmp_path / 'ops.db')}"
    sink = AuditLogSink(url)
    monkeypatch.setattr(app, "audit_sink", sink)
    inside, outside = split_ids
    assert app.explain_person(keys["chengdu"], inside[0], AS_OF)[0] == 200
    assert app.score_ids(keys["chengdu"], [inside[1], outside[0]], AS_OF)[0] == 200
    assert app.flush_audit()
    engine = make_engine(url)
    rows = sorted(entries(engine), key=lambda e: e.seq)
    assert [(r.action, r.subject) for r in rows] == [("api.explain", f"person:{inside[0]}"),
                                                     ("api.refused", f"person:{outside[0]}"),
                                                     ("api.score", f"person:{inside[1]}")]
    key_id = app.keys.verify(keys["chengdu"]).key_id
    assert all(key_id in r.actor and r.detail["key_id"] == key_id for r in rows)
    assert verify(engine).ok


def test_the_audit_log_sink_keeps_each_act_s_own_time_in_one_batch(tmp_path):
    from datetime import UTC, datetime, timedelta

    from common.records import AuditEvent
    from serving.operations.alerts.db import make_engine
    from serving.operations.audit import entries, verify
    from serving.operations.sink import AuditLogSink
    from tests._shared import migrated_sqlite

    url = f"sqlite:///{migrated_sqlite(tmp_path / 'ops.db')}"
    t0 = datetime(2025, 6, 1, 7, 0, tzinfo=UTC)
    times = [t0, t0 + timedelta(seconds=1), None, t0 + timedelta(seconds=3)]
    AuditLogSink(url)([AuditEvent("apikey:k1 push", "api.score", f"person:P{i}", {"key_id": "k1"}, at=t)
                       for i, t in enumerate(times)])
    engine = make_engine(url)
    rows = sorted(entries(engine), key=lambda e: e.seq)
    assert [r.subject for r in rows] == [f"person:P{i}" for i in range(4)]
    assert [r.at for r in rows[:2]] + [rows[3].at] == [t0, t0 + timedelta(seconds=1), t0 + timedelta(seconds=3)]
    assert rows[2].at > t0 + timedelta(days=1)        # no time given: the time of writing
    assert verify(engine).ok


def test_the_default_settings_name_the_audit_log_sink():
    from serving.scoring.settings import ServingSettings

    assert ServingSettings.load(None).audit_sink == "serving.operations.sink:AuditLogSink"


def test_an_audit_sink_that_cannot_be_imported_stops_start_up():
    from serving.scoring.app import import_sink
    from serving.scoring.errors import ServingConfigError

    with pytest.raises(ServingConfigError) as info:
        import_sink("serving.nowhere:Sink", "audit_sink")
    assert info.value.field == "audit_sink"
