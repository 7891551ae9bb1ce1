"""Property: the batch evaluator and the durable-rules event path agree hit for hit.

Two properties: (1) the default rule set on generated feature vectors + incidents; (2) generated
rule sets (random all/any trees over every operator and field kind) on generated inputs, so the
compiler is exercised beyond the shapes the default set happens to use.
"""

from __future__ import annotations

import math
import os

import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import rules
from rules._fields import EVENT_FIELDS, EVENT_PREFIX
from tests.rules._helpers import batch_tuples, event_tuples, frame_from_cases, minimal_ruleset

# Modest by default so the suite stays fast; RULES_PARITY_EXAMPLES=5000 for a thorough run.
_N = int(os.environ.get("RULES_PARITY_EXAMPLES", "60"))
_SETTINGS = settings(max_examples=_N, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_DEFAULT = rules.load_ruleset()
_ENGINE = rules.EventRuleEngine(_DEFAULT)

numbers = st.one_of(
    st.integers(min_value=0, max_value=6).map(float),       # around the thresholds
    st.sampled_from([None, math.nan, 0.5, 2.5, -1.0, 1e9]),
    st.floats(min_value=-5, max_value=50, allow_nan=False),
)
as_ofs = st.sampled_from([pd.Timestamp(x) for x in
                          ("2022-06-01", "2023-01-01", "2025-06-30 23:59:59", "2025-07-01", "2026-01-15",
                           "2026-11-28", "2026-11-29 08:00")])


def _event_value(spec):
    if spec.kind == "bool":
        return st.sampled_from([True, False, None])
    return st.sampled_from(sorted(spec.allowed) + [None])


events = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={name[len(EVENT_PREFIX):]: _event_value(spec)
                                        for name, spec in EVENT_FIELDS.items()}),
)


def feature_dicts(names):
    return st.fixed_dictionaries({}, optional={n: numbers for n in sorted(names)})


@_SETTINGS
@given(st.lists(st.tuples(events, feature_dicts(_DEFAULT.features_used), as_ofs), min_size=1, max_size=12))
def test_default_ruleset_batch_equals_event_path(items):
    cases = [(f"P{i}", ev, feats, as_of) for i, (ev, feats, as_of) in enumerate(items)]
    want = batch_tuples(rules.evaluate_batch(_DEFAULT, frame_from_cases(cases), strict=False))
    assert event_tuples(_ENGINE, cases) == want


# -- generated rule sets ----------------------------------------------------------------------
_NUM_FIELDS = ["calls_7d", "calls_30d", "threat_30d", "call_trend_30d"]
_OPS = ["==", "!=", ">", ">=", "<", "<=", "in"]


def _leaf():
    num = st.tuples(st.sampled_from(_NUM_FIELDS), st.sampled_from(_OPS),
                    st.integers(min_value=0, max_value=5)).map(
        lambda t: {t[0]: {t[1]: [t[2], t[2] + 1] if t[1] == "in" else t[2]}})
    boolean = st.tuples(st.sampled_from(["event.flag_threat", "event.flag_violence"]),
                        st.sampled_from(["==", "!="]), st.booleans()).map(lambda t: {t[0]: {t[1]: t[2]}})
    cat = st.tuples(st.sampled_from(["==", "!=", "in"]),
                    st.lists(st.sampled_from(sorted(EVENT_FIELDS["event.category"].allowed)), min_size=1,
                             max_size=3)).map(
        lambda t: {"event.category": {t[0]: t[1] if t[0] == "in" else t[1][0]}})
    role = st.tuples(st.sampled_from(["==", "!=", "in"]),
                     st.lists(st.sampled_from(sorted(EVENT_FIELDS["event.role"].allowed)), min_size=1,
                              max_size=2)).map(
        lambda t: {"event.role": {t[0]: t[1] if t[0] == "in" else t[1][0]}})
    return st.one_of(num, num, boolean, cat, role)


conditions = st.recursive(_leaf(), lambda inner: st.one_of(
    st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
    st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
), max_leaves=6)


def _template(cond) -> str:
    from rules.condition import parse_condition

    vars_ = sorted(parse_condition(cond).guaranteed())
    return "命中：" + "，".join(f"{v}={{{v}}}" for v in vars_) if vars_ else "命中"


@_SETTINGS
@given(st.lists(conditions, min_size=1, max_size=4),
       st.lists(st.tuples(events, feature_dicts(_NUM_FIELDS)), min_size=1, max_size=15))
def test_generated_rulesets_batch_equals_event_path(conds, items):
    rs = minimal_ruleset([{"condition": c, "template": _template(c)} for c in conds])
    engine = rules.EventRuleEngine(rs)
    cases = [(f"P{i}", ev, feats, pd.Timestamp("2026-01-15")) for i, (ev, feats) in enumerate(items)]
    want = batch_tuples(rules.evaluate_batch(rs, frame_from_cases(cases), strict=False))
    assert event_tuples(engine, cases) == want
    assert engine.stored_facts() == []
    event(f"hits>0: {bool(want)}")
