"""ScoredPerson -> JSON-ready dict, fast (``dataclasses.asdict`` deep-copies; this does not).

The output equals ``ScoredPerson.to_dict()`` (a test checks it), so ``ScoredPerson.from_dict`` reads it back.
"""

from __future__ import annotations

from common.records import Explanation, ScoredPerson

__all__ = ["scored_to_dict", "explanation_to_dict"]


def explanation_to_dict(e: Explanation | None) -> dict | None:
    if e is None:
        return None
    return {
        "summary": e.summary,
        "rule_hits": [{"rule_id": h.rule_id, "rule_version": h.rule_version, "category": h.category,
                       "level": h.level, "urgent": h.urgent, "explanation": h.explanation} for h in e.rule_hits],
        "factors": [{"feature": f.feature, "label": f.label, "value": f.value, "contribution": f.contribution,
                     "direction": f.direction, "phrase": f.phrase} for f in e.factors],
        "actions": list(e.actions),
    }


def scored_to_dict(s: ScoredPerson) -> dict:
    return {
        "person_id": s.person_id, "as_of": s.as_of.isoformat(), "probability": s.probability, "level": s.level,
        "categories": list(s.categories), "explanation": explanation_to_dict(s.explanation),
        "ruleset_version": s.ruleset_version, "model_version": s.model_version, "catalog_version": s.catalog_version,
        "snapshot_time": s.snapshot_time.isoformat(), "source": s.source, "urgent": s.urgent, "extra": dict(s.extra),
    }
