"""The alert budget end to end: thresholds fixed with the model version in the registry, the per-county
ceiling, batch/service agreement, the watch list and "风险上升", urgent hits outside the budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.serving.scoring.conftest import AS_OF, DATES
from training.budget import AlertThresholds, BudgetConfig, budget_cuts, county_budgets, fit_thresholds, rank_keys

#: A generous bar (eight times the budget on the validation months) so the ceiling has work to do.
TIGHT = BudgetConfig(headroom=8.0)


@pytest.fixture(scope="module")
def budget_uri(tmp_path_factory, small_store, small_world):
    from tests.serving.scoring.modelkit import register_model
    from training.policy_backtest import validation_thresholds
    from training.registry import load_model_version, register_thresholds

    uri = f"sqlite:///{tmp_path_factory.mktemp('budget_mlflow') / 'mlflow.db'}"
    version = register_model(small_store, uri, DATES, version_note="budget")
    model = load_model_version(version=version, alias=None, tracking_uri=uri)
    assert "alert_thresholds" not in model.metadata  # none until they are fixed
    th = validation_thresholds(model, small_world, TIGHT, dates=DATES[:2])
    register_thresholds(version, th, tracking_uri=uri)
    return uri, version, th


def _start(serving_home, small_world, uri):
    from serving.scoring.app import ScoringApp
    from serving.scoring.settings import ServingSettings

    s = ServingSettings.load(None, overrides={
        "home": str(serving_home), "data_dir": str(small_world), "tracking_uri": uri, "default_as_of": AS_OF,
        "watch_seconds": 0.2, "registry_poll_seconds": 0, "auth_required": False})
    return ScoringApp.start(s, sink=lambda s: None, watch=False)


@pytest.fixture(scope="module")
def bapp(tmp_path_factory, small_world, budget_uri):
    a = _start(tmp_path_factory.mktemp("budget_home"), small_world, budget_uri[0])
    yield a
    a.close()


@pytest.fixture(scope="module")
def batch(bapp):
    from serving.scoring.batch import score_population

    return score_population(bapp, AS_OF)


def test_thresholds_come_from_the_registry_with_the_model_and_show_in_status(bapp, budget_uri):
    from training.registry import registered_thresholds

    _, version, th = budget_uri
    b = bapp.scorer.bundle
    assert b.thresholds.mode == "budget" and b.thresholds.budget is not None
    assert b.thresholds.budget == AlertThresholds.from_dict(registered_thresholds(version, tracking_uri=budget_uri[0]))
    assert b.thresholds.version == th.version
    st = bapp.status()
    assert st["alert_budget"]["thresholds_version"] == th.version
    assert st["alert_budget"]["alerts_per_run"] == sum(th.budgets.values())
    assert st["thresholds"]["thresholds_version"] == th.version


def test_non_urgent_alerts_never_exceed_the_county_budget_and_the_highest_risks_are_kept(batch, budget_uri):
    table, scored = batch
    th = budget_uri[2]
    alerts = table[(table["level"] != "none") & ~table["urgent"]]
    assert len(alerts) > 0
    per_county = alerts.groupby("county").size()
    for county, n in per_county.items():
        assert n <= th.budgets[county], county
    over = table[table["over_budget"]]
    assert len(over) > 0, "the tight bar should leave candidates outside some county's budget"
    for county, grp in over.groupby("county"):
        kept = alerts[alerts["county"] == county]
        assert len(kept) == th.budgets[county]                  # a full county keeps exactly its budget
        assert kept["probability"].min() >= grp["probability"].max()
    assert (over["level"] == "none").all()
    above = over[[p >= th.for_county(c)["watch"] for p, c in zip(over["probability"], over["county"], strict=True)]]
    assert len(above) > 0 and above["watch"].all()            # outside the budget, above the watch bar: watched
    assert (table.loc[table["watch"], "level"] == "none").all()
    # every alert says which bars it was levelled against
    s = next(x for x in scored if x.level != "none")
    assert s.extra["thresholds"]["version"] == th.version and s.extra["thresholds"]["county"] == s.extra["county"]


def test_batch_and_service_give_the_same_level_to_everyone(tmp_path_factory, small_world, budget_uri, batch):
    table, _ = batch
    svc = _start(tmp_path_factory.mktemp("budget_home2"), small_world, budget_uri[0])  # a fresh service, cold cache
    try:
        assert svc.scorer.bundle.thresholds.budget == AlertThresholds.from_dict(
            svc.scorer.bundle.model.metadata["alert_thresholds"])
        ids = table["person_id"].tolist()
        levels = {}
        # small requests (the event engine's path for rules, the fast calibrator path) and one large one
        for start in range(0, 160, 16):
            _, body = svc.score_ids(None, ids[start:start + 16], AS_OF, explain="none")
            levels.update({it["person_id"]: it["result"]["level"] for it in body["items"]})
        for start in range(160, len(ids), 1000):
            _, body = svc.score_ids(None, ids[start:start + 1000], AS_OF, explain="flagged")
            levels.update({it["person_id"]: it["result"]["level"] for it in body["items"]})
    finally:
        svc.close()
    batch_levels = dict(zip(table["person_id"], table["level"], strict=True))
    assert levels == batch_levels
    assert (table["level"] != "none").any() and table["over_budget"].any()


def test_someone_on_the_watch_list_whose_risk_rises_into_the_budget_becomes_an_alert_risen(bapp, batch):
    from serving.scoring.batch import RISEN_REASON, score_population, watch_list

    table, _ = batch
    wl = watch_list(table)
    assert len(wl) > 0 and (wl["probability"].diff().dropna() <= 0).all()
    assert set(wl["person_id"]) == set(table.loc[table["watch"], "person_id"])
    assert (table.loc[table["watch"], "level"] == "none").all()
    alerts = table[(table["level"] != "none")]
    risen, steady = alerts["person_id"].iloc[0], alerts["person_id"].iloc[1]
    previous = table.copy()
    previous["watch"] = previous["person_id"].eq(risen)      # last month: `risen` was on the watch list
    previous.loc[previous["watch"], "level"] = "none"
    now, scored = score_population(bapp, AS_OF, previous=previous)
    row = now.set_index("person_id")
    assert RISEN_REASON in row.loc[risen, "reasons"] and row.loc[risen, "summary"].startswith(RISEN_REASON)
    assert RISEN_REASON not in row.loc[steady, "reasons"]
    assert now["level"].tolist() == table["level"].tolist()   # a reason, never a different level


def test_an_urgent_event_reaches_review_outside_a_full_budget(bapp, batch, budget_uri):
    table, _ = batch
    full = table[table["over_budget"]]["county"].iloc[0]      # this county's budget is used up
    pid = table[(table["county"] == full) & (table["level"] == "none")]["person_id"].iloc[0]
    event = {"incident_id": "I-B-1", "person_id": pid, "role": "party", "event_time": "2024-11-30T23:10:00+08:00",
             "category": "marital", "flag_threat": True, "note": "扬言要同归于尽", "features": None}
    status, body = bapp.ingest_event(None, event)
    assert status == 200, body
    assert body["urgent"] is True and body["level"] == "red"
    assert body["alert"]["extra"]["over_budget"] is False


def test_the_ceiling_is_per_county_and_urgent_rows_are_not_counted():
    th = AlertThresholds(bars={}, budgets={"A": 2, "B": 1}, default={"red": 1, "orange": 1, "yellow": 0, "watch": 0})
    county = ["A", "A", "A", "B", "B", "A"]
    prob = np.array([0.9, 0.5, 0.7, 0.2, 0.3, 0.99])
    urgent = np.array([False, False, False, False, False, True])
    cand = ~urgent
    cuts, inside = budget_cuts(cand, rank_keys(np.zeros(6, bool), prob, list("abcdef")), county, th)
    assert inside.tolist() == [True, False, True, False, True, False]   # A keeps 0.9, 0.7; B keeps 0.3
    assert set(cuts) == {"A", "B"}
    # a floor-rule hit ranks before a higher probability
    floor = np.array([False, True, False, False, False, False])
    _, inside = budget_cuts(cand, rank_keys(floor, prob, list("abcdef")), county, th)
    assert inside.tolist() == [True, True, False, False, True, False]


def test_county_budgets_follow_review_and_visit_capacity_and_bars_fill_them():
    cfg = BudgetConfig(reviewers_per_county=1, cases_per_reviewer_per_week=2, visits_per_grid_per_week=0.25)
    b = county_budgets(["A"] * 4 + ["B"] * 20, cfg)
    assert b == {"A": round(1.0 * 30 / 7), "B": round(2.0 * 30 / 7)}    # visits bind in A, reviewers in B
    rng = np.random.default_rng(1)
    n = 6000
    p, c, s = rng.beta(0.5, 20, n), np.where(np.arange(n) % 3, "A", "B"), np.arange(n) % 3
    th = fit_thresholds(p, c, s, b, BudgetConfig(headroom=1.0))
    for county, k in b.items():
        per_snap = [(p[(c == county) & (s == i)] >= th.bars[county]["yellow"]).sum() for i in range(3)]
        assert abs(np.mean(per_snap) - k) <= 1
    assert th.version == fit_thresholds(p, c, s, b, BudgetConfig(headroom=1.0)).version
    assert th.version != fit_thresholds(p, c, s, b, BudgetConfig(headroom=1.5)).version


def test_policy_apply_matches_the_scorer_on_the_batch(batch, budget_uri, small_world, bapp):
    """The backtest's vectorised policy decides exactly what the scorer decided."""
    from rules.loader import load_ruleset
    from training.policy_backtest import PolicySpec, _World, apply_policy, hit_levels

    table, _ = batch
    w = _World(small_world)
    f = w.population(pd.Timestamp(AS_OF))
    model = bapp.scorer.bundle.model
    prob = model.predict_risk(f)
    floor, urgent, _ = hit_levels(load_ruleset(None), f, PolicySpec())
    res = apply_policy(prob, [w.county.get(p) for p in f["person_id"]], f["person_id"].tolist(), floor, urgent,
                       budget_uri[2])
    levels = dict(zip(f["person_id"], np.array(["none", "yellow", "orange", "red"])[res["level"]], strict=True))
    assert levels == dict(zip(table["person_id"], table["level"], strict=True))


def test_policy_backtest_reports_volume_precision_and_goals(bapp, budget_uri, small_world, tmp_path):
    from training.policy_backtest import PolicySpec, policy_backtest, write_report

    th = budget_uri[2]
    model = bapp.scorer.bundle.model
    r = policy_backtest(model, small_world, PolicySpec(budget=TIGHT), th, dates=DATES[1:3], horizon_days=60)
    assert r.snapshots == DATES[1:3] and len(r.per_snapshot) == 2
    assert r.per_snapshot["positives"].sum() > 0
    assert (r.per_snapshot["alerts"] <= r.per_snapshot["budget"]).all()       # never above the budget
    assert (r.per_prefecture["ratio_to_budget"] <= 1.0).all()
    assert set(r.comparison["scorer"]) == {"policy", "model_only", "rules_only", "oracle_records"}
    assert r.urgent["reached"] == r.urgent["hits"]
    assert r.old_policy["alerts_per_run"] > r.summary["alerts_per_run"]      # every rule a floor floods the queue
    assert list(r.curve["volume_multiple"]) == sorted(r.curve["volume_multiple"])
    assert r.curve["model"].is_monotonic_increasing
    assert len(r.goals) == 4 and all(isinstance(g["met"], bool) for g in r.goals)
    # the same budgets, another ranking: each scorer fills every county's budget with its own top people
    b = r.budgeted.set_index("scorer")
    per_run = r.per_snapshot["budget"].iloc[0]
    # (a county with fewer people than its budget alerts everyone there: at most the budget in all)
    assert 0 < b.loc["rules_only", "alerts"] == b.loc["oracle_records", "alerts"] <= 2 * per_run
    assert b.loc["policy", "alerts"] == r.per_snapshot["alerts"].sum()
    # the low-noise twin: each alerted person's true outcome probability of the simulated world
    assert ((b["expected_precision"] > 0) & (b["expected_precision"] < 1)).all()
    assert b.loc["oracle_records", "expected_precision"] > b.loc["rules_only", "expected_precision"]
    assert r.summary["ratio_to_oracle_budgeted_expected"] == pytest.approx(
        b.loc["policy", "expected_precision"] / b.loc["oracle_records", "expected_precision"])
    assert "按模拟真值期望" in r.goals[2]["measured"]
    lift, (lo, hi) = r.summary["lift_over_rules_budgeted"], r.summary["lift_over_rules_budgeted_ci"]
    if np.isfinite(lift):
        assert lo <= lift <= hi
    paths = write_report(r, tmp_path)
    md = paths["markdown"].read_text(encoding="utf-8")
    assert "## 目标 Goals" in md and "预警量-召回曲线" in md and th.version in md
    assert "<table>" in paths["html"].read_text(encoding="utf-8")


def test_the_model_card_section_states_the_fixed_thresholds(budget_uri):
    from training.card import thresholds_section

    th = budget_uri[2]
    text = thresholds_section(th.to_dict())
    assert th.version in text and f"**{sum(th.budgets.values())}**" in text
    for county in th.bars:
        assert f"| {county} | {th.budgets[county]} |" in text


def test_the_policy_commands_run_and_report_errors_in_one_line(budget_uri, small_world, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from weimeng.commands.policy import policy_app

    uri, version, _ = budget_uri
    monkeypatch.setenv("WEIMENG_HOME", str(tmp_path))
    runner = CliRunner()
    # the test model was registered without validation snapshots: the command says so in one line
    r = runner.invoke(policy_app, ["fix-thresholds", "--version", str(version), "--tracking-uri", uri, "--force",
                                   "--data", str(small_world)])
    assert r.exit_code == 2 and "验证期快照" in r.output and "Traceback" not in r.output
    bad = runner.invoke(policy_app, ["backtest", "--tracking-uri", uri, "--alias", "no-such-alias",
                                     "--data", str(small_world), "--no-agreement"])
    assert bad.exit_code == 2 and "错误 / error" in bad.output and "Traceback" not in bad.output
