"""The loader accepts the default rule set and rejects bad files naming file, rule id and field."""

from __future__ import annotations

import textwrap

import pytest

import rules
from features.catalog import RISK_CATEGORIES
from rules.errors import RuleFileError
from tests.rules._helpers import minimal_ruleset


def test_default_ruleset_loads_and_covers_four_categories(default_ruleset):
    rs = default_ruleset
    assert rs.version and rs.changelog
    assert len(rs.rule_ids) >= 12
    assert {r.category for r in rs.rules} == set(RISK_CATEGORIES)
    assert {"threat_30d", "kw_retaliation_90d", "max_calls_same_dispute_7d", "failed_mediations_90d",
            "care_missed_followup_180d", "care_medication_stopped_180d",
            "calls_family_marital_90d"} <= rs.features_used
    assert rs.version in {c.version for c in rs.changelog}
    assert any(r.urgent for r in rs.rules)
    assert any(r.needs_event for r in rs.rules) and any(not r.needs_event for r in rs.rules)


def test_default_path_is_package_data():
    p = rules.default_ruleset_path()
    assert p.name == "default.yaml" and p.parent.name == "rulesets" and p.is_file()


def test_load_from_file_names_the_file(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(textwrap.dedent("""
        name: t
        version: "1"
        changelog: [{version: "1", date: 2026-11-29, changes: [x]}]
        rules:
          - id: X001
            version: 1
            category: retaliation
            level: red
            owner: me
            effective_from: 2024-01-01
            condition: {thret_30d: {">=": 1}}
            template: 近30天{thret_30d}次
    """), encoding="utf-8")
    with pytest.raises(RuleFileError) as ei:
        rules.load_ruleset(f)
    msg = str(ei.value)
    assert str(f) in msg and "X001" in msg and "thret_30d" in msg and "threat_30d" in msg  # did-you-mean
    assert all(p.rule_id == "X001" for p in ei.value.problems)
    assert ei.value.http_status == 422


def test_not_yaml_and_missing_file(tmp_path):
    f = tmp_path / "x.yaml"
    f.write_text("rules: [unclosed", encoding="utf-8")
    with pytest.raises(RuleFileError, match="not valid YAML"):
        rules.load_ruleset(f)
    with pytest.raises(RuleFileError, match="file not found"):
        rules.load_ruleset(tmp_path / "nope.yaml")


@pytest.mark.parametrize("rule, field, pattern", [
    ({"condition": {"calls_30d": {"=>": 3}}}, "condition.calls_30d.=>", "unknown operator '=>'"),
    ({"condition": {"calls_30d": {">=": "three"}}}, "condition.calls_30d.>=", "is a number"),
    ({"condition": {"event.flag_threat": {">": True}}}, "condition.event.flag_threat.>", "does not apply"),
    ({"condition": {"event.category": {"==": "famly"}}}, "condition.event.category.==", r"Did you mean \['family'\]"),
    ({"condition": {"event.note": {"==": "x"}}}, "condition.event.note", "unknown event field"),
    ({"condition": {"flag_threat": {"==": True}}}, "condition.flag_threat", "prefix 'event.'"),
    ({"condition": {"calls_30d": {"in": []}}}, "condition.calls_30d.in", "non-empty list"),
    ({"condition": {"all": []}}, "condition.all", "non-empty list"),
    ({"condition": {"all": [{"calls_30d": {">": 1}}], "any": []}}, "condition", "only key"),
    ({"condition": {"sex": {"==": "F"}}}, "condition.sex", "protected attribute"),
    ({"condition": {"event.sex": {"==": "F"}}}, "condition.event.sex", "protected attribute"),
    ({"condition": {"age": {">=": 60}}}, "condition.age", "protected attribute"),
    ({"level": "purple"}, "level", "allowed"),
    ({"category": "retalation"}, "category", r"Did you mean \['retaliation'\]"),
    ({"urgent": "yes"}, "urgent", "true or false"),
    ({"version": 0}, "version", "positive integer"),
    ({"effective_from": "2024-13-01"}, "effective_from", "not a date"),
    ({"effective_until": "2019-01-01"}, "effective_until", "not after"),
    ({"colour": "red"}, "colour", "unknown key"),
    ({"template": "近30天{calls_30d}次"}, "template", "not used in the condition"),
    ({"template": "{nosuch_feature}"}, "template", "unknown template variable"),
    ({"template": "缺{右括号"}, "template", "unbalanced"),
])
def test_bad_rule_names_rule_and_field(rule, field, pattern):
    base = {"condition": {"calls_7d": {">=": 3}}, "template": "近7天报警{calls_7d}次"}
    base.update(rule)
    with pytest.raises(RuleFileError, match=pattern) as ei:
        minimal_ruleset([base])
    assert any(p.field == field and p.rule_id == "T000" for p in ei.value.problems), ei.value.problems
    assert "test.yaml" in str(ei.value)


def test_template_variable_only_under_any_is_rejected():
    cond = {"any": [{"calls_7d": {">=": 3}}, {"threat_30d": {">=": 1}}]}
    with pytest.raises(RuleFileError, match="appears only under 'any'"):
        minimal_ruleset([{"condition": cond, "template": "近7天报警{calls_7d}次"}])
    # A variable present in every branch of the 'any' is guaranteed.
    cond = {"any": [{"calls_7d": {">=": 3}}, {"all": [{"calls_7d": {">=": 1}}, {"threat_30d": {">=": 1}}]}]}
    rs = minimal_ruleset([{"condition": cond, "template": "近7天报警{calls_7d}次"}])
    assert rs.rules[0].template.variables == ("calls_7d",)


def test_missing_required_key():
    with pytest.raises(RuleFileError, match="missing") as ei:
        rules.parse_ruleset({"version": "1", "changelog": [{"version": "1", "changes": ["x"]}],
                             "rules": [{"id": "A1", "version": 1}]}, source="m.yaml")
    assert {p.field for p in ei.value.problems} >= {"category", "level", "owner", "condition", "template"}


def test_overlapping_versions_are_rejected():
    r1 = {"id": "A1", "version": 1, "effective_from": "2024-01-01", "effective_until": "2025-03-01",
          "condition": {"calls_7d": {">=": 4}}}
    r2 = {"id": "A1", "version": 2, "effective_from": "2025-01-01", "condition": {"calls_7d": {">=": 3}}}
    with pytest.raises(RuleFileError, match="overlap") as ei:
        minimal_ruleset([r1, r2])
    assert ei.value.problems[0].rule_id == "A1" and ei.value.problems[0].field == "effective_until"
    # Open-ended first version overlaps everything after it.
    with pytest.raises(RuleFileError, match="overlap"):
        minimal_ruleset([{**r1, "effective_until": None}, r2])
    # Adjacent windows are fine; the right version is in force on each side.
    rs = minimal_ruleset([{**r1, "effective_until": "2025-01-01"}, r2])
    assert rs.get("A1", "2024-12-31").version == 1 and rs.get("A1", "2025-01-01").version == 2


def test_duplicate_version_and_category_change_rejected():
    r = {"id": "A1", "version": 1, "effective_from": "2024-01-01", "effective_until": "2025-01-01",
         "condition": {"calls_7d": {">=": 4}}}
    with pytest.raises(RuleFileError, match="appears twice"):
        minimal_ruleset([r, {**r, "effective_from": "2025-01-01", "effective_until": None}])
    with pytest.raises(RuleFileError, match="share a category"):
        minimal_ruleset([r, {**r, "version": 2, "effective_from": "2025-01-01", "effective_until": None,
                             "category": "retaliation"}])


def test_every_problem_is_reported_not_just_the_first():
    with pytest.raises(RuleFileError) as ei:
        minimal_ruleset([{"level": "pink"}, {"category": "x", "condition": {"calls_7d": {"~": 1}}}])
    assert len(ei.value.problems) >= 3
    assert {p.rule_id for p in ei.value.problems} == {"T000", "T001"}


def test_ruleset_level_problems():
    with pytest.raises(RuleFileError, match="no changelog entry"):
        rules.parse_ruleset({"version": "2", "changelog": [{"version": "1", "changes": ["x"]}],
                             "rules": [{"id": "A"}]})
    with pytest.raises(RuleFileError, match="non-empty list of rules"):
        rules.parse_ruleset({"version": "1", "changelog": [{"version": "1", "changes": ["x"]}], "rules": []})
    with pytest.raises(RuleFileError, match="expected a mapping"):
        rules.parse_ruleset(["not", "a", "mapping"])


def test_in_and_multi_op_leaves_parse():
    rs = minimal_ruleset([{"condition": {"all": [{"calls_30d": {">=": 2, "<": 10}},
                                                 {"event.role": {"in": ["party", "suspect", "party"]}}]},
                           "template": "{event.role}报警{calls_30d}次"}])
    r = rs.rules[0]
    assert r.features_used == {"calls_30d"} and r.event_fields_used == {"event.role"}
    assert "event.role in [party, suspect]" in str(r.condition)
