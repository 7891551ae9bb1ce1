"""The rules-only ranking score: the dumb baseline a model must beat before promotion.

score = highest level hit (red 3, orange 2, yellow 1) + 0.1 x number of distinct rules hit (capped
at 9, so a tie-break never lifts a person above the next level); 0 for no hits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from common.levels import level_rank
from rules.errors import RuleInputError

__all__ = ["rules_baseline_score"]


def rules_baseline_score(hits: pd.DataFrame, population: pd.DataFrame) -> pd.Series:
    """One score per row of ``population`` (person_id, as_of), aligned with its index.

    >>> hits = pd.DataFrame({"person_id": ["A", "A"], "as_of": pd.to_datetime(["2026-01-01"] * 2),
    ...                      "rule_id": ["R1", "R2"], "level": ["orange", "yellow"]})
    >>> pop = pd.DataFrame({"person_id": ["A", "B"], "as_of": pd.to_datetime(["2026-01-01"] * 2)})
    >>> rules_baseline_score(hits, pop).round(2).tolist()
    [2.2, 0.0]
    """
    for name, df, cols in (("hits", hits, ("person_id", "as_of", "rule_id", "level")),
                           ("population", population, ("person_id", "as_of"))):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise RuleInputError(f"{name} lacks columns {missing}.")
    key = ["person_id", "as_of"]
    pop = population[key].copy()
    pop["as_of"] = pd.to_datetime(pop["as_of"])
    if len(hits):
        h = hits[key + ["rule_id", "level"]].copy()
        h["as_of"] = pd.to_datetime(h["as_of"])
        h["rank"] = h["level"].map(level_rank).astype(np.int64)
        agg = h.groupby(key, sort=False).agg(max_rank=("rank", "max"), n_rules=("rule_id", "nunique")).reset_index()
        agg["score"] = agg["max_rank"] + 0.1 * np.minimum(agg["n_rules"], 9)
        merged = pop.merge(agg[key + ["score"]], on=key, how="left")
        score = merged["score"].fillna(0.0).to_numpy()
    else:
        score = np.zeros(len(pop))
    return pd.Series(score, index=population.index, name="rules_score", dtype=np.float64)
