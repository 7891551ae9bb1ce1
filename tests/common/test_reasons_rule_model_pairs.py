"""Every rule of the default rule set against every model factor: a factor that restates a fact the rule's
explanation already gives (the same feature, the same value) is left out of the reasons people read, and a
factor about anything else is kept. The rule set's wording and the catalog's phrases must stay aligned."""

from __future__ import annotations

import pytest

import rules
from common.records import RISK_UP, plain_reasons
from features.catalog import CATALOG

EVENT_VALUES = {"event.category": "family", "event.role": "party"}


def _explanations():
    for rule in rules.load_ruleset().rules:
        for value in (1, 2, 5):
            values = {v: value if v in CATALOG else EVENT_VALUES.get(v, True) for v in rule.template.variables}
            yield rule, value, rule.explain(values)


CASES = list(_explanations())


@pytest.mark.parametrize("rule,value,text", CASES, ids=[f"{r.id}v{r.version}-{v}" for r, v, _ in CASES])
def test_a_factor_is_dropped_exactly_when_the_rule_already_states_it(rule, value, text):
    stated = {v for v in rule.template.variables if v in CATALOG}
    for name, feature in CATALOG.items():
        for v in (1, 2, 5):
            reasons = plain_reasons([text], [feature.phrase(v) + RISK_UP])
            same_fact = name in stated and v == value
            assert len(reasons) == (1 if same_fact else 2), (rule.id, text, feature.phrase(v))
