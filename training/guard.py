"""The checks that keep protected attributes out of every model: by name, by declaration and by content.

Sex, ethnicity/race (民族), religion and political affiliation are always protected; age, region and
urban/rural audit fairness and never score in the built-in world (DESIGN.md, Safeguards). The
trainer calls :func:`check_feature_names` before fitting, and the loader calls it again before
serving a model, so a spec, a config or a hand-edited artifact cannot slip one in by name.

A name check alone is defeated by a rename (``years_old``, ``flag_x``), so a bring-your-own-data
table is also checked by content (:func:`check_proxies`): a feature that equals a protected column
or predicts it with ROC-AUC >= 0.9, or correlates with it at |r| >= 0.9, is refused with a message
naming both columns and the measure.

>>> check_feature_names(["calls_30d", "threat_90d"])
>>> check_feature_names(["calls_30d", "sex"])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
training.errors.ProtectedFeatureError: 受保护属性不得作为模型特征 / protected attribute(s) ['sex'] ...
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from training.errors import ProtectedFeatureError

__all__ = ["ALWAYS_PROTECTED", "AGE_NAMES", "AGE_POLICIES", "protected_names", "check_feature_names",
           "check_proxies", "proxy_measures", "PROXY_AUC", "PROXY_CORRELATION"]

#: Protected in every model, whatever a spec says; names and common spellings (an encoding such as
#: ``race_black`` or ``sex=F`` is caught by the prefix rule below).
ALWAYS_PROTECTED = frozenset({
    "sex", "gender", "is_female", "is_male", "female", "male", "性别",
    "ethnicity", "race", "ethnic_group", "nation", "minzu", "民族",
    "religion", "religious", "faith", "宗教", "宗教信仰",
    "political_affiliation", "political_activity", "political_party", "party_member", "政治面貌", "党派",
})
#: Age and its spellings: protected unless a policy says otherwise (recorded in the model card).
AGE_NAMES = frozenset({"age", "age_band", "birth_year", "years_old", "年龄", "出生年份"})
#: ``audit_only``: age is audited, never a feature (the built-in world's policy, DESIGN.md);
#: ``not_used``: age is neither a feature nor audited.
AGE_POLICIES = ("audit_only", "not_used")
PROXY_AUC = 0.9
PROXY_CORRELATION = 0.9


def protected_names(extra: Iterable[str] = ()) -> frozenset[str]:
    """The catalog's PROTECTED_ATTRIBUTES, the always-protected names, age, and any extra names (a BYOD spec)."""
    from features.catalog import PROTECTED_ATTRIBUTES

    base = {str(x).lower() for x in PROTECTED_ATTRIBUTES} | ALWAYS_PROTECTED | AGE_NAMES
    return frozenset(base) | frozenset(str(x).lower() for x in extra)


def _is_protected(name: str, protected: frozenset[str]) -> bool:
    n = name.lower()
    # An exact match, or a one-hot / derived encoding of one ("sex_M", "age_band=30-39").
    return n in protected or any(n.startswith(p + "_") or n.startswith(p + "=") for p in protected)


def check_feature_names(names: Iterable[str], never: Iterable[str] = ()) -> None:
    """Raise :class:`ProtectedFeatureError` if any name is (an encoding of) a protected attribute."""
    protected = protected_names(never)
    bad = [n for n in names if _is_protected(str(n), protected)]
    if bad:
        raise ProtectedFeatureError(
            f"受保护属性不得作为模型特征 / protected attribute(s) {bad} requested as model features; "
            f"protected and never-feature columns are {sorted(protected)}. They may be used only as "
            f"audit groups: remove them from the feature list (BYOD: move them to audit_groups).")


def _auc_one_vs_rest(x: np.ndarray, target: np.ndarray) -> float:
    """ROC-AUC of ``x`` separating ``target`` from the rest, folded to >= 0.5 (direction does not matter)."""
    from scipy.stats import rankdata

    pos = int(target.sum())
    neg = len(target) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    r = rankdata(x)
    auc = (r[target].sum() - pos * (pos + 1) / 2) / (pos * neg)
    return float(max(auc, 1 - auc))


def proxy_measures(feature: pd.Series, protected: pd.Series, max_levels: int = 30,
                   min_level_rows: int = 20) -> dict:
    """How well one numeric feature stands in for one protected column.

    ``auc``: the best one-vs-rest ROC-AUC of the feature (missing values as their own lowest value)
    for any level of the protected column with at least ``min_level_rows`` rows; ``correlation``:
    |Pearson r| with the protected column when it is numeric, or with its 0/1 indicator when it has
    two levels; ``equal``: the feature is a relabelling of the protected column (one value per level).
    """
    x = pd.to_numeric(feature, errors="coerce").astype(float).to_numpy()
    x = np.where(np.isnan(x), np.nanmin(x) - 1 if np.isfinite(x).any() else 0.0, x)
    ok = protected.notna().to_numpy()
    x, prot = x[ok], protected[ok]
    out: dict[str, Any] = {"auc": float("nan"), "auc_level": None, "correlation": float("nan"), "equal": False}
    if len(x) < 2 * min_level_rows or np.all(x == x[0]):
        return out
    num = pd.to_numeric(prot, errors="coerce")
    if num.notna().all() and num.nunique() > 2:
        c = np.corrcoef(x, num.to_numpy(float))[0, 1]
        out["correlation"] = float(abs(c)) if np.isfinite(c) else float("nan")
    levels = prot.astype("string").to_numpy()
    counts = pd.Series(levels).value_counts()
    use = counts[counts >= min_level_rows].index[:max_levels]
    best, best_level = float("nan"), None
    for lv in use:
        a = _auc_one_vs_rest(x, levels == lv)
        if np.isfinite(a) and not (best >= a):
            best, best_level = a, str(lv)
    out["auc"], out["auc_level"] = best, best_level
    if len(counts) == 2:
        c = np.corrcoef(x, (levels == counts.index[0]).astype(float))[0, 1]
        if np.isfinite(c):
            out["correlation"] = max(float(abs(c)), out["correlation"]) if np.isfinite(out["correlation"]) \
                else float(abs(c))
    pairs = pd.DataFrame({"x": x, "g": levels}).drop_duplicates()
    out["equal"] = bool(pairs["x"].is_unique and pairs["g"].is_unique)
    return out


def check_proxies(frame: pd.DataFrame, features: Iterable[str], protected_columns: Iterable[str], *,
                  auc_threshold: float = PROXY_AUC, corr_threshold: float = PROXY_CORRELATION,
                  max_rows: int = 50_000, seed: int = 0) -> dict[str, dict[str, dict]]:
    """Refuse a feature that equals or nearly predicts a protected column; return every measure taken.

    Rows are subsampled to ``max_rows`` (a fixed seed) to keep large tables cheap. Raises
    :class:`ProtectedFeatureError` naming the feature, the protected column and the measure.
    """
    prot = [c for c in dict.fromkeys(protected_columns) if c in frame]
    feats = [f for f in features if f in frame]
    if not prot or not feats:
        return {}
    df = frame[[*dict.fromkeys([*feats, *prot])]]
    if len(df) > max_rows:
        df = df.sample(max_rows, random_state=seed)
    measures: dict[str, dict[str, dict]] = {}
    bad = []
    for f in feats:
        for p in prot:
            if f == p:
                continue
            m = proxy_measures(df[f], df[p])
            measures.setdefault(f, {})[p] = m
            if m["equal"]:
                bad.append(f"{f!r} equals protected column {p!r} (one feature value per group; ROC-AUC "
                           f"{m['auc']:.3f})")
            elif np.isfinite(m["auc"]) and m["auc"] >= auc_threshold:
                bad.append(f"{f!r} predicts protected column {p!r} (group {m['auc_level']}) with ROC-AUC "
                           f"{m['auc']:.3f} >= {auc_threshold}")
            elif np.isfinite(m["correlation"]) and m["correlation"] >= corr_threshold:
                bad.append(f"{f!r} correlates with protected column {p!r}: |r| = {m['correlation']:.3f} "
                           f">= {corr_threshold}")
    if bad:
        raise ProtectedFeatureError(
            "特征是受保护属性的替代 / feature(s) stand in for a protected attribute: " + "; ".join(bad)
            + ". A renamed or derived copy of a protected column is still that column: remove the feature "
              "from the spec's features (the protected column may stay as an audit group).")
    return measures
