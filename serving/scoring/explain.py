"""Explanations in plain Chinese: rule hits with their filled templates, the model's top factors
(LightGBM ``pred_contrib``, phrased through the feature catalog) and a suggested action per category.

Contributions are computed by the caller (:mod:`serving.scoring.scorer`) only for the rows that need
them; this module only turns numbers into words.

>>> from serving.scoring.fusion import load_policy
>>> f = factors_from_contributions(["calls_30d"], [0.8], {"calls_30d": 4.0}, top=None, min_abs=0.0)
>>> f[0].phrase
'近30天报警4次，风险上升'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from common.records import RISK_DOWN, RISK_UP, Explanation, Factor, RuleHitView, plain_reasons
from features.catalog import CATALOG, RISK_CATEGORIES
from serving.scoring.fusion import FusionPolicy, FusionResult

__all__ = ["factors_from_contributions", "hit_views", "build_explanation", "summary_sentence", "fidelity"]

_UP, _DOWN = RISK_UP, RISK_DOWN


def _phrase(name: str, value) -> tuple[str, str]:
    feat = CATALOG.get(name)
    if feat is None:  # a model feature the catalog does not know (BYOD); say it plainly
        v = "无记录" if value is None or value != value else f"{value:g}"
        return name, f"{name}={v}"
    return feat.label, feat.phrase(value)


def factors_from_contributions(features: Sequence[str], contributions: Sequence[float],
                               values: Mapping[str, float | None], *, top: int | None,
                               min_abs: float) -> tuple[Factor, ...]:
    """Factors sorted by |contribution| (ties by feature name), at most ``top`` (None: all)."""
    if top is not None and isinstance(contributions, np.ndarray) and len(contributions) > 4 * top + 8:
        # The few candidates first (numpy), then the exact ordering below on those alone: every value
        # within rounding distance of the top-th largest is kept, so the result is the same.
        a = np.abs(contributions)
        ok = np.flatnonzero((a >= min_abs) & (contributions != 0.0))
        if len(ok) > top:
            kth = np.partition(a[ok], len(ok) - top)[len(ok) - top]
            ok = ok[a[ok] >= kth - 1e-9]
        pairs = [(features[i], float(contributions[i])) for i in ok.tolist()]
    else:
        pairs = [(name, float(c)) for name, c in zip(features, contributions, strict=True)
                 if abs(c) >= min_abs and c != 0.0]
    pairs.sort(key=lambda nc: (-round(abs(nc[1]), 12), nc[0]))
    if top is not None:
        pairs = pairs[:top]
    out = []
    for name, c in pairs:
        v = values.get(name)
        v = None if v is None or v != v else float(v)
        label, text = _phrase(name, v)
        out.append(Factor(feature=name, label=label, value=v, contribution=round(c, 6),
                          direction="up" if c > 0 else "down", phrase=text + (_UP if c > 0 else _DOWN)))
    return tuple(out)


def hit_views(hits: Sequence) -> tuple[RuleHitView, ...]:
    """Hits (``rules.Hit`` or rows with the same fields) as the contract's RuleHitView."""
    return tuple(RuleHitView(rule_id=str(h.rule_id), rule_version=str(h.rule_version), category=str(h.category),
                             level=str(h.level), urgent=bool(h.urgent), explanation=str(h.explanation))
                 for h in hits)


def summary_sentence(result: FusionResult, hits: Sequence[RuleHitView], factors: Sequence[Factor],
                     policy: FusionPolicy) -> str:
    """One sentence for the cadre: level, categories, the two strongest reasons."""
    label = policy.labels.get(result.level, result.level)
    cats = "、".join(RISK_CATEGORIES[c] for c in result.categories)
    reasons = list(plain_reasons([h.explanation for h in hits], [f.phrase for f in factors if f.direction == "up"],
                                 limit=2))
    head = f"{label}（{cats}）" if cats else label
    if result.level == "none":
        return f"{head}：当前未达到预警条件。" if not reasons else f"{head}：{'；'.join(reasons)}。"
    return f"{head}：{'；'.join(reasons) or '模型综合评分较高'}。"


def build_explanation(result: FusionResult, hits: Sequence[RuleHitView], factors: Sequence[Factor],
                      policy: FusionPolicy, *, max_hits: int | None = None) -> Explanation:
    """The :class:`~common.records.Explanation` for one person (hits sorted most serious first)."""
    from common.levels import level_rank

    ordered = sorted(hits, key=lambda h: (-level_rank(h.level), not h.urgent, h.rule_id))
    if max_hits is not None:
        ordered = ordered[:max_hits]
    actions = tuple(policy.actions[c] for c in result.categories if c in policy.actions)
    return Explanation(summary=summary_sentence(result, ordered, factors, policy), rule_hits=tuple(ordered),
                       factors=tuple(factors), actions=actions)


def fidelity(shown: Sequence[Explanation | None], exact: Sequence[Explanation | None],
             exact_contributions: Sequence[Mapping[str, float]], *, top: int = 3) -> dict:
    """How far explanations ``shown`` to people agree with ``exact`` ones for the same rows.

    ``exact`` are the explanations built the same way from exact TreeSHAP, ``exact_contributions``
    each row's full TreeSHAP vector (feature -> log-odds). Measured on what a reviewer reads: ``top3``
    is the share of rows whose ``top`` strongest shown factors are the same set; ``sign`` the share of
    shown factors whose direction (风险上升 / 风险下降) agrees with the sign of that feature's exact
    contribution; ``summary`` the share of identical summary sentences (level, categories and the two
    strongest reasons as phrased). Rows without an explanation on both sides are skipped; one on one
    side only disagrees everywhere.
    """
    rows = top_ok = factors = sign_ok = summary_ok = 0
    for a, b, c in zip(shown, exact, exact_contributions, strict=True):
        if a is None and b is None:
            continue
        rows += 1
        if a is None or b is None:
            continue
        top_ok += {f.feature for f in a.factors[:top]} == {f.feature for f in b.factors[:top]}
        summary_ok += a.summary == b.summary
        for f in a.factors:
            factors += 1
            sign_ok += (float(c.get(f.feature, 0.0)) > 0) == (f.direction == "up")
    return {"rows": rows, "top3": top_ok / rows if rows else 1.0, "factors": factors,
            "sign": sign_ok / factors if factors else 1.0, "summary": summary_ok / rows if rows else 1.0}
