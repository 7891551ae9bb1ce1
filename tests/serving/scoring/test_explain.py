"""Explanations: phrasing, ordering, contributions only where needed, agreement with the model."""

from __future__ import annotations

import json

import numpy as np

from common.records import ScoredPerson
from serving.scoring.explain import factors_from_contributions, summary_sentence
from serving.scoring.fusion import FusionResult, load_policy
from serving.scoring.records import scored_to_dict
from serving.scoring.scorer import Scorer
from tests.serving.scoring.conftest import AS_OF


def test_factors_are_phrased_through_the_catalog_with_direction_and_sorted():
    f = factors_from_contributions(["calls_30d", "successful_mediations_90d", "threat_30d"], [0.4, -0.7, 0.01],
                                   {"calls_30d": 4.0, "successful_mediations_90d": 1.0, "threat_30d": 0.0},
                                   top=2, min_abs=0.05)
    assert [x.feature for x in f] == ["successful_mediations_90d", "calls_30d"]
    assert f[0].phrase == "近90天调解成功1次，风险下降" and f[0].direction == "down"
    assert f[1].phrase == "近30天报警4次，风险上升" and f[1].label == "近30天报警次数"


def test_summary_names_level_categories_and_reasons_in_chinese():
    pol = load_policy()
    res = FusionResult("orange", ("repeat_dispute",), "yellow", "orange", False)
    from common.records import RuleHitView

    hit = RuleHitView("RD002", "2", "repeat_dispute", "orange", False, "近7天因同一纠纷报警3次")
    f = factors_from_contributions(["calls_30d"], [0.4], {"calls_30d": 4.0}, top=5, min_abs=0)
    s = summary_sentence(res, [hit], f, pol)
    assert s == "橙色预警（因矛盾纠纷激化重复报警）：近7天因同一纠纷报警3次；近30天报警4次，风险上升。"


def test_contributions_are_computed_only_for_flagged_rows(app, population, monkeypatch):
    frame = population.head(300)
    calls = []
    real = Scorer.contributions

    def spy(b, X):
        calls.append(len(X))
        return real(b, X)

    monkeypatch.setattr(Scorer, "contributions", staticmethod(spy))
    scored = app.scorer.score_frame(frame, explain="flagged")
    flagged = sum(s.level != "none" for s in scored)
    assert 0 < flagged < len(frame)
    assert calls == [flagged]
    assert all((s.explanation is not None) == (s.level != "none") for s in scored)
    calls.clear()
    app.scorer.score_frame(frame, explain="none")
    assert calls == []


def test_probabilities_match_the_registered_model_and_contributions_sum_to_the_margin(app, population):
    b = app.scorer.bundle
    frame = population.head(200)
    X = Scorer.matrix(b, frame)
    assert np.allclose(Scorer.probabilities(b, X), b.model.predict_risk(frame))
    c = Scorer.contributions(b, X)
    assert np.allclose(c.sum(axis=1), b.model.raw_margin(frame), atol=1e-6)


def test_every_flagged_score_carries_versions_reasons_and_actions(app, population):
    scored = app.scorer.score_frame(population, explain="flagged")
    flagged = [s for s in scored if s.level != "none"]
    assert flagged
    for s in flagged:
        e = s.explanation
        assert s.categories and e.summary.startswith(app.policy.labels[s.level])
        assert len(e.actions) == len(s.categories)
        assert e.rule_hits or e.factors
        assert s.model_version and s.ruleset_version == app.scorer.bundle.ruleset_version
        for f in e.factors:
            assert f.phrase.endswith("风险上升" if f.contribution > 0 else "风险下降")
    # the fast serialiser equals the contract's and round-trips
    for s in flagged[:20]:
        d = scored_to_dict(s)
        assert json.loads(json.dumps(d)) == json.loads(json.dumps(s.to_dict()))  # tuples become lists
        assert ScoredPerson.from_dict(d).level == s.level


def test_scoring_is_deterministic(app, population):
    frame = population.head(400)
    a = [scored_to_dict(s) for s in app.scorer.score_frame(frame)]
    b = [scored_to_dict(s) for s in app.scorer.score_frame(frame.copy())]
    for x, y in zip(a, b, strict=True):
        x.pop("snapshot_time"), y.pop("snapshot_time")
    assert a == b


def test_full_explanation_lists_every_nonzero_factor(app, population):
    pid = population["person_id"].iloc[0]
    status, body = app.explain_person(None, pid, AS_OF, 3) if app.keys is None else (None, None)
    if status is None:
        s = app.scorer.score_frame(population.head(1), full=True)[0]
        assert len(s.explanation.factors) >= app.policy.top_factors


def test_fast_platt_path_equals_the_calibrators_own_predict():
    from serving.scoring.scorer import calibrate
    from training.calibration import Calibrator

    rng = np.random.default_rng(1)
    m = rng.normal(size=4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-(m - 3)))).astype(int)
    for method in ("sigmoid", "isotonic"):
        cal = Calibrator(method).fit(m, y)
        probe = rng.normal(scale=3, size=200)
        assert np.allclose(calibrate(cal, probe), cal.predict(probe), rtol=1e-12, atol=1e-15)


def test_rows_without_hits_take_the_model_level_exactly_as_fuse_would(app, population):
    from serving.scoring.fusion import fuse

    b = app.scorer.bundle
    for s in app.scorer.score_frame(population.head(500), explain="none"):
        expect = fuse(s.probability, [], b.thresholds, b.policy) if not s.extra["rule_ids"] else None
        if expect is not None:
            assert s.level == expect.level and s.categories == ()


def test_parallel_treeshap_gives_the_same_contributions(app, population, monkeypatch):
    b = app.scorer.bundle
    X = Scorer.matrix(b, population.head(300))
    monkeypatch.setattr(Scorer, "PARALLEL_CONTRIB_ROWS", 10**9)
    one = Scorer.contributions(b, X)
    monkeypatch.setattr(Scorer, "PARALLEL_CONTRIB_ROWS", 1)
    assert np.array_equal(one, Scorer.contributions(b, X))


def test_a_factor_that_restates_a_rule_is_not_repeated():
    """A cadre should not read "近一年…2次…" and "近一年…2次…，风险上升" as two reasons."""
    from common.records import plain_reasons

    rule = "近一年警情记录中2次提到病情发作或失控"
    reasons = plain_reasons([rule], [rule + "，风险上升", "近30天报警4次，风险上升", "近30天报警4次，风险上升"])
    assert reasons == (rule, "近30天报警4次，风险上升")
    assert plain_reasons([], ["近30天报警4次，风险上升"], limit=1) == ("近30天报警4次，风险上升",)


def test_factors_from_an_array_equal_those_from_a_list():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    names = [f"f{i:02d}" for i in range(40)]

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.sampled_from([0.0, 0.004, -0.004, 0.005, 0.1, -0.1, 0.3, -0.3, 1e-13, 0.1 + 1e-13]) |
                    st.floats(-2, 2, allow_nan=False), min_size=40, max_size=40), st.integers(1, 6))
    def check(values, top):
        values_map = {n: 1.0 for n in names}
        fast = factors_from_contributions(names, np.array(values), values_map, top=top, min_abs=0.005)
        slow = factors_from_contributions(names, list(values), values_map, top=top, min_abs=0.005)
        assert fast == slow

    check()


def test_one_as_of_column_converts_as_the_general_path_does():
    import pandas as pd

    from serving.scoring.scorer import _datetimes

    one = pd.Series(pd.to_datetime(["2025-06-01 00:00"] * 5))
    several = pd.Series(pd.to_datetime(["2025-06-01", "2025-07-01", "2025-06-01"]))
    with_gap = pd.Series(pd.to_datetime(["2025-06-01", None, "2025-06-01"]))
    for col in (one, several, with_gap):
        fast = _datetimes(col)
        general = _datetimes(col.astype(object))  # an object column never takes the one-value path
        assert [None if pd.isna(t) else t for t in fast] == [None if pd.isna(t) else t for t in general]
        assert all(type(t) is not pd.Timestamp for t in fast if not pd.isna(t))  # plain datetimes


def test_rows_without_a_hit_or_an_explanation_are_the_records_the_constructor_builds(app, population):
    """Rows with no hit and no explanation (most of a batch) go through the scorer's record maker, not the
    dataclass constructor: each must still equal ``ScoredPerson(...)`` built from its fields."""
    from dataclasses import fields

    scored = app.scorer.score_frame(population.head(400), explain="flagged")
    short = [s for s in scored if not s.extra["rule_ids"] and s.explanation is None]
    assert short and len(short) < len(scored)
    for s in short:
        built = ScoredPerson(**{f.name: getattr(s, f.name) for f in fields(ScoredPerson)})
        assert built == s and s.level == "none" and s.categories == ()
        assert set(s.extra) == {"model_level", "rule_level", "rule_ids", "model_categories", "fusion_version"}
        assert json.loads(json.dumps(scored_to_dict(s), default=str))["person_id"] == s.person_id
