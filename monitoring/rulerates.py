"""Rule hit-rate drift: each rule's share of people hit, reference window against current window."""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["rule_hit_rates", "compare_rule_rates"]


def rule_hit_rates(ruleset, features: pd.DataFrame, version_date) -> pd.DataFrame:
    """Per rule id: rows evaluated, rows hit, rate — every row judged by the rule versions in force
    at ``version_date``, so a planned rule change never looks like data drift."""
    import rules

    frame = features.drop(columns=["as_of"]).assign(
        person_id=features["person_id"].astype(str) + "|" + features["as_of"].astype(str))
    hits = rules.evaluate_batch(ruleset, frame, as_of=pd.Timestamp(version_date))
    n = len(frame)
    counts = hits.drop_duplicates(["person_id", "rule_id"]).groupby("rule_id").size()
    ids = list(dict.fromkeys(r.id for r in ruleset.rules))
    out = pd.DataFrame({"rule_id": ids})
    out["hits"] = out["rule_id"].map(counts).fillna(0).astype(int)
    out["rows"] = n
    out["rate"] = out["hits"] / n if n else 0.0
    # The same person appears in every snapshot of a window: the rows are not independent. The
    # significance test uses one snapshot's worth of rows as the effective sample.
    out["snapshots"] = max(1, features["as_of"].nunique())
    return out


def compare_rule_rates(reference: pd.DataFrame, current: pd.DataFrame, cfg) -> pd.DataFrame:
    """Alarm when a rule's rate changes by ``hit_rate_ratio`` either way, |z| > 3 (two proportions on
    the effective sample) and the rule hits at least ``min_hits`` people per snapshot in one window."""
    m = reference.merge(current, on="rule_id", suffixes=("_ref", "_cur"))
    rows = []
    for r in m.itertuples():
        p1, p2 = r.rate_ref, r.rate_cur
        n1, n2 = r.rows_ref / r.snapshots_ref, r.rows_cur / r.snapshots_cur
        pooled = (p1 * n1 + p2 * n2) / (n1 + n2) if n1 + n2 else 0.0
        se = math.sqrt(pooled * (1 - pooled) * (1 / max(n1, 1) + 1 / max(n2, 1))) if 0 < pooled < 1 else 0.0
        z = (p2 - p1) / se if se else 0.0
        ratio = (p2 / p1) if p1 > 0 else (math.inf if p2 > 0 else 1.0)
        enough = max(r.hits_ref / r.snapshots_ref, r.hits_cur / r.snapshots_cur) >= cfg.min_hits
        alarm = enough and abs(z) > 3 and (ratio >= cfg.hit_rate_ratio or ratio <= 1 / cfg.hit_rate_ratio)
        rows.append({"rule_id": r.rule_id, "rate_reference": p1, "rate_current": p2, "ratio": ratio, "z": z,
                     "alarm": bool(alarm)})
    return pd.DataFrame(rows, columns=["rule_id", "rate_reference", "rate_current", "ratio", "z", "alarm"])
