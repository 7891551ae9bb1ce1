"""Fusion policy: determinism, monotonicity, rule hits as evidence or floors, capacity thresholds, policy
validation (code tests)."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from common.levels import level_rank
from features.catalog import RISK_CATEGORIES
from serving.scoring.errors import ServingConfigError
from serving.scoring.fusion import (
    Thresholds,
    fuse,
    load_policy,
    model_categories,
    parse_policy,
    thresholds_from_capacity,
)
from serving.scoring.settings import default_fusion_path

POLICY = load_policy()
#: The old policy (every rule hit is a level floor): still expressible, and the backtest compares with it.
FLOORS = replace(POLICY, raise_level=True)
TH = Thresholds(red=0.2, orange=0.08, yellow=0.03, mode="probability")
CATS = list(RISK_CATEGORIES)

hit_st = st.tuples(st.sampled_from(["RD001", "RD002", "FE001", "RT003", "HR001"]), st.sampled_from(CATS),
                   st.sampled_from(["yellow", "orange", "red"]), st.booleans())
prob_st = st.one_of(st.none(), st.floats(0, 1))
cats_st = st.lists(st.sampled_from(CATS), max_size=2, unique=True)


@settings(max_examples=300, deadline=None)
@given(prob_st, st.lists(hit_st, max_size=4), cats_st)
def test_same_inputs_give_the_same_output(p, hits, mcats):
    assert fuse(p, hits, TH, POLICY, mcats) == fuse(p, list(hits), TH, POLICY, tuple(mcats))
    # and the order of hits does not matter
    assert fuse(p, hits[::-1], TH, POLICY, mcats) == fuse(p, hits, TH, POLICY, mcats)


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.lists(hit_st, max_size=3), cats_st)
def test_a_higher_probability_never_lowers_the_level(p1, p2, hits, mcats):
    lo, hi = sorted((p1, p2))
    assert level_rank(fuse(hi, hits, TH, POLICY, mcats).level) >= level_rank(fuse(lo, hits, TH, POLICY, mcats).level)


@settings(max_examples=300, deadline=None)
@given(prob_st, st.lists(hit_st, max_size=3), hit_st, cats_st)
def test_an_added_rule_hit_never_lowers_the_level_nor_drops_a_category(p, hits, extra, mcats):
    # with every rule a floor (rules.raise_level: true)
    before = fuse(p, hits, TH, FLOORS, mcats)
    after = fuse(p, [*hits, extra], TH, FLOORS, mcats)
    assert level_rank(after.level) >= level_rank(before.level)
    assert level_rank(after.level) >= level_rank(extra[2])
    assert set(before.categories) <= set(after.categories)
    assert extra[1] in after.categories


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 1), st.lists(hit_st, max_size=3), hit_st, cats_st)
def test_a_rule_hit_is_evidence_not_a_floor_unless_named_or_urgent(p, hits, extra, mcats):
    before = fuse(p, hits, TH, POLICY, mcats)
    after = fuse(p, [*hits, extra], TH, POLICY, mcats)
    assert level_rank(after.level) >= level_rank(before.level)
    assert extra[1] in after.categories and set(before.categories) <= set(after.categories)
    model_only = fuse(p, [], TH, POLICY, mcats)
    if not any(h[3] for h in [*hits, extra]):
        assert after.level == model_only.level          # the default policy names no floor rules
    named = replace(POLICY, floor_rules=(extra[0],))
    assert level_rank(fuse(p, [*hits, extra], TH, named, mcats).level) >= level_rank(extra[2])


def test_a_named_floor_rule_sets_a_minimum_level_and_others_do_not():
    hit = ("RT003", "retaliation", "orange", False)
    assert fuse(0.0, [hit], TH, POLICY).level == "none"
    assert fuse(0.0, [hit], TH, POLICY).rule_level == "orange"       # still reported as evidence
    named = replace(POLICY, floor_rules=("RT003",))
    res = fuse(0.0, [hit], TH, named)
    assert (res.level, res.floor_level) == ("orange", "orange")
    assert fuse(0.0, [("RD001", "repeat_dispute", "orange", False)], TH, named).level == "none"


def test_urgent_hit_is_at_least_the_urgent_level_and_levels_follow_thresholds():
    assert fuse(0.0, [("X", "retaliation", "yellow", True)], TH, POLICY).level == "red"
    assert [fuse(p, [], TH, POLICY).level for p in (0.01, 0.03, 0.08, 0.2)] == ["none", "yellow", "orange", "red"]
    assert fuse(None, [], TH, POLICY).level == "none"


def test_model_categories_need_the_model_level_and_enough_contribution_share():
    cats = model_categories(["threat_30d", "calls_30d", "days_at_residence"], [1.0, 0.2, 5.0], POLICY)
    # days_at_residence has no category: it counts in the total only, so shares are small; the strongest
    # category still names the risk (a model-flagged person never reaches review without one)
    assert cats == ("family_emotion",)      # threat_30d's two categories tie; catalog order breaks it
    assert model_categories(["days_at_residence"], [5.0], POLICY) == ()   # nothing speaks to a category
    cats = model_categories(["threat_30d", "calls_30d", "care_crisis_365d"], [1.0, 0.2, -3.0], POLICY)
    assert cats == ("family_emotion", "retaliation")  # threat_30d speaks to both, equally; catalog order breaks ties
    low = fuse(0.01, [], TH, POLICY, ("harm_risk",))
    assert low.categories == () and low.model_categories == ()
    high = fuse(0.5, [("RD002", "repeat_dispute", "orange", False)], TH, POLICY, ("harm_risk",))
    assert high.categories == ("repeat_dispute", "harm_risk")  # RISK_CATEGORIES order


def test_capacity_thresholds_respect_the_budget_and_the_level_order():
    rng = np.random.default_rng(0)
    p = rng.beta(0.5, 30, size=20_000)
    th = thresholds_from_capacity(p, n_grids=400, policy=POLICY)
    assert th.red >= th.orange >= th.yellow
    k = th.detail["alerts_per_batch"]
    assert k["orange"] == round(0.05 * 400 * 30 / 7)
    for level in ("red", "orange", "yellow"):
        assert (p >= getattr(th, level)).sum() <= k[level]


def test_capacity_is_a_ceiling_even_with_ties():
    p = np.r_[np.full(500, 0.01), np.linspace(0.2, 0.9, 5)]
    th = thresholds_from_capacity(p, n_grids=100, policy=POLICY)
    assert (p >= th.orange).sum() <= th.detail["alerts_per_batch"]["orange"]
    with pytest.raises(ServingConfigError, match="reference batch"):
        thresholds_from_capacity([], 10, POLICY)


def _raw():
    return yaml.safe_load(default_fusion_path().read_text(encoding="utf-8"))


@pytest.mark.parametrize("edit, match", [
    (lambda d: d["thresholds"].update(mode="capacty"),
     r"test.yaml: thresholds.mode = 'capacty': Input should be 'budget', 'probability' or 'capacity'"),
    (lambda d: d["thresholds"]["probability"].update(red=0.01), "red >= orange >= yellow"),
    (lambda d: d["thresholds"]["capacity"]["alerts_per_grid_per_week"].update(red=0.5), "0 < red <= orange"),
    (lambda d: d["rules"].update(urgnt_level="red"), r"rules.urgnt_level: .*unknown key; allowed: floor_rules, "
                                                     r"raise_level, urgent_level. Did you mean 'urgent_level'"),
    (lambda d: d["actions"].pop("harm_risk"), "actions.harm_risk: .*missing"),
    (lambda d: d["model"].update(category_min_level="purple"), "model.category_min_level = 'purple'.*'red', "
                                                               "'orange' or 'yellow'"),
    (lambda d: d["budget"].update(visits_per_grid_week=1), r"budget.visits_per_grid_week: .*unknown key; allowed: "
                                                           r".*Did you mean 'visits_per_grid_per_week'"),
    (lambda d: d["budget"].update(visits_per_grid_per_week=-1), r"budget.visits_per_grid_per_week = -1: .*greater "
                                                                r"than 0"),
    (lambda d: d["budget"]["level_shares"].update(red=0.8), "red share 0.8 must not exceed the orange share"),
])
def test_a_bad_policy_fails_at_load_with_the_field_and_the_fix(edit, match):
    d = copy.deepcopy(_raw())
    edit(d)
    with pytest.raises(ServingConfigError, match=match):
        parse_policy(d, source="test.yaml")


def test_packaged_policy_has_an_action_and_label_for_everything():
    assert set(POLICY.actions) == set(RISK_CATEGORIES)
    assert set(POLICY.labels) == {"red", "orange", "yellow", "none"}


def test_the_packaged_budget_is_the_documented_default():
    from training.budget import BudgetConfig

    assert POLICY.mode == "budget" and POLICY.floor_rules == () and POLICY.raise_level is False
    assert POLICY.budget == BudgetConfig()  # the YAML states the defaults promotion uses without a policy file
    assert POLICY.budget.digest() == BudgetConfig().digest()   # so a promoted version matches the packaged policy
    # about one alert per grid per month: 0.25 visits per grid-week x 30/7 weeks
    assert POLICY.budget.visits_per_grid_per_week * 30 / 7 == pytest.approx(1.07, abs=0.01)
