"""Fusion: rule hits + calibrated probability -> risk level and categories, by a policy in YAML.

The policy (``serving/scoring/config/fusion.yaml``, documented key by key there and in docs/serving.md):

* **model level** — the calibrated probability against three bars (red >= orange >= yellow). With
  ``mode: budget`` (the default) the bars are per county and fixed per model version: computed once
  when the model is promoted, from its validation population and the alert budget (``budget``;
  training/budget.py), stored with the version in the registry and loaded with the model, so the
  batch run and the service give the same level to the same person for the same as-of. The legacy
  modes remain: fixed probabilities (``mode: probability``) or capacity over a reference batch
  (``mode: capacity``; ``k = rate x grids x period_days / 7``).
* **the budget ceiling** — applied by the scorer over a whole as-of population: in a county with more
  non-urgent candidates than its budget, only the highest ranked are alerts; the rest, and everyone
  above the watch bar, are on the watch list (关注名单, level ``none``).
* **rule level** — the most serious level among the rule hits (evidence, reported). Only urgent hits
  (at least ``rules.urgent_level``, outside the budget) and the rules the policy names in
  ``rules.floor_rules`` are level floors; ``rules.raise_level: true`` makes every rule a floor (the
  old behaviour, kept for comparison in the policy backtest).
* **fused level** = max(model level, floor level). A higher probability or an added hit therefore
  never lowers the level (tested as a property).
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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model, model_validator

from common.errors import ConfigurationError
from common.levels import ALERT_LEVELS, LEVEL_LABELS, LEVELS, level_rank
from common.settings import load_config
from features.catalog import CATALOG, RISK_CATEGORIES
from serving.scoring.errors import ServingConfigError
from training.budget import AlertThresholds, BudgetConfig

__all__ = [
    "FusionConfig",
    "FusionPolicy",
    "budget_thresholds",
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
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    floor_rules: tuple[str, ...] = ()             # rule ids whose level is a floor (evidence otherwise)

    def is_floor(self, rule_id: str) -> bool:
        return self.raise_level or rule_id in self.floor_rules


@dataclass(frozen=True)
class Thresholds:
    """Probability thresholds in force. ``detail`` says how they were set (for /status and records)."""

    red: float
    orange: float
    yellow: float
    mode: str
    detail: dict = field(default_factory=dict, compare=False)
    #: ``mode == "budget"``: the per-county bars and budgets registered with the model version.
    budget: AlertThresholds | None = field(default=None, compare=False)
    watch: float = float("inf")                  # the watch-list bar (关注名单); inf: no watch list

    @property
    def version(self) -> str | None:
        return self.budget.version if self.budget is not None else None

    def for_county(self, county: str | None) -> Thresholds:
        """The bars in force in ``county`` (the same object for every call: cheap in a loop)."""
        if self.budget is None:
            return self
        cache = self.__dict__.setdefault("_by_county", {})
        th = cache.get(county)
        if th is None:
            bars = self.budget.for_county(county)
            th = Thresholds(bars["red"], bars["orange"], bars["yellow"], self.mode, self.detail, None, bars["watch"])
            cache[county] = th
        return th

    def as_dict(self) -> dict:
        out = {"red": self.red, "orange": self.orange, "yellow": self.yellow, "mode": self.mode, **self.detail}
        if self.budget is not None:
            b = self.budget
            out.update(watch=self.watch, thresholds_version=b.version, counties=len(b.budgets),
                       alerts_per_run=int(sum(b.budgets.values())),
                       budget={k: b.detail.get(k) for k in ("budget", "budget_digest", "model_version",
                                                             "snapshots", "computed_at", "source")})
        return out


@dataclass(frozen=True)
class FusionResult:
    level: str
    categories: tuple[str, ...]
    model_level: str
    rule_level: str
    urgent: bool
    model_categories: tuple[str, ...] = ()
    floor_level: str = "none"                   # the level set by urgent or floor-rule hits


# -- policy ------------------------------------------------------------------------------------------
_LevelName = Literal["red", "orange", "yellow"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _LevelProbabilities(_Strict):
    red: float = Field(ge=0, le=1)
    orange: float = Field(ge=0, le=1)
    yellow: float = Field(ge=0, le=1)


class _Rates(_Strict):
    red: float = Field(ge=0, le=1e3)
    orange: float = Field(ge=0, le=1e3)
    yellow: float = Field(ge=0, le=1e3)

    @model_validator(mode="after")
    def _ordered(self) -> _Rates:
        if not 0 < self.red <= self.orange <= self.yellow:
            raise ValueError(f"alerts_per_grid_per_week must satisfy 0 < red <= orange <= yellow (each level "
                             f"includes the more serious ones), got {self.model_dump()}")
        return self


class _Capacity(_Strict):
    alerts_per_grid_per_week: _Rates
    period_days: float = Field(ge=1, le=366)
    grids: int | None = Field(default=None, ge=1)
    floor: _LevelProbabilities


class _ThresholdsSection(_Strict):
    mode: Literal["budget", "probability", "capacity"]
    probability: _LevelProbabilities
    capacity: _Capacity

    @model_validator(mode="after")
    def _ordered(self) -> _ThresholdsSection:
        pr = self.probability
        if not pr.red >= pr.orange >= pr.yellow > 0:
            raise ValueError(f"thresholds.probability must satisfy red >= orange >= yellow > 0, got {pr.model_dump()}")
        return self


class _RulesSection(_Strict):
    floor_rules: list[str] = Field(default_factory=list)
    raise_level: bool = False
    urgent_level: _LevelName = "red"


class _ModelSection(_Strict):
    add_categories: bool
    category_min_level: _LevelName
    category_min_share: float = Field(ge=0, le=1)
    category_max: int = Field(ge=0, le=len(RISK_CATEGORIES))


class _ExplanationsSection(_Strict):
    top_factors: int = Field(ge=0, le=100)
    min_abs_contribution: float = Field(ge=0, le=100)
    max_rule_hits: int = Field(ge=0, le=100)


_ActionText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_Actions: type[_Strict] = create_model(  # type: ignore[call-overload]  # one required field per category
    "_Actions", __base__=_Strict, **{c: (_ActionText, ...) for c in RISK_CATEGORIES})


class FusionConfig(_Strict):
    """The fusion YAML, key by key (unknown keys are errors that name the allowed ones)."""

    version: str | int | float
    thresholds: _ThresholdsSection
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    rules: _RulesSection
    model: _ModelSection
    explanations: _ExplanationsSection
    actions: _Actions  # a model built from the catalog's categories


def load_policy(path: str | Path | None = None) -> FusionPolicy:
    """Read and validate a fusion policy YAML (``None``: the packaged default)."""
    from serving.scoring.settings import default_fusion_path

    p = default_fusion_path() if path is None else Path(path)
    return _policy(_load(FusionConfig, p, "fusion"), str(p))


def parse_policy(data, source: str = "<memory>") -> FusionPolicy:
    """Validate a policy mapping with :class:`FusionConfig` (errors name file, key, value, allowed)."""
    if not isinstance(data, dict):
        raise ServingConfigError(f"{source}: the file must be a mapping of keys, got {data!r}.", field="fusion")
    return _policy(_load(FusionConfig, data, source), source)


def _load(model, source, what: str):
    """common.settings.load_config, with its errors as the serving configuration error."""
    try:
        return load_config(model, source, what=what)
    except ConfigurationError as exc:
        msg = str(exc).replace(f"{what} <mapping>:", f"{what}:", 1)
        raise ServingConfigError(msg, field=exc.field or "fusion") from None


def _policy(cfg: FusionConfig, source: str) -> FusionPolicy:
    th, cap = cfg.thresholds, cfg.thresholds.capacity
    return FusionPolicy(
        version=str(cfg.version), mode=th.mode, probability=th.probability.model_dump(),
        capacity_rates=cap.alerts_per_grid_per_week.model_dump(), period_days=float(cap.period_days), grids=cap.grids,
        floor=cap.floor.model_dump(), raise_level=cfg.rules.raise_level, urgent_level=cfg.rules.urgent_level,
        add_categories=cfg.model.add_categories, category_min_level=cfg.model.category_min_level,
        category_min_share=cfg.model.category_min_share, category_max=cfg.model.category_max,
        top_factors=cfg.explanations.top_factors, min_abs_contribution=cfg.explanations.min_abs_contribution,
        max_rule_hits=cfg.explanations.max_rule_hits, labels=dict(LEVEL_LABELS),
        actions=cfg.actions.model_dump(), source=source, budget=cfg.budget,
        floor_rules=tuple(dict.fromkeys(cfg.rules.floor_rules)),
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
    if policy.mode == "budget":
        # The bars come with the model version (training.registry); build_bundle puts them in. Until a
        # model is loaded the fixed probabilities stand in (a rules-only service never uses them).
        pr = policy.probability
        return Thresholds(pr["red"], pr["orange"], pr["yellow"], "budget", {"registered": False})
    grids = policy.grids or n_grids
    if not grids:
        raise ServingConfigError("thresholds.mode is capacity but the number of grids is unknown: serve a data dir "
                                 "with a grids table or set thresholds.capacity.grids.", field="thresholds.capacity")
    if reference is None:
        raise ServingConfigError("thresholds.mode is capacity but there is no reference batch (no data dir or no "
                                 "model); set thresholds.mode: probability.", field="thresholds.capacity")
    return thresholds_from_capacity(reference, grids, policy)


def budget_thresholds(budget: AlertThresholds) -> Thresholds:
    """The registered per-county bars as the thresholds of a bundle (``default`` bars on the top level,
    for a person whose county is unknown)."""
    d = budget.default
    return Thresholds(d["red"], d["orange"], d["yellow"], "budget", {"registered": True}, budget, d["watch"])


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
    strongest first, ties by the catalog's category order; when none reaches the share, the strongest.
    """
    mass: dict[str, float] = {}
    total = 0.0
    for name, c in zip(features, contributions, strict=False):
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
    if not keep and ranked and policy.category_max > 0:
        # spread thin (many features, several categories): the strongest one still names the risk, so a
        # model-flagged person never reaches review without a category
        keep = [ranked[0][0]]
    return tuple(keep)


# -- fusion ------------------------------------------------------------------------------------------
def fuse(probability: float | None, hits: Sequence[tuple[str, str, str, bool]], th: Thresholds,
         policy: FusionPolicy, model_cats: Sequence[str] = ()) -> FusionResult:
    """Fuse one person's probability and rule hits (``(rule_id, category, level, urgent)`` tuples).

    ``model_cats`` are the categories from :func:`model_categories` (empty when contributions were
    not computed); they are added only if the model alone reaches ``category_min_level``.
    """
    if probability is None or probability != probability:
        m_rank = 0
    else:
        m_rank = int(probability >= th.yellow) + int(probability >= th.orange) + int(probability >= th.red)
    r_rank = 0
    f_rank = 0
    urgent = False
    cats: set[str] = set()
    for rid, cat, level, is_urgent in hits:
        rank = level_rank(level)
        if is_urgent:
            urgent = True
            rank = max(rank, level_rank(policy.urgent_level))
            f_rank = max(f_rank, rank)
        elif policy.is_floor(rid):
            f_rank = max(f_rank, rank)
        r_rank = max(r_rank, rank)
        cats.add(cat)
    # A rule hit is evidence (a category and a reason); only urgent hits and the rules the policy names
    # as floors set a minimum level. Without a model the rules are all there is.
    level_idx = max(m_rank, f_rank) if probability is not None and probability == probability else r_rank
    added: tuple[str, ...] = ()
    if policy.add_categories and m_rank >= level_rank(policy.category_min_level) and model_cats:
        added = tuple(model_cats)
        cats.update(added)
    ordered = tuple(sorted(cats, key=lambda c: _CATEGORY_ORDER.get(c, 99)))
    return FusionResult(LEVELS[level_idx], ordered, LEVELS[m_rank], LEVELS[r_rank], urgent, added, LEVELS[f_rank])
