"""The alert sink between scoring and the alert store: AlertStoreSink on its own, the scoring app's
hand-over (send_alerts, the event path) and the `alert_sink` setting."""

from __future__ import annotations

import logging
import shutil
import threading
from datetime import UTC, datetime

import pytest

from common.errors import ConfigurationError, NotReady
from common.records import Explanation, RuleHitView, ScoredPerson, SinkReport
from tests._shared import migrated_sqlite
from tests.serving.scoring.conftest import AS_OF


@pytest.fixture(scope="module")
def store_template(tmp_path_factory):
    return migrated_sqlite(tmp_path_factory.mktemp("sink_db") / "template.db")


@pytest.fixture
def store_url(store_template, tmp_path):
    path = tmp_path / "alerts.db"
    shutil.copy(store_template, path)
    return f"sqlite:///{path}"


def _scored(pid: str, level: str = "red", probability: float | None = 0.4, urgent: bool = False,
            categories=("retaliation",)) -> ScoredPerson:
    t = datetime(2024, 11, 30, 14, 30, tzinfo=UTC)
    hit = RuleHitView("RS001", "1", categories[0], level, urgent, "扬言报复")
    return ScoredPerson(person_id=pid, as_of=t, probability=probability, level=level, categories=tuple(categories),
                        explanation=Explanation(summary="红色预警：扬言报复", rule_hits=(hit,)),
                        ruleset_version="rules-1", model_version="3", catalog_version="c1", snapshot_time=t,
                        source="event", urgent=urgent)


def _sink(url):
    from serving.operations.sink import AlertStoreSink

    return AlertStoreSink(url)


def test_flagged_people_are_filed_in_the_review_queue(store_url):
    sink = _sink(store_url)
    report = sink([_scored("P-A", urgent=True), _scored("P-B", level="orange"), _scored("P-C", level="none")])
    assert isinstance(report, SinkReport)
    assert (report.filed, report.unchanged, report.failed) == (2, 1, 0)
    queue = sink.store.review_queue()
    assert [a.person_id for a in queue] == ["P-A", "P-B"]  # urgent first
    assert sorted(report.alert_ids) == sorted(a.id for a in queue)
    assert queue[0].urgent and queue[0].source == "event" and queue[0].state == "created"


def test_a_duplicate_within_the_cooldown_is_unchanged_and_a_higher_level_is_filed(store_url):
    sink = _sink(store_url)
    first = sink([_scored("P-A", level="orange")])
    again = sink([_scored("P-A", level="orange", probability=0.3)])
    raised = sink([_scored("P-A", level="red", probability=0.5)])
    assert (first.filed, again.filed, again.unchanged, raised.filed) == (1, 0, 1, 1)
    assert again.alert_ids == ()
    assert [a.level for a in sink.store.review_queue()] == ["red"]  # the orange one was superseded


def test_one_bad_record_is_counted_failed_and_never_costs_the_others(store_url, caplog):
    sink = _sink(store_url)
    bad_level = _scored("SECRET-PERSON-1", level="purple")
    bad_probability = _scored("SECRET-PERSON-2", probability=7.0)
    caplog.set_level(logging.DEBUG, logger="weimeng")
    report = sink([_scored("P-1"), bad_level, _scored("P-2"), "not a record", bad_probability, _scored("P-3")])
    assert (report.filed, report.unchanged, report.failed) == (3, 0, 3)
    assert sorted(a.person_id for a in sink.store.review_queue()) == ["P-1", "P-2", "P-3"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "not filed" in logged
    for secret in ("SECRET-PERSON", "P-1", "P-2", "P-3", "扬言报复"):  # no person ids, no note text in logs
        assert secret not in logged


def test_an_unmigrated_store_is_refused_with_a_clear_not_ready_error(tmp_path):
    import sqlite3

    from serving.operations.sink import AlertStoreSink, StoreNotReady

    missing = tmp_path / "missing.db"
    with pytest.raises(StoreNotReady) as err:
        AlertStoreSink(f"sqlite:///{missing}")
    assert isinstance(err.value, NotReady) and err.value.http_status == 503
    assert "weimeng db upgrade" in err.value.message and "未迁移" in err.value.message
    assert not missing.exists()  # checking does not leave an empty store behind
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(StoreNotReady) as err:
        AlertStoreSink(f"sqlite:///{empty}")
    assert "weimeng db upgrade" in err.value.message and "None" in err.value.message  # at no revision
    with pytest.raises(ConfigurationError):
        AlertStoreSink("mysql://somewhere/alerts")


def test_the_default_url_comes_from_the_settings(store_url, monkeypatch):
    from serving.operations.sink import AlertStoreSink

    monkeypatch.setenv("WEIMENG_DATABASE_URL", store_url)
    sink = AlertStoreSink()
    assert sink.where == store_url
    assert sink([_scored("P-ENV")]).filed == 1


def test_the_sink_is_safe_from_many_threads(store_url):
    _hand_over_from_threads(_sink(store_url))


@pytest.mark.service
def test_the_sink_is_safe_from_many_threads_on_postgresql():
    from serving.operations.alerts.db import upgrade
    from tests._postgres import temporary_database

    with temporary_database("wm_sink") as url:
        upgrade(url)
        sink = _sink(url)
        assert sink.store.engine.dialect.name == "postgresql" and not sink._serial  # no process lock here
        _hand_over_from_threads(sink)
        sink.store.engine.dispose()


def _hand_over_from_threads(sink) -> None:
    reports, errors = [], []

    def hand_over(i: int) -> None:
        try:
            # every thread: 5 people of its own, and one person all threads share
            reports.append(sink([_scored(f"T{i}-{k}") for k in range(5)] + [_scored("SHARED")]))
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=hand_over, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.failed for r in reports) == 0
    assert sum(r.filed for r in reports) == 8 * 5 + 1      # the shared person once ...
    assert sum(r.unchanged for r in reports) == 7           # ... and a duplicate for the other seven
    assert len(sink.store.review_queue(limit=1000)) == 41


# -- the scoring app's side ------------------------------------------------------------------------

def _bare_app(**kwargs):
    """A ScoringApp with no model or data: enough for the sink plumbing."""
    from serving.scoring.app import ScoringApp
    from serving.scoring.settings import ServingSettings

    return ScoringApp(ServingSettings(), policy=None, scorer=None, source=None, keys=None, **kwargs)


def test_alert_sink_names_are_imported_and_checked():
    from serving.operations.sink import AlertStoreSink
    from serving.scoring.app import import_sink
    from serving.scoring.errors import ServingConfigError
    from serving.scoring.settings import ServingSettings

    assert ServingSettings.load(None).alert_sink == "serving.operations.sink:AlertStoreSink"  # the default
    assert import_sink("serving.operations.sink:AlertStoreSink") is AlertStoreSink
    assert import_sink(None) is None and import_sink("") is None
    for bad in ("serving.operations.sink", "serving.operations.sink:Nope", "no_such_module_xyz:f",
                "serving.operations.sink:FILED_ACTIONS"):
        with pytest.raises(ServingConfigError) as err:
            import_sink(bad)
        assert err.value.field == "alert_sink"


def test_the_scoring_app_does_not_import_the_operations_wing_statically():
    import ast
    from pathlib import Path

    import serving.scoring.app as mod

    tree = ast.parse(Path(mod.__file__).read_text(encoding="utf-8"))
    names = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [n for n in names if n.startswith("serving.operations")]


def test_send_alerts_hands_over_only_flagged_people_and_returns_the_report(store_url):
    from serving.operations.sink import AlertStoreSink

    app = _bare_app(sink=AlertStoreSink(store_url))
    report = app.send_alerts([_scored("P-1"), _scored("P-2", level="none"), _scored("P-3", level="yellow")])
    assert (report.filed, report.unchanged, report.failed) == (2, 0, 0)
    assert app.send_alerts([_scored("P-4", level="none")]) == SinkReport()
    assert _bare_app().send_alerts([_scored("P-5")]) == SinkReport()  # no sink configured


def test_under_a_budget_everyone_scored_reaches_the_sink_for_the_watch_list(store_url):
    from dataclasses import replace

    import sqlalchemy as sa

    from serving.operations.alerts.models import WatchEntry
    from serving.operations.sink import AlertStoreSink

    def budgeted(sp, watch):
        return replace(sp, extra={"county": "510104", "watch": watch,
                                  "thresholds": {"version": "t1", "county": "510104", "budget_per_run": 2}})

    seen = []
    sink = AlertStoreSink(store_url)
    app = _bare_app(sink=lambda scored: (seen.append(len(scored)), sink(scored))[1])
    report = app.send_alerts([budgeted(_scored("P-1"), False), budgeted(_scored("P-2", level="none"), True),
                              budgeted(_scored("P-3", level="none"), False)])
    assert seen == [3] and report.filed == 1
    with sink.store.engine.connect() as conn:
        assert list(conn.scalars(sa.select(WatchEntry.person_id))) == ["P-2"]
    app.send_alerts([budgeted(_scored("P-2", level="none"), False)])   # nobody flagged: still handed over
    with sink.store.engine.connect() as conn:
        assert list(conn.scalars(sa.select(WatchEntry.person_id))) == []


def test_a_failing_or_broken_sink_counts_failed_and_never_raises():
    def boom(scored):
        raise RuntimeError("store exploded")

    assert _bare_app(sink=boom).send_alerts([_scored("P-1"), _scored("P-2")]) == SinkReport(failed=2)
    assert _bare_app(sink=lambda scored: None).send_alerts([_scored("P-1")]) == SinkReport(failed=1)


def test_a_store_not_ready_at_start_is_retried_on_a_later_hand_over(tmp_path, monkeypatch):
    from serving.operations.alerts.db import upgrade
    from serving.operations.sink import AlertStoreSink
    from serving.scoring import app as app_mod

    url = f"sqlite:///{tmp_path / 'later.db'}"
    app = _bare_app(sink_factory=lambda: AlertStoreSink(url))
    assert app.open_sink() is None  # opening failed; the app lives on
    assert app._sink_error and "未迁移" in app._sink_error
    assert app.send_alerts([_scored("P-1")]) == SinkReport(failed=1)
    upgrade(url)
    assert app.send_alerts([_scored("P-1")]) == SinkReport(failed=1)  # within the retry pause: no retry yet
    monkeypatch.setattr(app_mod, "SINK_RETRY_SECONDS", 0.0)
    report = app.send_alerts([_scored("P-1")])
    assert report.filed == 1 and app.sink is not None and app._sink_error is None
    with pytest.raises(NotReady):
        _bare_app(sink_factory=lambda: AlertStoreSink(f"sqlite:///{tmp_path / 'never.db'}")).open_sink(
            raise_errors=True)


def test_an_urgent_event_lands_in_the_review_queue_of_the_store(app, keys, split_ids, store_url, monkeypatch):
    """The in-process event path with the real sink: the alert is in the queue when the answer returns."""
    from serving.operations.sink import AlertStoreSink

    sink = AlertStoreSink(store_url)
    monkeypatch.setattr(app, "sink", sink)
    pid = split_ids[0][1]
    event = {"incident_id": "I-SINK-1", "person_id": pid, "role": "party", "event_time": "2024-11-30T21:10:00+08:00",
             "category": "family", "flag_threat": True, "note": "扬言报复", "features": None}
    status, body = app.ingest_event(keys["chengdu"], event)
    assert status == 200, body
    assert body["urgent"] is True and body["sink"] == "ok"
    queue = sink.store.review_queue()
    assert [a.person_id for a in queue] == [pid] and queue[0].urgent and queue[0].level == "red"
    assert body["sink_report"] == {"filed": 1, "unchanged": 0, "failed": 0, "alert_ids": [queue[0].id]}
    # the same incident again: the store keeps one alert (dedup), the answer says so
    status, body = app.ingest_event(keys["chengdu"], event)
    assert status == 200 and body["sink_report"]["unchanged"] == 1 and len(sink.store.review_queue()) == 1


def test_score_apis_hand_over_only_with_sink_on_score(app, keys, population, store_url, monkeypatch):
    from serving.operations.sink import AlertStoreSink

    sink = AlertStoreSink(store_url)
    monkeypatch.setattr(app, "sink", sink)
    ids = population["person_id"].tolist()[:300]
    status, body = app.score_ids(keys["province"], ids, AS_OF, "none")
    assert status == 200 and body["sink"] == "none" and sink.store.review_queue() == []
    flagged = body["levels"].get("red", 0) + body["levels"].get("orange", 0) + body["levels"].get("yellow", 0)
    monkeypatch.setattr(app, "settings", app.settings.model_copy(update={"sink_on_score": True}))
    status, body = app.score_ids(keys["province"], ids, AS_OF, "none")
    assert status == 200
    if flagged:
        assert body["sink"] == "ok" and body["sink_report"]["filed"] == flagged
        assert len(sink.store.review_queue(limit=1000)) == flagged
    else:  # pragma: no cover - the small world always flags someone among 300
        assert body["sink"] == "none"


def test_weimeng_score_send_alerts_files_and_reports_in_chinese(app, small_world, tracking_uri, tmp_path,
                                                                monkeypatch, serving_home, store_url):
    import typer
    from typer.testing import CliRunner

    from serving.operations.alerts import AlertStore
    from weimeng.commands import serve as serve_cmd

    cli = typer.Typer()
    cli.command(name="score")(serve_cmd.score_command)
    cli.command(name="noop")(lambda: None)
    monkeypatch.setenv("WEIMENG_HOME", str(serving_home))
    monkeypatch.setenv("WEIMENG_DATABASE_URL", store_url)
    out = tmp_path / "scores.parquet"
    args = ["score", "--data", str(small_world), "--as-of", AS_OF, "--out", str(out), "--tracking-uri", tracking_uri,
            "--explain", "none", "--send-alerts"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    import pandas as pd

    n_flagged = int((pd.read_parquet(out)["level"] != "none").sum())
    assert n_flagged > 0
    assert f"新增或更新 {n_flagged:,} 条" in res.output and "失败 0 条" in res.output
    assert len(AlertStore.open(store_url).review_queue(limit=100_000)) == n_flagged
    res = CliRunner().invoke(cli, args)  # again: nothing new, all unchanged
    assert res.exit_code == 0 and f"未变 {n_flagged:,} 条" in res.output
    # an unmigrated store stops the run before scoring, with the fix in the message
    monkeypatch.setenv("WEIMENG_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    out.unlink()
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and "weimeng db upgrade" in res.output and not out.exists()
