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


MONITOR = {
    "status": "alarm", "reference": ["2024-04-01", "2024-06-01"], "current": ["2024-10-01", "2024-12-01"],
    "alarms": ["数据质量：成都市 威胁言语标记缺失率由 4.0% 升至 20.4%", "特征漂移", "规则命中率变化"],
    "alarm_items": [
        {"kind": "quality", "region": "成都市", "indicator": "missing:flag_threat", "reference": 0.04,
         "current": 0.204},
        {"kind": "feature_share", "share": 0.33, "threshold": 0.25,
         "features": ["calls_30d", "calls_90d", "calls_365d", "threat_90d"]},
        {"kind": "rule_rate", "rule_id": "RD002", "reference": 0.001, "current": 0.004}],
    "feature_drift": {"drifted": ["threat_90d", "calls_365d", "kw_retaliation_90d"]},
    "rule_rates": [{"rule_id": "RD002", "rate_reference": 0.001, "rate_current": 0.004, "ratio": 4.0, "z": 3.5,
                    "alarm": True},
                   {"rule_id": "RT006", "rate_reference": 0.0, "rate_current": 0.0, "ratio": 1.0, "z": 0.0,
                    "alarm": False}],
    "matured": {"pooled": {"precision_at_capacity": 0.021, "roc_auc": 0.77},
                "per_snapshot": [{"as_of": f"2024-0{m}-01T00:00:00", "rows": 900 + m, "positives": 4,
                                  "roc_auc": 0.75, "precision_at_capacity": 0.02, "recall_at_capacity": 0.3,
                                  "brier": 0.004} for m in (5, 6, 7, 8, 9)],
                "fairness": [{"as_of": "2024-09-01", "attribute": "sex", "group": "男 M", "rows": 500,
                              "fpr_ratio": 1.1, "fnr_ratio": 0.9, "precision_ratio": 1.0, "status": "ok"},
                             {"as_of": "2024-09-01", "attribute": "urban_rural", "group": "城镇 urban", "rows": 400,
                              "fpr_ratio": 1.4, "fnr_ratio": 0.9, "precision_ratio": 1.0, "status": "flagged"},
                             {"as_of": "2024-09-01", "attribute": "prefecture",
                              "group": "阿坝藏族羌族自治州 (自治州 autonomous)", "rows": 90, "fpr_ratio": None,
                              "fnr_ratio": None, "precision_ratio": None, "status": "too_small"}]}}


def visible_text(page: str) -> str:
    """What a reader sees: the text of the page and of its SVG charts, without styles and markup."""
    import html as _html
    import re

    page = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return _html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_report_has_every_section_with_numbers_and_charts(alert_db, small_store, tmp_path):
    # no end: the period is the data's last month (the small world ends in December 2024), not the wall clock
    res = build_leadership_report(tmp_path, period="monthly", store=small_store, engine=alert_db,
                                  monitor_summary=MONITOR, pdf=False)
    page = res.html.read_text(encoding="utf-8")
    for sid in SECTION_IDS:
        assert f"id='{sid}'" in page
    assert "数据期间 2024-11-30 至 2024-12-30" in res.summary_lines[0]
    assert page.count("<figure class='chart'><svg") >= 4 and "data:image/png" not in page
    assert "共生成预警 12 条" in res.summary_lines[0]
    assert "审核通过 8 条" in res.summary_lines[2]
    assert "本期非紧急预警" in res.summary_lines[1] and "/ 预算" in res.summary_lines[1]
    assert res.summary_lines[-1].startswith("审计日志检查点")
    assert "3 项告警" in page and "2.1%" in page
    # model health is a line over every matured snapshot, not one point
    model = page[page.index("id='model'"):page.index("id='drift'")]
    assert "5 个月度快照" in model and model.count("2024-0") >= 5


def test_report_speaks_chinese_without_identifiers(alert_db, small_store, tmp_path):
    """No feature id, no rule id without its title, no snake_case word, no raw Python value in what leadership
    reads, although the monitor summary behind it is full of them."""
    import re

    import rules
    from features.catalog import CATALOG, FEATURE_NAMES

    res = build_leadership_report(tmp_path, period="monthly", store=small_store, engine=alert_db,
                                  monitor_summary=MONITOR, pdf=False)
    text = visible_text(res.html.read_text(encoding="utf-8"))
    for name in FEATURE_NAMES:
        assert not re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text), name
    assert CATALOG["threat_90d"].label in text and CATALOG["calls_30d"].label in text
    for rule in rules.load_ruleset().rules:
        mentions = len(re.findall(rf"(?<![A-Za-z0-9]){rule.id}(?![0-9])", text))
        assert mentions == text.count(f"{rule.title}（规则 {rule.id}）"), rule.id
    assert "（规则 RD002）" in text
    assert not re.findall(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b", text)
    raw = re.findall(r"\{'|'\}|\[\d+, |\bNone\b|\bTrue\b|\bFalse\b|\bnan\b|\bNaN\b|<NA>|\bNaT\b", text)
    assert not raw, raw
    assert not re.search(r"\b(urban|rural|autonomous|flagged|too_small)\b", text)
    assert "weimeng " not in text                        # no commands for leadership to run
    for words in ("城镇", "阿坝藏族羌族自治州（自治州）", "超出区间且差异显著", "派出所一网考", "统计方法"):
        assert words in text


def test_report_carries_the_station_scorecard(alert_db, small_store, tmp_path):
    from serving.operations.alerts.scorecard import StationIndex, station_scorecard

    res = build_leadership_report(tmp_path, period="monthly", store=small_store, engine=alert_db,
                                  monitor_summary=MONITOR, pdf=False)
    page = res.html.read_text(encoding="utf-8")
    section = page[page.index("id='scorecard'"):page.index("id='model'")]
    card = station_scorecard(alert_db, StationIndex.from_event_store(small_store), "2024-11-30", "2024-12-31")
    first = card.table[card.table["received"] > 0].iloc[0]
    assert f"<td>{first.station}</td>" in section and "县内排名" in section and "按时审核" in section
    assert (tmp_path / f"{res.html.stem}_scorecard.csv").exists()
    assert any(line.startswith("派出所一网考") for line in res.summary_lines)


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
    res = build_leadership_report(tmp_path, period="weekly", store=small_store, engine=alert_db, pdf=True)
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
    res = build_leadership_report(tmp_path / "r", period="monthly", store=small_store, engine=alert_db,
                                  pdf=False)
    assert cp is not None and f"#{cp.seq} {cp.hash[:16]}" in res.summary_lines[-1]


def _prevention_folder(tmp_path):
    import numpy as np

    from training.loop import LoopConfig, LoopRun
    from training.loop_report import LoopResult, write_report

    def run(policy, n, expected, s):
        v = pd.DataFrame([(1, 10, 12, 0.5, 0.10, 0.04)] * n,
                         columns=["person", "alert_day", "visit_day", "efficacy", "risk_before", "risk_after"])
        o = pd.DataFrame({"person": np.arange(5), "day": 800, "kind": np.arange(5) % 3})
        return LoopRun(s, policy, v, n, o, expected)

    runs = {s: {"none": run("none", 0, 60.0, s), "rules": run("rules", 100, 58.0, s),
                "fused": run("fused", 100, 56.5 - 0.1 * s, s), "oracle": run("oracle", 100, 55.0, s)}
            for s in (1, 2, 3)}
    folder = tmp_path / "prevention"
    write_report(LoopResult(runs, LoopConfig(people=20_000)), folder)
    return folder


def test_the_report_carries_the_synthetic_prevention_section(small_store, tmp_path):
    from monitoring.report import load_prevention_section
    from training.loop_report import SECTION_TITLE, SYNTHETIC_LABEL

    section = load_prevention_section(_prevention_folder(tmp_path))
    res = build_leadership_report(tmp_path / "out", period="monthly", store=small_store, pdf=False,
                                  prevention_html=section)
    page = res.html.read_text(encoding="utf-8")
    body = page[page.index("<section id='prevention'>"):]
    assert SECTION_TITLE in body and SYNTHETIC_LABEL in body and "不代表任何真实辖区" in body
    assert "融合策略" in body and "<svg" in body and "3.70" in body  # fused: 3.6-3.8 per 100 visits
    plain = build_leadership_report(tmp_path / "plain", period="monthly", store=small_store, pdf=False)
    assert SECTION_TITLE not in plain.html.read_text(encoding="utf-8")


def test_a_folder_without_a_prevention_section_is_refused(tmp_path):
    from typer.testing import CliRunner

    from monitoring.report import load_prevention_section
    from weimeng.cli import app

    with pytest.raises(MonitorConfigError, match="section.html"):
        load_prevention_section(tmp_path)
    (tmp_path / "section.html").write_text("<h2>别的章节</h2>", encoding="utf-8")
    with pytest.raises(MonitorConfigError, match="合成世界"):
        load_prevention_section(tmp_path)
    res = CliRunner().invoke(app, ["report", "--data", str(tmp_path), "--prevention", str(tmp_path / "none"),
                                   "--no-pdf"])
    assert res.exit_code == 2 and "未找到闭环模拟" in res.output and "Traceback" not in res.output
