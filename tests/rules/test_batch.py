"""The vectorised batch evaluator: semantics of missing values, event columns, versions, output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rules
from rules.errors import RuleInputError
from tests.rules._helpers import minimal_ruleset


def _frame(**cols):
    n = len(next(iter(cols.values())))
    return pd.DataFrame({"person_id": [f"P{i}" for i in range(n)], "as_of": pd.Timestamp("2026-01-15"), **cols})


def test_output_columns_and_dtypes(default_ruleset):
    hits = rules.evaluate_batch(default_ruleset, _frame(kw_retaliation_90d=[3.0, 0.0]), strict=False)
    assert list(hits.columns) == rules.HIT_COLUMNS
    assert hits.to_dict("records") == [{
        "person_id": "P0", "as_of": pd.Timestamp("2026-01-15"), "rule_id": "RT003", "rule_version": 1,
        "category": "retaliation", "level": "orange", "urgent": False,
        "explanation": "近90天警情记录中3次出现“报复”“同归于尽”等言语"}]
    empty = rules.evaluate_batch(default_ruleset, _frame(kw_retaliation_90d=[0.0]), strict=False)
    assert list(empty.columns) == rules.HIT_COLUMNS and len(empty) == 0


def test_missing_value_never_matches_not_even_not_equal():
    rs = minimal_ruleset([{"condition": {"calls_7d": {"!=": 3}}},
                          {"condition": {"event.category": {"!=": "family"}}},
                          {"condition": {"calls_7d": {"<": 100}}}])
    f = _frame(calls_7d=[np.nan, 2.0, 3.0, np.inf])
    f["event.category"] = [None, "debt", "family", pd.NA]
    got = rules.evaluate_batch(rs, f)[["person_id", "rule_id"]].values.tolist()
    assert got == [["P1", "T000"], ["P1", "T001"], ["P1", "T002"], ["P2", "T002"]]


def test_event_rules_do_not_fire_without_event_columns(default_ruleset):
    feats = {f: [9.0] for f in default_ruleset.features_used}
    no_event = rules.evaluate_batch(default_ruleset, _frame(**feats))
    assert not (set(no_event["rule_id"]) & {r.id for r in default_ruleset.rules if r.needs_event})
    with_event = _frame(**feats)
    with_event["event.flag_threat"] = [True]
    with_event["event.category"] = ["marital"]
    with_event["event.role"] = ["suspect"]
    fired = set(rules.evaluate_batch(default_ruleset, with_event)["rule_id"])
    assert {"RD001", "FE001", "RT001"} <= fired
    assert "HR005" not in fired  # needs event.flag_violence or flag_weapon, absent here


def test_effective_versions_by_as_of(default_ruleset):
    f = pd.DataFrame({"person_id": ["A", "A", "B"], "max_calls_same_dispute_7d": [3.0, 3.0, 4.0],
                      "as_of": pd.to_datetime(["2025-06-30", "2025-07-01", "2025-06-30"])})
    hits = rules.evaluate_batch(default_ruleset, f, strict=False)
    rd2 = hits[hits["rule_id"] == "RD002"][["person_id", "as_of", "rule_version"]].values.tolist()
    # v1 (>= 4) until 2025-07-01, v2 (>= 3) from then on.
    assert rd2 == [["A", pd.Timestamp("2025-07-01"), 2], ["B", pd.Timestamp("2025-06-30"), 1]]
    before = rules.evaluate_batch(default_ruleset, f.assign(as_of=pd.Timestamp("2022-12-31")), strict=False)
    assert len(before) == 0  # nothing in force before 2023


def test_as_of_argument_and_column_required(default_ruleset):
    f = pd.DataFrame({"person_id": ["A"], "kw_emotion_90d": [2]})
    with pytest.raises(RuleInputError, match="as_of"):
        rules.evaluate_batch(default_ruleset, f, strict=False)
    hits = rules.evaluate_batch(default_ruleset, f, as_of="2026-01-01", strict=False)
    assert hits["rule_id"].tolist() == ["FE005"] and hits["as_of"].iloc[0] == pd.Timestamp("2026-01-01")


def test_strict_missing_feature_columns(default_ruleset):
    with pytest.raises(RuleInputError, match="lacks feature columns.*calls_30d"):
        rules.evaluate_batch(default_ruleset, _frame(kw_emotion_90d=[2.0]))


def test_wrong_types_are_rejected(default_ruleset):
    with pytest.raises(RuleInputError, match="kw_emotion_90d.*numbers"):
        rules.evaluate_batch(default_ruleset, _frame(kw_emotion_90d=["two"]), strict=False)
    f = _frame(kw_emotion_90d=[2.0])
    f["event.flag_threat"] = [2]
    with pytest.raises(RuleInputError, match="true/false"):
        rules.evaluate_batch(default_ruleset, f, strict=False)
    f = _frame(kw_emotion_90d=[2.0])
    f["event.category"] = [3]
    with pytest.raises(RuleInputError, match="text"):
        rules.evaluate_batch(default_ruleset, f, strict=False)
    with pytest.raises(RuleInputError, match="person_id"):
        rules.evaluate_batch(default_ruleset, pd.DataFrame({"as_of": [pd.Timestamp("2026-01-01")]}), strict=False)


def test_nullable_and_object_dtypes_agree(default_ruleset):
    a = _frame(kw_emotion_90d=pd.array([2, None, 3], dtype="Int64"))
    b = _frame(kw_emotion_90d=np.array([2, None, 3.0], dtype=object))
    c = _frame(kw_emotion_90d=[2.0, np.nan, 3.0])
    outs = [rules.evaluate_batch(default_ruleset, x, strict=False) for x in (a, b, c)]
    assert outs[0].equals(outs[1]) and outs[1].equals(outs[2]) and len(outs[0]) == 2


def test_hits_ordered_by_row_then_rule_and_rate_formatting():
    rs = minimal_ruleset([
        {"id": "B", "condition": {"call_trend_30d": {">": 1}}, "template": "趋势{call_trend_30d}"},
        {"id": "A", "condition": {"calls_30d": {">=": 1}}, "template": "次数{calls_30d}"},
    ])
    f = _frame(call_trend_30d=[0.0, 2.25, 1.5], calls_30d=[1.0, 2.6, 0.0])
    hits = rules.evaluate_batch(rs, f)
    assert hits[["person_id", "rule_id", "explanation"]].values.tolist() == [
        ["P0", "A", "次数1"], ["P1", "B", "趋势2.2"], ["P1", "A", "次数3"], ["P2", "B", "趋势1.5"]]


def test_timezone_aware_as_of_is_local_time(default_ruleset):
    f = pd.DataFrame({"person_id": ["A"], "kw_emotion_90d": [2.0],
                      "as_of": [pd.Timestamp("2026-01-01T00:00", tz="UTC")]})
    hits = rules.evaluate_batch(default_ruleset, f, strict=False)
    assert hits["as_of"].iloc[0] == pd.Timestamp("2026-01-01T08:00")


def test_large_frame_renders_every_explanation(default_ruleset):
    # Speed is measured in benchmarks/bench_rules.py, not here.
    rng = np.random.default_rng(0)
    n = 200_000
    f = pd.DataFrame({f: rng.poisson(0.6, n).astype(float) for f in sorted(default_ruleset.features_used)})
    f.insert(0, "person_id", np.arange(n))
    f.insert(1, "as_of", pd.Timestamp("2026-01-01"))
    hits = rules.evaluate_batch(default_ruleset, f)
    assert len(hits) > 0 and hits["explanation"].str.contains("{", regex=False).sum() == 0


def test_empty_frame_and_non_default_index(default_ruleset):
    empty = _frame(kw_emotion_90d=[]).astype({"kw_emotion_90d": float})
    assert len(rules.evaluate_batch(default_ruleset, empty, strict=False)) == 0
    f = _frame(kw_emotion_90d=[0.0, 2.0, 3.0]).set_index(pd.Index([30, 10, 20]))
    hits = rules.evaluate_batch(default_ruleset, f, strict=False)
    assert hits["person_id"].tolist() == ["P1", "P2"] and list(hits.index) == [0, 1]
