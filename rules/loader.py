"""Load a rule file (YAML) into a :class:`~rules.model.RuleSet`, or say exactly what is wrong.

Every problem is collected (not just the first) and reported with the file, the rule id and the field:
unknown feature (with the catalog's did-you-mean), protected attribute, bad operator, bad value,
template variable that is unknown or may be empty when the rule fires, bad level/category, duplicate
or overlapping versions of one rule id, a rule-set version missing from the changelog.

>>> rs = load_ruleset()                   # the packaged default
>>> sorted({r.category for r in rs.rules}) == sorted(RISK_CATEGORIES)
True
"""

from __future__ import annotations

import difflib
import itertools
import re
from datetime import date, datetime
from importlib import resources
from pathlib import Path

from common.levels import ALERT_LEVELS
from features.catalog import RISK_CATEGORIES
from rules._fields import FieldSpec, resolve_field
from rules.condition import ConditionSyntaxError, parse_condition
from rules.errors import RuleFileError, RuleProblem
from rules.model import ChangelogEntry, Rule, RuleSet
from rules.template import TemplateSyntaxError, parse_template

__all__ = ["load_ruleset", "parse_ruleset", "default_ruleset_path"]

_TOP_KEYS = {"name", "version", "description", "changelog", "rules"}
_REQUIRED = ("id", "version", "category", "level", "owner", "effective_from", "condition", "template")
_OPTIONAL = ("urgent", "effective_until", "title", "description")
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,39}$")


def default_ruleset_path() -> Path:
    """Path of the packaged default rule set (``rules/rulesets/default.yaml``)."""
    return Path(str(resources.files("rules") / "rulesets" / "default.yaml"))


def load_ruleset(path: str | Path | None = None) -> RuleSet:
    """Read and validate a YAML rule file; ``None`` loads the packaged default.

    Raises :class:`~rules.errors.RuleFileError` listing every problem found.
    """
    import yaml

    path = default_ruleset_path() if path is None else Path(path)
    src = str(path)
    if not path.is_file():
        raise RuleFileError(RuleProblem(src, None, "<file>", "文件不存在 / file not found. Check the path."))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RuleFileError(RuleProblem(src, None, "<file>", f"不是有效的 YAML / not valid YAML: {exc}")) from None
    return parse_ruleset(data, source=src)


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value.strip())
    raise ValueError(value)


def _did_you_mean(value: str, allowed) -> str:
    close = difflib.get_close_matches(str(value), list(allowed), n=2)
    return f" Did you mean {close}?" if close else ""


def parse_ruleset(data, source: str = "<memory>") -> RuleSet:
    """Validate an already-parsed mapping (the YAML document) and build the :class:`RuleSet`."""
    problems: list[RuleProblem] = []

    def bad(rule_id, fld, msg):
        problems.append(RuleProblem(source, rule_id, fld, msg))

    if not isinstance(data, dict):
        raise RuleFileError(RuleProblem(source, None, "<file>", f"expected a mapping with keys {sorted(_TOP_KEYS)}, "
                                                                f"got {type(data).__name__}."))
    for k in data:
        if k not in _TOP_KEYS:
            bad(None, str(k), f"unknown key; allowed: {sorted(_TOP_KEYS)}.{_did_you_mean(k, _TOP_KEYS)}")
    version = data.get("version")
    if not isinstance(version, (str, int, float)) or not str(version).strip():
        bad(None, "version", f"the rule set needs a version (e.g. \"2026.11.1\"), got {version!r}.")
        version = "?"
    version = str(version)
    name = str(data.get("name") or "default")

    changelog: list[ChangelogEntry] = []
    raw_log = data.get("changelog")
    if not isinstance(raw_log, list) or not raw_log:
        bad(None, "changelog", "a non-empty changelog is required: a list of {version, date, changes}.")
    else:
        for i, e in enumerate(raw_log):
            if not isinstance(e, dict) or "version" not in e or not e.get("changes"):
                bad(None, f"changelog[{i}]", f"expected {{version, date, changes: [...]}}, got {e!r}.")
                continue
            try:
                d = _as_date(e["date"]) if e.get("date") is not None else None
            except ValueError:
                bad(None, f"changelog[{i}].date", f"not a date: {e.get('date')!r}; write YYYY-MM-DD.")
                d = None
            changes = e["changes"] if isinstance(e["changes"], list) else [e["changes"]]
            changelog.append(ChangelogEntry(str(e["version"]), d, tuple(str(c) for c in changes)))
        if version != "?" and version not in {c.version for c in changelog}:
            bad(None, "changelog",
                f"the rule set version {version!r} has no changelog entry; add one saying what changed.")

    raw_rules = data.get("rules")
    rules: list[Rule] = []
    if not isinstance(raw_rules, list) or not raw_rules:
        bad(None, "rules", "a non-empty list of rules is required.")
        raw_rules = []
    for i, raw in enumerate(raw_rules):
        rule = _parse_rule(raw, i, bad)
        if rule is not None:
            rules.append(rule)

    # Versions of one id: unique version numbers, non-overlapping effective windows.
    by_id: dict[str, list[Rule]] = {}
    for r in rules:
        by_id.setdefault(r.id, []).append(r)
    for rid, versions in by_id.items():
        seen: set[int] = set()
        for r in versions:
            if r.version in seen:
                bad(rid, "version", f"version {r.version} appears twice; give each change a new version number.")
            seen.add(r.version)
        ordered = sorted(versions, key=lambda r: r.effective_from)
        for a, b in itertools.pairwise(ordered):
            if a.effective_until is None or a.effective_until > b.effective_from:
                bad(rid, "effective_until",
                    f"versions {a.version} [{a.effective_from}, {a.effective_until or '∞'}) and {b.version} "
                    f"[{b.effective_from}, {b.effective_until or '∞'}) overlap; set version {a.version}'s "
                    f"effective_until to {b.effective_from} or earlier.")
        cats = {r.category for r in versions}
        if len(cats) > 1:
            bad(rid, "category", f"all versions of one rule must share a category, got {sorted(cats)}; use a new id.")

    if problems:
        raise RuleFileError(problems)
    return RuleSet(version=version, rules=rules, changelog=changelog, name=name, source=source)


def _parse_rule(raw, index: int, bad) -> Rule | None:
    if not isinstance(raw, dict):
        bad(None, f"rules[{index}]", f"expected a mapping, got {raw!r}.")
        return None
    rid = raw.get("id")
    if not isinstance(rid, str) or not _ID.match(rid):
        bad(None, f"rules[{index}].id", f"a rule needs an id of letters, digits, _ or - (e.g. RD001), got {rid!r}.")
        return None
    ok = [True]

    def err(fld, msg):
        ok[0] = False
        bad(rid, fld, msg)

    for k in raw:
        if k not in _REQUIRED and k not in _OPTIONAL:
            err(str(k),
                f"unknown key; allowed: {list(_REQUIRED + _OPTIONAL)}.{_did_you_mean(k, _REQUIRED + _OPTIONAL)}")
    for k in _REQUIRED:
        if k not in raw:
            err(k, "missing (required).")
    if not ok[0]:
        return None

    version = raw["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        err("version", f"must be a positive integer, got {version!r}.")
    category = raw["category"]
    if category not in RISK_CATEGORIES:
        err("category", f"{category!r} is not a category; allowed: {list(RISK_CATEGORIES)}."
                        f"{_did_you_mean(category, RISK_CATEGORIES)}")
    level = raw["level"]
    if level not in ALERT_LEVELS:
        err("level", f"{level!r} is not a level; allowed: {list(ALERT_LEVELS)}.{_did_you_mean(level, ALERT_LEVELS)}")
    urgent = raw.get("urgent", False)
    if not isinstance(urgent, bool):
        err("urgent", f"must be true or false, got {urgent!r}.")
    owner = raw["owner"]
    if not isinstance(owner, str) or not owner.strip():
        err("owner", f"must name the responsible unit or person, got {owner!r}.")
    eff_from = eff_until = None
    try:
        eff_from = _as_date(raw["effective_from"])
    except ValueError:
        err("effective_from", f"not a date: {raw['effective_from']!r}; write YYYY-MM-DD.")
    if raw.get("effective_until") is not None:
        try:
            eff_until = _as_date(raw["effective_until"])
        except ValueError:
            err("effective_until", f"not a date: {raw['effective_until']!r}; write YYYY-MM-DD or leave it out.")
    if eff_from and eff_until and eff_until <= eff_from:
        err("effective_until", f"{eff_until} is not after effective_from {eff_from}.")
    for k in ("title", "description"):
        if k in raw and raw[k] is not None and not isinstance(raw[k], str):
            err(k, f"must be text, got {raw[k]!r}.")

    condition = None
    try:
        condition = parse_condition(raw["condition"])
    except ConditionSyntaxError as exc:
        err(exc.path, str(exc))

    template = None
    try:
        template = parse_template(raw["template"])
    except TemplateSyntaxError as exc:
        err("template", str(exc))

    specs: dict[str, FieldSpec] = {}
    if condition is not None:
        for f in condition.fields():
            specs[f] = resolve_field(f)
    if template is not None and condition is not None:
        guaranteed = condition.guaranteed()
        for var in template.variables:
            try:
                specs.setdefault(var, resolve_field(var))
            except KeyError as exc:
                err("template", f"unknown template variable {{{var}}}: {exc.args[0]}")
                continue
            if var not in guaranteed:
                where = "appears only under 'any'" if var in condition.fields() else "is not used in the condition"
                err("template", f"template variable {{{var}}} {where}, so it may have no value when the rule "
                                f"fires; use a field every firing is sure to have: {sorted(guaranteed)}.")
    if not ok[0] or eff_from is None or template is None or condition is None:
        return None
    return Rule(id=rid, version=version, category=category, level=level, urgent=urgent, owner=owner.strip(),
                effective_from=eff_from, effective_until=eff_until, template=template, condition=condition,
                title=(raw.get("title") or "").strip(), description=(raw.get("description") or "").strip(),
                specs=specs)
