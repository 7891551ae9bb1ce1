"""Fusion: rule hits + calibrated probability -> risk level and categories, by a policy in YAML.

The policy (``serving/scoring/config/fusion.yaml``, documented key by key there and in docs/serving.md):

* **model level** — the calibrated probability against three thresholds (red >= orange >= yellow).
  The thresholds are either fixed probabilities (``mode: probability``) or derived from capacity
  (``mode: capacity``): the grid teams can act on ``alerts_per_grid_per_week`` alerts per level, so a
  batch covering ``period_days`` may raise ``k = rate x grids x period_days / 7`` alerts of that level
  or worse, and the threshold is the k-th highest probability of a reference batch.
* **rule level** — the most serious level among the rule hits; an urgent hit is at least
  ``rules.urgent_level``.
* **fused level** = max(model level, rule level) (with ``rules.raise_level``). A higher probability
  or an added hit therefore never lowers the level (tested as a property).
* **categories** = the categories of the hits, plus (``model.add_categories``) those the model's
  positive contributions speak to (through ``Feature.categories`` in the catalog) when the model on
  its own reaches ``model.category_min_level``. Listed in the catalog's order of RISK_CATEGORIES.

Everything here is a pure function of its inputs: no clock, no randomness, no global state.

>>> pol = load_policy()
>>> th = Thresholds(red=0.2, orange=0.08, yellow=0.03, mode="probability")
>>> fuse(0.10, [], th, pol).level
'orange'
>>> fuse(0.01, [("RT001", "retaliation", "red", True)], th, pol).level
'red'
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.levels import ALERT_LEVELS, LEVELS, level_rank
from features.catalog import CATALOG, RISK_CATEGORIES
from serving.scoring.errors import ServingConfigError

__all__ = [
    "FusionPolicy",
    "Thresholds",
    "FusionResult",
    "load_policy",
    "thresholds_from_capacity",
    "thresholds_for",
    "model_levels",
    "model_categories",
    "fuse",
]

_CATEGORY_ORDER = {c: i for i, c in enumerate(RISK_CATEGORIES)}


@dataclass(frozen=True)
class FusionPolicy:
    version: str
    mode: str                                   # probability | capacity
    probability: dict[str, float]               # level -> threshold
    capacity_rates: dict[str, float]            # level -> alerts per grid per week
    period_days: float
    grids: int | None
    floor: dict[str, float]
    raise_level: bool
    urgent_level: str
    add_categories: bool
    category_min_level: str
    category_min_share: float
    category_max: int
    top_factors: int
    min_abs_contribution: float
    max_rule_hits: int
    labels: dict[str, str]
    actions: dict[str, str]
    source: str = "<memory>"


@dataclass(frozen=True)
class Thresholds:
    """Probability thresholds in force. ``detail`` says how they were set (for /status and records)."""

    red: float
    orange: float
    yellow: float
    mode: str
    detail: dict = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict:
        return {"red": self.red, "orange": self.orange, "yellow": self.yellow, "mode": self.mode, **self.detail}


@dataclass(frozen=True)
class FusionResult:
    level: str
    categories: tuple[str, ...]
    model_level: str
    rule_level: str
    urgent: bool
    model_categories: tuple[str, ...] = ()


# -- policy ------------------------------------------------------------------------------------------
_SCHEMA = {
    "version": None,
    "thresholds": {"mode": None, "probability": {"red": None, "orange": None, "yellow": None},
                   "capacity": {"alerts_per_grid_per_week": {"red": None, "orange": None, "yellow": None},
                                "period_days": None, "grids": None,
                                "floor": {"red": None, "orange": None, "yellow": None}}},
    "rules": {"raise_level": None, "urgent_level": None},
    "model": {"add_categories": None, "category_min_level": None, "category_min_share": None, "category_max": None},
    "explanations": {"top_factors": None, "min_abs_contribution": None, "max_rule_hits": None},
    "labels": {"red": None, "orange": None, "yellow": None, "none": None},
    "actions": {c: None for c in RISK_CATEGORIES},
}


def _check_keys(data, schema, where: str, source: str) -> None:
    if not isinstance(data, dict):
        raise ServingConfigError(f"{source}: {where or 'the file'} must be a mapping, got {data!r}.", field=where)
    for k in data:
        if k not in schema:
            close = difflib.get_close_matches(str(k), list(schema), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ServingConfigError(f"{source}: unknown key {where + '.' if where else ''}{k}; allowed: "
                                     f"{sorted(schema)}.{hint}", field=f"{where}.{k}".strip("."))
    for k, sub in schema.items():
        if k not in data:
            raise ServingConfigError(f"{source}: missing key {where + '.' if where else ''}{k}.",
                                     field=f"{where}.{k}".strip("."))
        if isinstance(sub, dict) and data[k] is not None:
            _check_keys(data[k], sub, f"{where}.{k}".strip("."), source)


def load_policy(path: str | Path | None = None) -> FusionPolicy:
    """Read and validate a fusion policy YAML (``None``: the packaged default)."""
    import yaml

    from serving.scoring.settings import default_fusion_path

    p = default_fusion_path() if path is None else Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ServingConfigError(f"fusion policy {str(p)!r} not found.", field="fusion") from None
    except yaml.YAMLError as exc:
        raise ServingConfigError(f"{p}: not valid YAML: {exc}", field="fusion") from None
    return parse_policy(data, source=str(p))


def parse_policy(data: dict, source: str = "<memory>") -> FusionPolicy:
    _check_keys(data, _SCHEMA, "", source)
    th, cap = data["thresholds"], data["thresholds"]["capacity"]

    def num(value, fld, lo=0.0, hi=1.0) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= float(value) <= hi:
            raise ServingConfigError(f"{source}: {fld}={value!r}; expected a number in [{lo}, {hi}].", field=fld)
        return float(value)

    def lvl(value, fld, allowed=ALERT_LEVELS) -> str:
        if value not in allowed:
            raise ServingConfigError(f"{source}: {fld}={value!r}; allowed: {list(allowed)}.", field=fld)
        return value

    if th["mode"] not in ("probability", "capacity"):
        raise ServingConfigError(f"{source}: thresholds.mode={th['mode']!r}; allowed: 'probability', 'capacity'.",
                                 field="thresholds.mode")
    prob = {k: num(th["probability"][k], f"thresholds.probability.{k}") for k in ALERT_LEVELS}
    if not prob["red"] >= prob["orange"] >= prob["yellow"] > 0:
        raise ServingConfigError(f"{source}: thresholds.probability must satisfy red >= orange >= yellow > 0, got "
                                 f"{prob}.", field="thresholds.probability")
    rates = {k: num(cap["alerts_per_grid_per_week"][k], f"thresholds.capacity.alerts_per_grid_per_week.{k}", 0, 1e3)
             for k in ALERT_LEVELS}
    if not 0 < rates["red"] <= rates["orange"] <= rates["yellow"]:
        raise ServingConfigError(f"{source}: alerts_per_grid_per_week must satisfy 0 < red <= orange <= yellow "
                                 f"(each level includes the more serious ones), got {rates}.",
                                 field="thresholds.capacity.alerts_per_grid_per_week")
    grids = cap["grids"]
    if grids is not None and (isinstance(grids, bool) or not isinstance(grids, int) or grids < 1):
        raise ServingConfigError(f"{source}: thresholds.capacity.grids={grids!r}; expected null or a positive "
                                 f"integer.", field="thresholds.capacity.grids")
    floor = {k: num(cap["floor"][k], f"thresholds.capacity.floor.{k}") for k in ALERT_LEVELS}
    m, e = data["model"], data["explanations"]
    cmax = m["category_max"]
    if isinstance(cmax, bool) or not isinstance(cmax, int) or not 0 <= cmax <= len(RISK_CATEGORIES):
        raise ServingConfigError(f"{source}: model.category_max={cmax!r}; expected 0..{len(RISK_CATEGORIES)}.",
                                 field="model.category_max")
    for k in ("top_factors", "max_rule_hits"):
        v = e[k]
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 100:
            raise ServingConfigError(f"{source}: explanations.{k}={v!r}; expected an integer 0..100.",
                                     field=f"explanations.{k}")
    for k in ("raise_level", "add_categories"):
        sect = data["rules"] if k == "raise_level" else m
        if not isinstance(sect[k], bool):
            raise ServingConfigError(f"{source}: {k}={sect[k]!r}; expected true or false.", field=k)
    for c, text in data["actions"].items():
        if not isinstance(text, str) or not text.strip():
            raise ServingConfigError(f"{source}: actions.{c} must be a non-empty Chinese sentence.",
                                     field=f"actions.{c}")
    return FusionPolicy(
        version=str(data["version"]), mode=th["mode"], probability=prob, capacity_rates=rates,
        period_days=num(cap["period_days"], "thresholds.capacity.period_days", 1, 366), grids=grids, floor=floor,
        raise_level=data["rules"]["raise_level"], urgent_level=lvl(data["rules"]["urgent_level"], "rules.urgent_level"),
        add_categories=m["add_categories"],
        category_min_level=lvl(m["category_min_level"], "model.category_min_level"),
        category_min_share=num(m["category_min_share"], "model.category_min_share"), category_max=cmax,
        top_factors=e["top_factors"], min_abs_contribution=num(e["min_abs_contribution"],
                                                               "explanations.min_abs_contribution", 0, 100),
        max_rule_hits=e["max_rule_hits"], labels={k: str(v) for k, v in data["labels"].items()},
        actions={k: str(v).strip() for k, v in data["actions"].items()}, source=source,
    )


# -- thresholds --------------------------------------------------------------------------------------
def thresholds_from_capacity(probabilities: Sequence[float], n_grids: int, policy: FusionPolicy) -> Thresholds:
    """The k-th highest reference probability per level, ``k = rate x grids x period_days / 7``.

    >>> pol = load_policy()
    >>> th = thresholds_from_capacity(np.linspace(0, 1, 1001), 100, pol)
    >>> th.red >= th.orange >= th.yellow
    True
    """
    p = np.sort(np.asarray(probabilities, dtype=float))[::-1]
    p = p[np.isfinite(p)]
    if len(p) == 0:
        raise ServingConfigError("capacity thresholds need a reference batch with at least one score; the data "
                                 "has nobody with records at the default as-of (set thresholds.mode: probability "
                                 "or serve a data dir with records).", field="thresholds.capacity")
    out, ks = {}, {}
    for level in ALERT_LEVELS:
        k = max(1, int(round(policy.capacity_rates[level] * n_grids * policy.period_days / 7.0)))
        ks[level] = k
        cut = float(p[min(k, len(p)) - 1])
        if k < len(p) and p[k] == cut:
            # Ties at the cut would raise more than k alerts: capacity is a ceiling, so move the cut to
            # the next distinct value above it (fewer than k alerts rather than more).
            above = p[p > cut]
            cut = float(above[-1]) if len(above) else float(np.nextafter(cut, np.inf))
        out[level] = max(cut, policy.floor[level])
    # Ties at a cut can only widen a level; keep the order red >= orange >= yellow.
    out["orange"] = min(out["orange"], out["red"])
    out["yellow"] = min(out["yellow"], out["orange"])
    return Thresholds(out["red"], out["orange"], out["yellow"], "capacity",
                      {"grids": int(n_grids), "reference_rows": int(len(p)), "alerts_per_batch": ks,
                       "period_days": policy.period_days, "alerts_per_grid_per_week": dict(policy.capacity_rates)})


def thresholds_for(policy: FusionPolicy, reference: Sequence[float] | None = None,
                   n_grids: int | None = None) -> Thresholds:
    """Thresholds as the policy asks: fixed, or from capacity over ``reference`` and ``n_grids``."""
    if policy.mode == "probability":
        pr = policy.probability
        return Thresholds(pr["red"], pr["orange"], pr["yellow"], "probability")
    grids = policy.grids or n_grids
    if not grids:
        raise ServingConfigError("thresholds.mode is capacity but the number of grids is unknown: serve a data dir "
                                 "with a grids table or set thresholds.capacity.grids.", field="thresholds.capacity")
    if reference is None:
        raise ServingConfigError("thresholds.mode is capacity but there is no reference batch (no data dir or no "
                                 "model); set thresholds.mode: probability.", field="thresholds.capacity")
    return thresholds_from_capacity(reference, grids, policy)


def model_levels(probabilities: np.ndarray, th: Thresholds) -> np.ndarray:
    """Vectorised model level index (0 none .. 3 red); NaN (no model) is none."""
    p = np.asarray(probabilities, dtype=float)
    with np.errstate(invalid="ignore"):
        return ((p >= th.yellow).astype(np.int8) + (p >= th.orange).astype(np.int8) + (p >= th.red).astype(np.int8))


# -- categories from contributions -------------------------------------------------------------------
def model_categories(features: Sequence[str], contributions: Iterable[float], policy: FusionPolicy) -> tuple[str, ...]:
    """Categories that carry at least ``category_min_share`` of the positive contribution mass.

    A feature's positive contribution is split evenly among its catalog categories; features without
    categories (e.g. residence length) count toward the total only. At most ``category_max``,
    strongest first, ties by the catalog's category order.
    """
    mass: dict[str, float] = {}
    total = 0.0
    for name, c in zip(features, contributions):
        if not c > 0:
            continue
        total += c
        feat = CATALOG.get(name)
        cats = feat.categories if feat is not None else ()
        for cat in cats:
            mass[cat] = mass.get(cat, 0.0) + c / len(cats)
    if total <= 0:
        return ()
    ranked = sorted(mass.items(), key=lambda kv: (-round(kv[1], 12), _CATEGORY_ORDER.get(kv[0], 99)))
    keep = [c for c, m in ranked if m / total >= policy.category_min_share][: policy.category_max]
    return tuple(keep)


# -- fusion ------------------------------------------------------------------------------------------
def fuse(probability: float | None, hits: Sequence[tuple[str, str, str, bool]], th: Thresholds,
         policy: FusionPolicy, model_cats: Sequence[str] = ()) -> FusionResult:
    """Fuse one person's probability and rule hits (``(rule_id, category, level, urgent)`` tuples).

    ``model_cats`` are the categories from :func:`model_categories` (empty when contributions were
    not computed); they are added only if the model alone reaches ``category_min_level``.
    """
    if probability is None or not probability == probability:
        m_rank = 0
    else:
        m_rank = int(probability >= th.yellow) + int(probability >= th.orange) + int(probability >= th.red)
    r_rank = 0
    urgent = False
    cats: set[str] = set()
    for _rid, cat, level, is_urgent in hits:
        rank = level_rank(level)
        if is_urgent:
            urgent = True
            rank = max(rank, level_rank(policy.urgent_level))
        r_rank = max(r_rank, rank)
        cats.add(cat)
    level_idx = max(m_rank, r_rank) if policy.raise_level else (m_rank if probability is not None else r_rank)
    added: tuple[str, ...] = ()
    if policy.add_categories and m_rank >= level_rank(policy.category_min_level) and model_cats:
        added = tuple(model_cats)
        cats.update(added)
    ordered = tuple(sorted(cats, key=lambda c: _CATEGORY_ORDER.get(c, 99)))
    return FusionResult(LEVELS[level_idx], ordered, LEVELS[m_rank], LEVELS[r_rank], urgent, added)
