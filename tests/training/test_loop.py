"""The closed-loop runner (training/loop.py) and its report (training/loop_report.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from training.loop import LoopConfig, LoopRun, run_policy, soft_auc, treated_mask
from training.loop_report import (
    SECTION_TITLE,
    LoopResult,
    mean_ci,
    prevention_section,
    prevention_section_html,
    to_html,
    to_markdown,
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=2, max_size=60))
def test_soft_auc_is_roc_auc_for_hard_labels(rows):
    s = np.array([r[0] for r in rows], dtype=float)
    y = np.array([r[1] for r in rows], dtype=float)
    if y.min() == y.max():
        assert np.isnan(soft_auc(s, y))
        return
    assert soft_auc(s, y) == pytest.approx(roc_auc_score(y, s))


def test_soft_auc_ranks_by_probability():
    p = np.linspace(0.01, 0.3, 200)
    assert soft_auc(p, p) > 0.6 > soft_auc(-p, p)
    assert soft_auc(np.zeros(200), p) == pytest.approx(0.5)


def test_treated_mask_marks_label_windows_overlapping_a_visit():
    d = pd.Timestamp("2025-01-01")
    frame = pd.DataFrame({"person_id": ["A", "A", "A", "B"],
                          "as_of": [d, d + pd.Timedelta(days=60), d - pd.Timedelta(days=100), d]})
    visits = pd.DataFrame({"person_id": ["A"], "visit_time": [d + pd.Timedelta(days=10)]})
    # A's visit on day 10: inside (as_of - 90, as_of + 90] for as_of = d and d + 60 (still shaping the
    # label window, the effect lingers), not for as_of = d - 100 (window ends at d - 10); B never visited
    assert treated_mask(frame, visits, 90, 90).tolist() == [True, True, False, False]
    assert not treated_mask(frame, visits.iloc[:0], 90, 90).any()


def _run(policy, visits, expected, outcomes, seed=1):
    v = pd.DataFrame(visits, columns=["person", "alert_day", "visit_day", "efficacy", "risk_before", "risk_after"])
    o = pd.DataFrame({"person": np.arange(outcomes), "day": 800, "kind": np.arange(outcomes) % 3})
    return LoopRun(seed, policy, v, len(v), o, expected)


def test_report_counts_prevention_per_100_visits_against_no_system():
    visit = (1, 10, 12, 0.5, 0.10, 0.04)
    runs = {s: {"none": _run("none", [], 50.0 + s, 50, s),
                "rules": _run("rules", [visit] * 100, 48.0 + s, 49, s),
                "fused": _run("fused", [visit] * 100, 46.0 + s, 47, s),
                "oracle": _run("oracle", [visit] * 100, 45.0 + s, 46, s)} for s in (1, 2, 3)}
    res = LoopResult(runs, LoopConfig(people=20_000))
    t = res.table.set_index("policy")
    assert t.loc["fused", "prevented_expected_per_100"] == pytest.approx(4.0)
    assert t.loc["rules", "prevented_per_100"] == pytest.approx(1.0)
    assert t.loc["fused", "risk_removed_per_100"] == pytest.approx(6.0)
    goals = {g["goal"][:8]: g for g in res.goals}
    fused_rules = next(g for g in res.goals if "仅规则" in g["goal"])
    assert fused_rules["met"] and fused_rules["measured"].startswith("2.00×")
    fused_oracle = next(g for g in res.goals if "真值上限" in g["goal"])
    assert fused_oracle["met"] and "0.80×" in fused_oracle["measured"]
    assert goals
    section = prevention_section(res)
    assert section.startswith(f"## {SECTION_TITLE}") and "合成世界" in section and "4.00" in section
    md, page = to_markdown(res), to_html(res)
    assert "融合策略" in md and "policy" not in section
    assert "<svg" in page and "<text" in page            # the chart keeps its text as text
    snippet = prevention_section_html(res)
    assert SECTION_TITLE in snippet and "合成世界" in snippet and "<svg" in snippet


def test_mean_ci_over_seeds():
    m, lo, hi = mean_ci([1.0, 2.0, 3.0])
    assert m == 2.0 and lo < 2.0 < hi and hi - 2.0 == pytest.approx(4.303 * 1.0 / np.sqrt(3))
    assert np.isnan(mean_ci([1.0])[1])


def test_loop_visits_respect_the_budget_and_the_grid_capacity():
    cfg = LoopConfig(people=8000, pre_days=60, loop_days=60, tail_days=10)
    none = run_policy(61, "none", cfg)
    rnd = run_policy(61, "random", cfg)
    orc = run_policy(61, "oracle", cfg)
    assert none.visits.empty and none.alerts == 0
    gap = 7.0 / cfg.budget.visits_per_grid_per_week
    for r in (rnd, orc):
        v = r.visits
        assert len(v) > 20 and r.alerts >= len(v)
        assert ((v["visit_day"] - v["alert_day"]) >= cfg.ack_delay_days[0]).all()
        assert (v["efficacy"] <= 0.55 + 1e-12).all()
        assert v["person"].is_unique                      # nobody visited twice within the revisit gap (60 days)
        from training.loop import _World

        grid = _World(61, cfg).persons.res_grid[v["person"].to_numpy()]
        for _, days in v.assign(grid=grid).groupby("grid")["visit_day"]:
            assert (np.diff(np.sort(days.to_numpy())) >= gap - 1).all()
    # the oracle visits people at higher risk than random visits do (in this tiny world every county's
    # minimum budget of one alert covers almost half of the population, so the gap is small)
    assert orc.visits["risk_before"].mean() > 1.1 * rnd.visits["risk_before"].mean()
    # with no visits the world is the simulator's world: the same outcomes as a run without any callback
    assert len(none.outcomes) == len(run_policy(61, "none", cfg).outcomes)


@pytest.mark.slow
def test_fused_loop_retrains_with_both_handlings():
    cfg = LoopConfig(people=20_000, loop_days=90, tail_days=10, retrain_steps=(2,))
    r = run_policy(71, "fused", cfg)
    retrains = [s for s in r.steps if "retrain" in s and "failed" not in s]
    by = {s["retrain"]: s for s in retrains}
    assert {"c2-exclude", "c2-naive"} <= set(by)
    assert by["c2-naive"]["rows_used"] == by["c2-naive"]["rows"]
    assert by["c2-exclude"]["rows_used"] == by["c2-exclude"]["rows"] - by["c2-exclude"]["treated_rows"] > 0
    assert r.auc is not None and {"c1", "c2-exclude", "c2-naive"} <= set(r.auc["model"])
    assert (r.auc["oracle_auc"] > 0.6).all()


def test_paired_comparisons_use_the_per_seed_ratios():
    visit = (1, 10, 12, 0.5, 0.10, 0.04)
    # per 100 visits: rules prevents 1, 2, 4 and fused 2, 2, 6 (ratios 2, 1, 1.5); the oracle 4, 4, 8
    runs = {s: {"none": _run("none", [], 100.0, 50, s),
                "rules": _run("rules", [visit] * 100, 100.0 - r, 49, s),
                "fused": _run("fused", [visit] * 100, 100.0 - f, 47, s),
                "oracle": _run("oracle", [visit] * 100, 100.0 - o, 46, s)}
            for s, r, f, o in ((1, 1, 2, 4), (2, 2, 2, 4), (3, 4, 6, 8))}
    res = LoopResult(runs, LoopConfig(people=20_000))
    p = res.paired.set_index(["policy", "against"])
    fr = p.loc[("fused", "rules")]
    assert fr["ratios"] == pytest.approx([2.0, 1.0, 1.5])
    assert fr["ratio"] == pytest.approx(1.5) and fr["ratio_lo"] < 1.5 < fr["ratio_hi"]
    assert fr["diff"] == pytest.approx(1.0) and fr["ratio_of_means"] == pytest.approx(10 / 7)
    assert p.loc[("fused", "oracle"), "ratios"] == pytest.approx([0.5, 0.5, 0.75])
    assert ("fused", "model") not in p.index                  # no model-only run: no comparison
    assert "2.00 / 1.00 / 1.50" in prevention_section(res)    # the section names every world's ratio
    assert "配对" in to_markdown(res) and "2.00 / 1.00 / 1.50" in prevention_section_html(res)
    fused_rules = next(g for g in res.goals if "仅规则" in g["goal"] and "期望" in g["goal"])
    assert not fused_rules["met"]                             # seed 2 stays at 1.0x


def test_weekly_steps_share_out_the_monthly_budget():
    from dataclasses import replace

    from training.loop import _Loop, _World

    cfg = LoopConfig(people=8000, pre_days=60, loop_days=84, tail_days=10)
    w = _World(61, cfg)
    assert _Loop(w, "oracle", cfg, {})._step_budgets() == w.budgets        # monthly: the per-run budget
    weekly_cfg = replace(cfg, step_days=7)
    weekly = _Loop(w, "oracle", weekly_cfg, {})
    got = [weekly._step_budgets() for _ in weekly_cfg.steps()]             # 12 weeks
    for c, b in w.budgets.items():
        total = sum(g[c] for g in got)
        assert abs(total - b * 84 / 30) < 1 + 1e-9                         # the accrued share, whole alerts
        assert max(g[c] for g in got) <= int(np.ceil(b * 7 / 30))
    run = run_policy(61, "oracle", weekly_cfg)
    assert 0 < run.alerts <= sum(sum(g.values()) for g in got)
    assert len(run.steps) == 12 and set(run.visits["alert_day"]) <= set(weekly_cfg.steps())


def test_visit_profile_describes_who_each_policy_visited():
    cols = ["person", "alert_day", "visit_day", "efficacy", "risk_before", "risk_after", "disputes", "crisis"]
    calm = (1, 10, 12, 0.5, 0.002, 0.001, 0, False)
    tense = (2, 10, 20, 0.3, 0.2, 0.1, 1, True)
    none = pd.DataFrame({"person": [1], "day": [800], "kind": [0]})
    runs = {1: {"none": LoopRun(1, "none", pd.DataFrame(columns=cols), 0, none, 1.2),
                "rules": LoopRun(1, "rules", pd.DataFrame([calm, calm, calm, tense], columns=cols), 4, none, 1.0),
                "oracle": LoopRun(1, "oracle", pd.DataFrame([tense] * 4, columns=cols), 4, none, 1.0)}}
    from training.loop_report import visit_profile

    p = visit_profile(runs).set_index("policy")
    assert p.loc["rules", "calm"] == 0.75 and p.loc["oracle", "calm"] == 0.0
    assert p.loc["rules", "open_dispute"] == 0.25 and p.loc["oracle", "crisis"] == 1.0
    assert p.loc["rules", "delay"] == pytest.approx(4.0) and p.loc["oracle", "delay"] == 10
    assert p.loc["oracle", "removed_per_visit"] == pytest.approx(0.1)
    md = to_markdown(LoopResult(runs, LoopConfig(people=20_000)))
    assert "走访对象画像" in md and "75%" in md and "nan" not in md


def test_fused_rank_must_be_known():
    with pytest.raises(ValueError, match="fused_rank"):
        LoopConfig(fused_rank="alphabetical")
    assert LoopConfig(fused_rank="risk").fused_rank == "risk"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 9), st.sets(st.integers(0, 6), max_size=3)),
                min_size=1, max_size=40))
def test_shared_dispute_keeps_one_chosen_party_per_dispute(rows):
    from training.loop import _shared_dispute

    chosen = np.array([r[0] for r in rows], dtype=bool)
    score = np.array([r[1] for r in rows], dtype=float)
    parties = {i: np.array(sorted(r[2]), dtype=np.int64) for i, r in enumerate(rows) if r[2]}
    shared = _shared_dispute(chosen, score, parties)
    assert not (shared & ~chosen).any()
    kept = [i for i in np.flatnonzero(chosen & ~shared) if i in parties]
    seen: set[int] = set()
    for i in kept:                                   # the kept parties never share a dispute
        assert not (set(parties[i].tolist()) & seen)
        seen |= set(parties[i].tolist())
    for i in np.flatnonzero(shared):                 # a watch-listed party shares one with a kept party ranked above
        above = [k for k in kept if score[k] >= score[i] and set(parties[k].tolist()) & set(parties[i].tolist())]
        assert above


def test_one_alert_per_open_dispute_passes_the_slot_on():
    cfg = LoopConfig(people=8000, pre_days=60, loop_days=60, tail_days=10)
    plain = run_policy(61, "oracle", cfg)
    one = run_policy(61, "oracle", replace(cfg, one_per_dispute=True))
    assert sum(s["same_dispute"] for s in plain.steps) > 0        # the oracle alerts both parties of a dispute
    assert all(s["same_dispute_left"] == 0 for s in one.steps)
    assert sum(s["watch_listed"] for s in one.steps) > 0
    # the budget is still spent: exactly at the first step (the same world so far), and later within the
    # few counties of this tiny world that run out of candidates
    assert one.steps[0]["alerts"] == plain.steps[0]["alerts"] and one.alerts >= 0.97 * plain.alerts
    assert set(one.visits["person"]) != set(plain.visits["person"])
