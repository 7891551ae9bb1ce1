"""Contract suite run over every rule of the default rule set (a new rule that breaks it fails CI).

For each rule: a witness input built from its condition makes it fire on both engines with the same,
fully filled explanation; it never fires on empty input; its metadata is complete.
"""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

import rules
from features.catalog import RISK_CATEGORIES
from rules.condition import Any_, Leaf

_RS = rules.load_ruleset()


def _witness(cond) -> dict:
    """Field values that satisfy ``cond`` (first branch of every 'any')."""
    if isinstance(cond, Leaf):
        v, kind = cond.value, cond.field.kind
        if cond.op == "in":
            return {cond.field.name: v[0]}
        if cond.op in ("==", ">=", "<="):
            return {cond.field.name: v}
        if cond.op == ">":
            return {cond.field.name: v + 1}
        if cond.op == "<":
            return {cond.field.name: v - 1}
        # !=
        if kind == "str":
            return {cond.field.name: next(a for a in sorted(cond.field.allowed) if a != v)}
        return {cond.field.name: 1.0 - v if kind == "bool" else v + 1}
    if isinstance(cond, Any_):
        return _witness(cond.children[0])
    out: dict = {}
    for c in cond.children:
        out.update(_witness(c))
    return out


def _split(values: dict):
    event = {k[len("event."):]: (v == 1.0 if _RS.specs[k].kind == "bool" else v)
             for k, v in values.items() if k.startswith("event.")}
    feats = {k: v for k, v in values.items() if not k.startswith("event.")}
    return event, feats


@pytest.mark.parametrize("rule", _RS.rules, ids=lambda r: r.key)
def test_rule_fires_on_its_witness_identically_on_both_engines(rule, default_engine):
    as_of = pd.Timestamp(rule.effective_from) + pd.Timedelta(days=1)
    event, feats = _split(_witness(rule.condition))
    hits = [h for h in default_engine.evaluate("W", event, feats, as_of=as_of) if h.rule_id == rule.id]
    assert len(hits) == 1 and hits[0].rule_version == rule.version
    row = {"person_id": "W", "as_of": as_of, **feats, **{f"event.{k}": v for k, v in event.items()}}
    batch = rules.evaluate_batch(_RS, pd.DataFrame([row]), strict=False)
    batch = batch[batch["rule_id"] == rule.id]
    assert batch["explanation"].tolist() == [hits[0].explanation]
    text = hits[0].explanation
    assert "{" not in text and "}" not in text and "无记录" not in text and text.strip()
    assert (hits[0].category, hits[0].level, hits[0].urgent) == (rule.category, rule.level, rule.urgent)


@pytest.mark.parametrize("rule", _RS.rules, ids=lambda r: r.key)
def test_rule_never_fires_on_empty_input_and_metadata_is_complete(rule, default_engine):
    as_of = pd.Timestamp(rule.effective_from) + pd.Timedelta(days=1)
    assert default_engine.evaluate("E", {}, {}, as_of=as_of) == []
    assert rule.category in RISK_CATEGORIES and rule.level in rules.LEVELS
    assert rule.owner and rule.title and rule.template.variables
    assert not (rule.condition.fields() & {"sex", "birth_year", "age", "ethnicity", "religion"})
    # Urgent rules are red: urgent means "to the review queue at once".
    assert not rule.urgent or rule.level == "red"


def test_versions_of_a_rule_hand_over_without_gap_or_overlap():
    by_id: dict[str, list] = {}
    for r in _RS.rules:
        by_id.setdefault(r.id, []).append(r)
    for rid, versions in by_id.items():
        versions.sort(key=lambda r: r.version)
        for a, b in itertools.pairwise(versions):
            assert a.effective_until == b.effective_from, rid
        assert versions[-1].effective_until is None, f"{rid}: the newest version should be open-ended"
