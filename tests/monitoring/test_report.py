"""The leadership report renders every section with charts, from a real alert store and a monitor run;
a headless browser opens it and finds the sections."""

from __future__ import annotations

import subprocess
from datetime import datetime

import pandas as pd
import pytest

from common.records import Explanation, RuleHitView, ScoredPerson
from monitoring.errors import MonitorConfigError
from monitoring.report import SECTION_IDS, build_leadership_report, chromium_binary, period_window


@pytest.fixture(scope="module")
def alert_db(small_store, tmp_path_factory):
    from serving.operations.alerts import AlertStore, Directory, upgrade
    from serving.operations.push.config import PushConfig
    from serving.operations.push.local import LocalInboxAdapter  # noqa: F401  (the local inbox is the default channel)
    from serving.operations.push.worker import PushWorker, build_adapters

    url = f"sqlite:///{tmp_path_factory.mktemp('alerts') / 'alerts.db'}"
    upgrade(url)
    store = AlertStore.open(url, directory=Directory.from_event_store(small_store))
    persons = small_store.population("2024-10-01").head(12).tolist()
    now = datetime(2024, 12, 20)
    scored = []
    for i, pid in enumerate(persons):
        level = ("red", "orange", "yellow")[i % 3]
        hit = RuleHitView("RD002", "2", "repeat_dispute", level, i == 0, "近7天因同一纠纷报警3次")
        scored.append(ScoredPerson(person_id=pid, as_of=now, probability=0.1 + i / 100, level=level,
                                   categories=("repeat_dispute",), explanation=Explanation("近期反复报警", (hit,)),
                                   ruleset_version="2026.11.2", model_version="1", catalog_version="2026.11.1",
                                   snapshot_time=now, urgent=i == 0))
    store.ingest(scored)
    queue = store.review_queue()
    for view in queue[:8]:
        store.approve(view.id, by="demo-reviewer", reason="测试：事实清楚，推送走访")
    for view in queue[8:10]:
        store.dismiss(view.id, by="demo-reviewer", reason="测试：已化解")
    worker = PushWorker(store.engine, build_adapters(store.engine, PushConfig()))
    worker.run(drain=True, poll_seconds=0.01)
    return store.engine


def test_period_window_and_bad_period():
    assert period_window("weekly", "2025-01-08") == (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-08"))
    assert period_window("monthly", "2025-02-01")[0] == pd.Timestamp("2025-01-01")
    with pytest.raises(MonitorConfigError, match="weekly"):
        period_window("daily", "2025-01-01")


def test_report_has_every_section_with_numbers_and_charts(alert_db, small_store, tmp_path):
    monitor = {"status": "alarm", "alarms": ["数据质量 data quality: missing:flag_threat: 4.0% → 20.4%"],
               "reference": ["2024-04-01", "2024-06-01"], "current": ["2024-10-01", "2024-12-01"],
               "feature_drift": {"drifted": ["threat_90d"]},
               "matured": {"pooled": {"precision_at_capacity": 0.021, "roc_auc": 0.77},
                           "per_snapshot": [{"as_of": "2024-09-01", "rows": 900, "positives": 4, "roc_auc": 0.75,
                                             "precision_at_capacity": 0.02, "recall_at_capacity": 0.3, "brier": 0.004}],
                           "fairness": [{"as_of": "2024-09-01", "attribute": "sex", "group": "男 M", "rows": 500,
                                         "fpr_ratio": 1.1, "fnr_ratio": 0.9, "precision_ratio": 1.0, "status": "ok"}]}}
    # the store stamps alerts with the wall clock: report on the month that ends tomorrow
    end = pd.Timestamp.now().normalize() + pd.Timedelta(days=1)
    res = build_leadership_report(tmp_path, period="monthly", end=end, store=small_store, engine=alert_db,
                                  monitor_summary=monitor, pdf=False)
    page = res.html.read_text(encoding="utf-8")
    for sid in SECTION_IDS:
        assert f"id='{sid}'" in page
    assert page.count("<figure class='chart'><svg") >= 4 and "data:image/png" not in page
    assert "共生成预警 12 条" in res.summary_lines[0]
    assert "审核通过 8 条" in res.summary_lines[2]
    assert "本期非紧急预警" in res.summary_lines[1] and "/ 预算" in res.summary_lines[1]
    assert res.summary_lines[-1].startswith("审计日志检查点")
    assert "有 1 项告警" in page and "2.1%" in page


def test_chart_labels_are_text_not_pixels():
    """Chinese labels are SVG text nodes, so any browser with Chinese fonts renders them (no tofu in a PNG)."""
    import re
    import warnings

    import pandas as pd

    from monitoring import charts

    counts = pd.DataFrame({"prefecture": ["成都市", "绵阳市"], "red": [3, 1], "orange": [5, 2], "yellow": [9, 4]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")                # no glyph or font warnings reach the person running it
        out = charts.bar_by_level(counts, "prefecture", "各市州预警数量（按等级）")
    texts = " ".join(re.findall(r"<text[^>]*>(.*?)</text>", out, flags=re.S))
    for label in ("各市州预警数量（按等级）", "成都市", "绵阳市", "红色预警", "预警数"):
        assert label in texts
    assert "aria-label='各市州预警数量（按等级）'" in out and "<image" not in out


@pytest.mark.service
@pytest.mark.skipif(chromium_binary() is None, reason="Chromium not installed (apt-get install chromium)")
def test_browser_opens_the_report_and_prints_a_pdf(alert_db, small_store, tmp_path):
    end = pd.Timestamp.now().normalize() + pd.Timedelta(days=1)
    res = build_leadership_report(tmp_path, period="weekly", end=end, store=small_store, engine=alert_db, pdf=True)
    profile = tmp_path / "profile"
    dom = subprocess.run([chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu",
                          "--disable-background-networking", f"--user-data-dir={profile}", "--dump-dom",
                          res.html.as_uri()], capture_output=True, text=True, timeout=60).stdout
    for sid in SECTION_IDS:
        assert f'id="{sid}"' in dom
    assert res.pdf is not None and res.pdf.read_bytes()[:4] == b"%PDF"


def test_the_funnel_reads_the_store_through_its_read_model(alert_db, small_store):
    from monitoring.funnel import alert_funnel

    start = pd.Timestamp.now().normalize() - pd.Timedelta(days=1)
    end = start + pd.Timedelta(days=3)
    f = alert_funnel(alert_db, small_store, start, end)
    assert f.totals() == {"created": 12, "reviewed": 10, "approved": 8, "delivered": 8, "acknowledged": 0,
                          "outcome": 0}
    assert int(f.by_region["created"].sum()) == 12 and set(f.by_region.columns) >= {"prefecture", "county"}
    assert f.by_category.to_dict("records") == [{"category": "repeat_dispute", "created": 12, "reviewed": 10,
                                                 "approved": 8, "delivered": 8, "acknowledged": 0, "outcome": 0}]
    assert f.median_hours("review_hours") is not None and f.median_hours("ack_hours") is None
    assert len(f.stale) == 0 and len(f.dead) == 0 and len(f.outcomes) == 0
    later = alert_funnel(alert_db, small_store, start, end, now=pd.Timestamp.utcnow().tz_localize(None)
                         + pd.Timedelta(days=8))
    assert len(later.stale) > 0 and set(later.stale["alert_id"]) <= set(f.alerts["id"][f.alerts["delivered"]])
    assert alert_funnel(alert_db, small_store, end, end + pd.Timedelta(days=7)).totals()["created"] == 0


def test_monitoring_reads_the_alert_store_without_sql_strings():
    """Raw SQL over the alert tables breaks silently when a column is renamed: monitoring uses the read model."""
    import re
    from pathlib import Path

    import monitoring

    for path in Path(monitoring.__file__).parent.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "sa.text(" not in text and "read_sql_query" not in text, path.name
        assert not re.search(r"\bSELECT\b.+\bFROM\b", text), path.name


def test_the_report_prints_the_newest_audit_checkpoint(alert_db, small_store, tmp_path, monkeypatch):
    from serving.operations import audit
    from serving.operations.audit.anchor import CheckpointStore

    monkeypatch.setenv("WEIMENG_HOME", str(tmp_path / "home"))
    audit.record(alert_db, "reviewer01", "case.view", "alert:1", {})
    cp = CheckpointStore.from_settings().append(alert_db)
    end = pd.Timestamp.now().normalize() + pd.Timedelta(days=1)
    res = build_leadership_report(tmp_path / "r", period="monthly", end=end, store=small_store, engine=alert_db,
                                  pdf=False)
    assert cp is not None and f"#{cp.seq} {cp.hash[:16]}" in res.summary_lines[-1]
