"""The rules-only baseline score and the backtest, on a tiny store whose figures are known by hand."""

from __future__ import annotations

import pandas as pd
import pytest

import rules
from rules.backtesting import monthly_snapshots
from rules.errors import BacktestError, RuleInputError
from tests.rules._helpers import FakeStore


def test_level_rank():
    assert [rules.level_rank(x) for x in ("none", None, "yellow", "orange", "red")] == [0, 0, 1, 2, 3]
    with pytest.raises(ValueError, match="unknown level 'pink'"):
        rules.level_rank("pink")


def test_baseline_score_orders_by_level_then_number_of_rules():
    t = pd.Timestamp("2026-01-01")
    hits = pd.DataFrame({"person_id": ["A", "B", "B", "B", "C"] + ["D"] * 12, "as_of": t,
                         "rule_id": ["R1", "R1", "R2", "R2", "R9"] + [f"R{i}" for i in range(12)],
                         "level": ["red", "orange", "orange", "yellow", "yellow"] + ["orange"] * 12})
    pop = pd.DataFrame({"person_id": ["C", "A", "B", "D", "E"], "as_of": t}, index=[10, 11, 12, 13, 14])
    s = rules.rules_baseline_score(hits, pop)
    assert list(s.index) == [10, 11, 12, 13, 14] and s.name == "rules_score"
    assert s.round(3).tolist() == [1.1, 3.1, 2.2, 2.9, 0.0]   # D: 12 orange rules stay below one red
    empty = rules.rules_baseline_score(hits.iloc[:0], pop)
    assert (empty == 0).all()
    # Different as_of is a different person-snapshot.
    assert rules.rules_baseline_score(hits, pop.assign(as_of=pd.Timestamp("2026-02-01"))).eq(0).all()
    with pytest.raises(RuleInputError, match="level"):
        rules.rules_baseline_score(hits.drop(columns="level"), pop)


def test_baseline_from_evaluate_batch(default_ruleset):
    frame = pd.DataFrame({"person_id": ["A", "B"], "as_of": pd.Timestamp("2026-01-01"),
                          "kw_emotion_90d": [2.0, 0.0], "threat_30d": [2.0, 0.0], "failed_mediations_90d": [1.0, 0]})
    hits = rules.evaluate_batch(default_ruleset, frame, strict=False)
    score = rules.rules_baseline_score(hits, frame[["person_id", "as_of"]])
    assert score.tolist() == [pytest.approx(3.2), 0.0]  # RT002 red + FE005 yellow


def test_monthly_snapshots():
    assert monthly_snapshots("2025-01-31", "2025-04-30") == [pd.Timestamp(x) for x in
                                                              ("2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30")]
    with pytest.raises(BacktestError, match="before"):
        monthly_snapshots("2025-02-01", "2025-01-01")


@pytest.fixture()
def store():
    feats = {
        # January: P0 RT003 (orange), P1 FE005 (yellow), P3 RT003 + FE005.
        "2026-01-01": {"P0": {"kw_retaliation_90d": 2}, "P1": {"kw_emotion_90d": 2},
                       "P3": {"kw_retaliation_90d": 3, "kw_emotion_90d": 2}},
        # February: P0 RT003 again; P4 HR002 (orange).
        "2026-02-01": {"P0": {"kw_retaliation_90d": 2}, "P4": {"care_missed_followup_180d": 2}},
    }
    # Outcomes: P0 in Feb (positive for Jan and Feb snapshots), P5 (never flagged) in January.
    outcomes = [("P0", "2026-02-15"), ("P5", "2026-01-20"), ("P2", "2025-06-01")]
    return FakeStore(feats, outcomes, data_end="2026-05-15")


def test_backtest_figures(store, default_ruleset, tmp_path):
    res = rules.backtest(store, default_ruleset, "2026-01-01", "2026-03-01", horizon_days=90)
    # March's horizon ends 2026-05-30 > data end 2026-05-15: skipped.
    assert res.snapshots == [pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01")]
    assert res.skipped_snapshots == [pd.Timestamp("2026-03-01")]
    assert res.n_person_snapshots == 12
    assert res.n_positive == 3          # (P0, Jan), (P5, Jan), (P0, Feb)
    pr = res.per_rule.set_index("rule_id")
    assert pr.loc["RT003", ["hits", "people", "true_positives"]].tolist() == [3, 2, 2]
    assert pr.loc["RT003", "precision"] == pytest.approx(2 / 3)
    assert pr.loc["RT003", "recall"] == pytest.approx(2 / 3)
    assert pr.loc["RT003", "lift"] == pytest.approx((2 / 3) / (3 / 12))
    assert pr.loc["FE005", ["hits", "true_positives"]].tolist() == [2, 0] and pr.loc["FE005", "precision"] == 0
    assert pr.loc["RD001", "hits"] == 0 and pd.isna(pr.loc["RD001", "precision"]) and pr.loc["RD001", "needs_event"]
    overall = res.overall.set_index("scope")
    any_rule = overall.loc["任一规则 any rule"]
    assert any_rule[["hits", "people", "true_positives"]].tolist() == [5, 4, 2]   # P0 x2, P1, P3, P4
    assert overall.loc["红 red", "hits"] == 0
    assert res.overlap.loc["RT003", "FE005"] == pytest.approx(1 / 4)   # {P0J,P3J,P0F} vs {P1J,P3J}
    assert res.overlap.loc["RT003", "RT003"] == 1.0 and pd.isna(res.overlap.loc["RD001", "RD002"])
    # Grid load: G1 has P0 (Jan, Feb) + P1 (Jan) = 3 alerts; G2 P3 + P4 = 2; G3 none. Weeks: Jan 1 - Mar 1.
    weeks = 59 / 7
    load = res.grid_load.set_index("grid_id")["alerts"].to_dict()
    assert load == {FakeStore.GRIDS[0]: 3, FakeStore.GRIDS[1]: 2, FakeStore.GRIDS[2]: 0}
    assert res.grid_load_summary["max_per_week"] == pytest.approx(3 / weeks)
    assert res.grid_load_summary["grids_with_alerts"] == 2
    assert res.per_snapshot["flagged"].tolist() == [3, 2]

    md, html = res.to_markdown(), res.to_html()
    assert "| RT003 |" in md and "66.7%" in md and "规则回测" in md
    assert html.startswith("<!doctype html>") and "RT003" in html and "<script" not in html
    paths = res.write(tmp_path)
    assert [p.suffix for p in paths] == [".md", ".html", ".csv"] and all(p.stat().st_size > 0 for p in paths)


def test_backtest_rejects_window_without_horizon(store, default_ruleset):
    with pytest.raises(BacktestError, match="choose --to 2026-02-14 or earlier"):
        rules.backtest(store, default_ruleset, "2026-03-01", "2026-04-01")


def test_backtest_prints_rich(store, default_ruleset):
    from rich.console import Console

    res = rules.backtest(store, default_ruleset, "2026-01-01", "2026-02-01")
    console = Console(record=True, width=200)
    res.print(console)
    text = console.export_text()
    assert "RT003" in text and "精确率" in text and "网格预警负荷" in text


def test_backtest_latest_replays_newest_versions(default_ruleset):
    # RD002 v1 (>= 4) until 2025-07-01, v2 (>= 3) after; RT006 only from 2026-11-29.
    feats = {"2025-01-01": {"P0": {"max_calls_same_dispute_7d": 3}, "P1": {"prior_outcomes": 1, "threat_90d": 1}}}
    store = FakeStore(feats, [("P0", "2025-02-01")], data_end="2025-06-01")
    as_was = rules.backtest(store, default_ruleset, "2025-01-01", "2025-01-01").per_rule.set_index("rule_id")
    as_now = rules.backtest(store, default_ruleset, "2025-01-01", "2025-01-01", latest=True)
    now = as_now.per_rule.set_index("rule_id")
    assert as_was.loc["RD002", "hits"] == 0 and as_was.loc["RT006", "hits"] == 0
    assert now.loc["RD002", "hits"] == 1 and now.loc["RD002", "true_positives"] == 1 and now.loc["RT006", "hits"] == 1
    assert "最新版本" in as_now.to_markdown()
    # without latest=True the report says the versions in force at each snapshot were replayed
    as_was_result = rules.backtest(store, default_ruleset, "2025-01-01", "2025-01-01")
    assert as_was_result.latest is False and as_now.latest is True
    assert "当日生效" in as_was_result.to_markdown() and "最新版本" not in as_was_result.to_markdown()
