"""Helpers for the rules tests: build rule sets, cases, and compare the two engines."""

from __future__ import annotations

import math
import random

import pandas as pd

import rules
from rules._fields import EVENT_FIELDS, EVENT_PREFIX

AS_OF = pd.Timestamp("2026-01-15")


def minimal_ruleset(rules_list, version="1"):
    """A rule set from a list of rule dicts (defaults filled in), through the real loader."""
    filled = []
    for i, r in enumerate(rules_list):
        base = {"id": f"T{i:03d}", "version": 1, "category": "repeat_dispute", "level": "yellow", "owner": "test",
                "effective_from": "2020-01-01", "template": "测试"}
        base.update(r)
        filled.append(base)
    return rules.parse_ruleset({"name": "test", "version": version,
                                "changelog": [{"version": version, "date": "2026-11-29", "changes": ["test"]}],
                                "rules": filled}, source="test.yaml")


def frame_from_cases(cases):
    """cases: list of (person_id, event dict, features dict, as_of) -> a batch frame with event.* columns."""
    rows = []
    for pid, event, feats, as_of in cases:
        row = {"person_id": pid, "as_of": pd.Timestamp(as_of)}
        row.update(feats)
        for k, v in (event or {}).items():
            if EVENT_PREFIX + k in EVENT_FIELDS:
                row[EVENT_PREFIX + k] = v
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame


def batch_tuples(hits: pd.DataFrame) -> list[tuple]:
    return [(r.person_id, r.rule_id, int(r.rule_version), r.category, r.level, bool(r.urgent), r.explanation)
            for r in hits.itertuples()]


def event_tuples(engine, cases) -> list[tuple]:
    out = []
    for pid, event, feats, as_of in cases:
        for h in engine.evaluate(pid, event, feats, as_of=as_of):
            out.append((pid, h.rule_id, h.rule_version, h.category, h.level, h.urgent, h.explanation))
    return out


def random_case(rng: random.Random, ruleset, i: int, as_of=AS_OF, as_ofs=None):
    """A feature vector near the rule thresholds, with missing values, and sometimes an event.

    ``as_ofs``: pick the as-of time from these (e.g. both sides of a rule's version change)."""
    if as_ofs:
        as_of = rng.choice(as_ofs)
    feats = {}
    for f in sorted(ruleset.features_used):
        p = rng.random()
        if p < 0.15:
            continue                      # key absent
        if p < 0.22:
            feats[f] = None if rng.random() < 0.5 else math.nan
        elif p < 0.25:
            feats[f] = rng.choice([0.5, 2.5, -1.0, 1e6])
        else:
            feats[f] = rng.choice([0, 0, 1, 1, 2, 2, 3, 3, 4, 5])
    event = None
    if rng.random() < 0.7:
        event = {}
        for name, spec in EVENT_FIELDS.items():
            key = name[len(EVENT_PREFIX):]
            if rng.random() < 0.15:
                continue
            if spec.kind == "bool":
                event[key] = rng.choice([True, False, False, None])
            else:
                event[key] = rng.choice(sorted(spec.allowed) + [None])
    return (f"P{i:06d}", event, feats, as_of)


class FakeStore:
    """A tiny stand-in for features.store.EventStore with the methods the backtest uses.

    Persons P0..P5 live in grids G1 (P0-P2) and G2 (P3-P5); G3 has nobody. Features are set per
    person and month so that the expected per-rule figures can be worked out by hand.
    """

    GRIDS = ["G51010700100101", "G51010700100102", "G51010700100103"]

    def __init__(self, features_by_month: dict, outcomes: list[tuple[str, str]], data_end="2026-06-30"):
        self._features = features_by_month       # {"2026-01-01": {"P0": {"kw_emotion_90d": 2}, ...}}
        self._outcomes = outcomes
        self.data_end = pd.Timestamp(data_end)
        self.persons = [f"P{i}" for i in range(6)]

    def features(self, as_of_list):
        from features.catalog import FEATURE_NAMES

        rows = []
        for a in as_of_list:
            a = pd.Timestamp(a)
            month = self._features.get(a.strftime("%Y-%m-%d"), {})
            for p in self.persons:
                row = {"person_id": p, "as_of": a, **{f: 0.0 for f in FEATURE_NAMES}}
                row.update(month.get(p, {}))
                rows.append(row)
        return pd.DataFrame(rows)

    def table(self, name):
        if name == "outcomes":
            return pd.DataFrame({"outcome_id": [f"O{i}" for i in range(len(self._outcomes))],
                                 "person_id": [p for p, _ in self._outcomes],
                                 "time": pd.to_datetime([t for _, t in self._outcomes]),
                                 "kind": "violent_case"})
        if name == "persons":
            return pd.DataFrame({"person_id": self.persons,
                                 "residence_address_code": [f"510107001001-000{1 if i < 3 else 2}"
                                                            for i in range(6)]})
        if name == "addresses":
            return pd.DataFrame({"address_code": ["510107001001-0001", "510107001001-0002"],
                                 "grid_id": self.GRIDS[:2]})
        if name == "grids":
            return pd.DataFrame({"grid_id": self.GRIDS})
        raise KeyError(name)

    def online_vector(self, person_id, as_of):
        f = self.features([pd.Timestamp(as_of)])
        row = f[f["person_id"] == person_id].iloc[0].drop(["person_id", "as_of"])
        return row.to_dict()
