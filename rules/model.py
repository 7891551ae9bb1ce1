"""Rules as data: :class:`Rule`, :class:`RuleSet`, :class:`Hit` and the level order.

A rule is immutable once loaded. Several versions of one rule id may live in a rule set as long as
their effective windows ``[effective_from, effective_until)`` do not overlap, so at any moment at
most one version of a rule is in force and every hit names the exact version that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from common.clock import to_data_time
from common.levels import AlertLevel
from rules._fields import FieldSpec
from rules.condition import Condition
from rules.template import Template

__all__ = ["Level", "Rule", "RuleSet", "Hit", "ChangelogEntry",
           "to_timestamp"]

#: A rule's level: one of the alert levels (never ``none``).
Level = AlertLevel


def to_timestamp(value) -> pd.Timestamp:
    """A data-contract time (naive Beijing wall time, :func:`common.clock.to_data_time`) as a pandas
    Timestamp; a naive value is kept as it is (to the nanosecond), an aware one converted."""
    ts = pd.Timestamp(value)
    return pd.Timestamp(to_data_time(ts)) if ts.tzinfo is not None else ts


@dataclass(frozen=True)
class Rule:
    id: str
    version: int
    category: str
    level: Level
    urgent: bool
    owner: str
    effective_from: date
    effective_until: date | None
    template: Template
    condition: Condition
    title: str = ""
    description: str = ""
    specs: dict[str, FieldSpec] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.id}@v{self.version}"

    @property
    def features_used(self) -> set[str]:
        return {f for f in self.condition.fields() if not self.specs[f].is_event}

    @property
    def event_fields_used(self) -> set[str]:
        return {f for f in self.condition.fields() if self.specs[f].is_event}

    @property
    def needs_event(self) -> bool:
        return bool(self.event_fields_used)

    def is_effective(self, as_of) -> bool:
        ts = to_timestamp(as_of)
        if ts < pd.Timestamp(self.effective_from):
            return False
        return self.effective_until is None or ts < pd.Timestamp(self.effective_until)

    def explain(self, values: dict) -> str:
        """Render the explanation from normalised values (field name -> value)."""
        return self.template.render(values, self.specs)


@dataclass(frozen=True)
class ChangelogEntry:
    version: str
    date: date | None
    changes: tuple[str, ...]


@dataclass(frozen=True)
class RuleSet:
    version: str
    rules: list[Rule]
    changelog: list[ChangelogEntry]
    name: str = "default"
    source: str = "<memory>"

    @property
    def features_used(self) -> set[str]:
        return set().union(*(r.features_used for r in self.rules)) if self.rules else set()

    @property
    def event_fields_used(self) -> set[str]:
        return set().union(*(r.event_fields_used for r in self.rules)) if self.rules else set()

    @property
    def specs(self) -> dict[str, FieldSpec]:
        out: dict[str, FieldSpec] = {}
        for r in self.rules:
            out.update(r.specs)
        return out

    @property
    def rule_ids(self) -> list[str]:
        return list(dict.fromkeys(r.id for r in self.rules))

    def effective(self, as_of) -> list[Rule]:
        """The rules in force at ``as_of`` (at most one version per rule id)."""
        return [r for r in self.rules if r.is_effective(as_of)]

    def latest(self) -> RuleSet:
        """The latest version of every rule, in force at all times: "how would today's rules have
        done", for backtesting a rule that is newer than the history it is tested on."""
        from dataclasses import replace

        newest: dict[str, Rule] = {}
        for r in self.rules:
            if r.id not in newest or r.version > newest[r.id].version:
                newest[r.id] = r
        rules = [replace(newest[i], effective_from=date(1900, 1, 1), effective_until=None) for i in self.rule_ids]
        return replace(self, rules=rules)

    def get(self, rule_id: str, as_of=None) -> Rule:
        cands = [r for r in self.rules if r.id == rule_id and (as_of is None or r.is_effective(as_of))]
        if not cands:
            raise KeyError(f"no rule {rule_id!r}" + (f" in force at {as_of}" if as_of is not None else ""))
        return max(cands, key=lambda r: r.version)


@dataclass(frozen=True)
class Hit:
    """One rule firing for one person: what fired, how serious, and why in plain Chinese."""

    rule_id: str
    rule_version: int
    category: str
    level: Level
    urgent: bool
    explanation: str
