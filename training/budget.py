"""The alert budget: how many non-urgent alerts each county's teams can act on, and the thresholds
that fill it, fixed per model version.

A county's budget per scoring run (one run covers ``period_days``) is the smaller of

* review capacity: ``reviewers_per_county x cases_per_reviewer_per_week``, and
* visit capacity: ``visits_per_grid_per_week x grids in the county``,

times ``period_days / 7``. The defaults (2 reviewers x 5 cases a week; 0.25 visits per grid a week,
about one alert per grid a month) are sized to what a county team can review and what a grid worker
can visit on top of routine work.

Thresholds are computed once per model version from its validation population (the people the
service would have scored at the validation snapshots): per county, the alert bar is the calibrated
probability at which the validation months would have given ``headroom x budget`` candidates on
average, red and orange the bars for the top ``level_shares`` of the budget, and the watch bar
(关注名单) the one for ``watch_multiple x budget``: someone above it who is not an alert (outside
the budget) is on the watch list, roughly the next budget's worth of people by risk. The default
headroom (8) is generous on purpose: counties are small (two grids, two alerts a month), so
month-to-month noise would leave most of them short of their budget with a tight bar; the bar only
keeps very low risks out of quiet counties and the ceiling picks the highest risks (measured on
200k worlds, seeds 31, 47, 53: every prefecture at 0.93-1.00 of its budget with headroom 8, one at
0.86 with headroom 5, at the same precision; 0.38-0.96 with headroom 1.1 on an earlier world).
At scoring time the bar is fixed; the budget is a ceiling on top of it: when more people than the
budget pass the bar in one county on one as-of,
only the highest ranked (floor-rule hits first, then calibrated risk, then person id) are alerts and
the rest go to the watch list. Urgent hits are outside the budget.

Everything here is pure (numbers in, numbers out) and shared by the scoring service, the batch run
and the policy backtest, so the three cannot drift apart.

>>> cfg = BudgetConfig()
>>> round(cfg.weekly_budget(grids=6), 2)
1.5
>>> cfg.run_budget(grids=6)
6
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "BudgetConfig",
    "LevelShares",
    "AlertThresholds",
    "county_of",
    "county_budgets",
    "fit_thresholds",
    "rank_keys",
    "budget_cuts",
    "within_budget",
    "load_budget",
]

LEVEL_INDEX = {"none": 0, "yellow": 1, "orange": 2, "red": 3}


class LevelShares(BaseModel):
    """Shares of the budget at the more serious levels (cumulative: red within orange)."""

    model_config = ConfigDict(extra="forbid", validate_default=True)
    red: float = Field(0.10, gt=0, le=1)
    orange: float = Field(0.40, gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> LevelShares:
        if self.red > self.orange:
            raise ValueError(f"red share {self.red} must not exceed the orange share {self.orange} (red is "
                             "counted inside orange)")
        return self


class BudgetConfig(BaseModel):
    """The ``budget`` section of the fusion policy (serving/scoring/config/fusion.yaml)."""

    model_config = ConfigDict(extra="forbid", validate_default=True)  # defaults typed as the YAML's values
    reviewers_per_county: float = Field(2, gt=0, le=1000)
    cases_per_reviewer_per_week: float = Field(5, gt=0, le=1000)
    visits_per_grid_per_week: float = Field(0.25, gt=0, le=100)
    period_days: int = Field(30, ge=1, le=366)
    headroom: float = Field(8.0, ge=1, le=20)
    watch_multiple: float = Field(2.0, ge=1, le=50)
    level_shares: LevelShares = Field(default_factory=LevelShares)

    def weekly_budget(self, grids: int) -> float:
        review = self.reviewers_per_county * self.cases_per_reviewer_per_week
        visits = self.visits_per_grid_per_week * grids
        return float(min(review, visits))

    def run_budget(self, grids: int) -> int:
        """Alerts one scoring run may raise in a county with ``grids`` grids (at least 1)."""
        return max(1, int(round(self.weekly_budget(grids) * self.period_days / 7.0)))

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()[:12]


def load_budget(source: str | Path | Mapping | BudgetConfig | None = None) -> BudgetConfig:
    """The budget from a fusion policy YAML (its ``budget`` section), a mapping, or the defaults."""
    if isinstance(source, BudgetConfig):
        return source
    if source is None:
        return BudgetConfig()
    if isinstance(source, Mapping):
        return BudgetConfig.model_validate(dict(source))
    import yaml

    data = yaml.safe_load(Path(source).read_text(encoding="utf-8")) or {}
    return BudgetConfig.model_validate(data.get("budget") or {})


def county_of(hukou: str | None, residence: str | None) -> str | None:
    """The county an alert falls in: the residence's (居住地) county, else the household registration's."""
    for code in (residence, hukou):
        if code and isinstance(code, str) and len(code) >= 6 and code[:6].isdigit():
            return code[:6]
    return None


def county_budgets(grid_counties: Sequence[str], cfg: BudgetConfig,
                   grid_prefectures: Sequence[str] | None = None) -> dict[str, int]:
    """County code -> alerts per run, from the grids table (``county_code``, ``prefecture_code``).

    A county's exact budget is rarely a whole number (0.25 visits x 2 grids x 30/7 = 2.14). With the
    prefectures given, the whole alerts are shared out within each prefecture by largest remainder, so
    that a prefecture's total is its exact budget rounded (rounding each small county on its own would
    bias totals by up to 20%); every county keeps at least one.

    >>> county_budgets(["A", "A", "B", "B", "C", "C", "D", "D"], BudgetConfig(), ["P"] * 8)
    {'A': 3, 'B': 2, 'C': 2, 'D': 2}
    """
    grids: dict[str, int] = {}
    pref: dict[str, str] = {}
    for i, c in enumerate(grid_counties):
        grids[str(c)] = grids.get(str(c), 0) + 1
        if grid_prefectures is not None:
            pref[str(c)] = str(grid_prefectures[i])
    if grid_prefectures is None:
        return {c: cfg.run_budget(n) for c, n in sorted(grids.items())}
    exact = {c: cfg.weekly_budget(n) * cfg.period_days / 7.0 for c, n in grids.items()}
    out: dict[str, int] = {}
    for p in sorted(set(pref.values())):
        cs = sorted(c for c in grids if pref[c] == p)
        total = int(round(sum(exact[c] for c in cs)))
        base = {c: int(np.floor(exact[c])) for c in cs}
        rest = total - sum(base.values())
        for c in sorted(cs, key=lambda c: (-(exact[c] - base[c]), c))[:max(0, rest)]:
            base[c] += 1
        out.update({c: max(1, b) for c, b in base.items()})
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class AlertThresholds:
    """Per-county bars (probabilities) and budgets, fixed for one model version."""

    bars: dict[str, dict[str, float]]            # county -> {red, orange, yellow, watch}
    budgets: dict[str, int]                      # county -> alerts per run
    default: dict[str, float]                    # bars for a county not seen at validation
    detail: dict = field(default_factory=dict)   # how they were made (model version, budget, snapshots)

    @property
    def version(self) -> str:
        return str(self.detail.get("thresholds_version", "unversioned"))

    def for_county(self, county: str | None) -> dict[str, float]:
        return self.bars.get(county or "", self.default)

    def budget_of(self, county: str | None) -> int | None:
        return self.budgets.get(county or "")

    def to_dict(self) -> dict:
        return {"bars": self.bars, "budgets": self.budgets, "default": self.default, "detail": self.detail}

    @classmethod
    def from_dict(cls, d: Mapping) -> AlertThresholds:
        return cls({str(k): {lv: float(x) for lv, x in v.items()} for k, v in d["bars"].items()},
                   {str(k): int(v) for k, v in d["budgets"].items()},
                   {k: float(v) for k, v in d["default"].items()}, dict(d.get("detail", {})))


def _bar(p_by_snapshot: list[np.ndarray], k: float) -> float:
    """The probability at which the snapshots give ``k`` people on average (descending cut)."""
    n_snap = max(1, len(p_by_snapshot))
    allp = np.sort(np.concatenate(p_by_snapshot) if p_by_snapshot else np.zeros(0))[::-1]
    m = int(round(k * n_snap))
    if m <= 0:
        return float(np.nextafter(allp[0], np.inf)) if len(allp) else 1.0
    if len(allp) == 0:
        return 1.0
    return float(allp[min(m, len(allp)) - 1])


def fit_thresholds(probability: np.ndarray, county: Sequence[str | None], snapshot: Sequence,
                   budgets: Mapping[str, int], cfg: BudgetConfig, detail: Mapping | None = None) -> AlertThresholds:
    """Per-county bars from a validation population (``probability``, its ``county`` and ``snapshot``).

    >>> rng = np.random.default_rng(0)
    >>> p = rng.random(4000); c = np.where(np.arange(4000) % 2, "510104", "510105"); s = np.arange(4000) % 4
    >>> th = fit_thresholds(p, c, s, {"510104": 10, "510105": 20}, BudgetConfig())
    >>> b = th.bars["510104"]
    >>> b["red"] >= b["orange"] >= b["yellow"] and b["orange"] >= b["watch"]
    True
    """
    p = np.asarray(probability, dtype=float)
    cty = np.asarray([c or "" for c in county], dtype=object)
    snap = np.asarray(list(snapshot))
    keep = np.isfinite(p)
    p, cty, snap = p[keep], cty[keep], snap[keep]
    snaps = list(dict.fromkeys(snap.tolist()))
    sh = cfg.level_shares

    def bars_for(mask: np.ndarray, b: float) -> dict[str, float]:
        per = [p[mask & (snap == s)] for s in snaps]
        out = {"red": _bar(per, sh.red * b), "orange": _bar(per, sh.orange * b),
               "yellow": _bar(per, cfg.headroom * b), "watch": _bar(per, cfg.watch_multiple * b)}
        out["orange"] = min(out["orange"], out["red"])
        out["yellow"] = min(out["yellow"], out["orange"])
        return out

    bars = {c: bars_for(cty == c, b) for c, b in budgets.items()}
    total = float(sum(budgets.values())) or 1.0
    default = bars_for(np.ones(len(p), dtype=bool), total)
    d = {"snapshots": [str(s) for s in snaps], "rows": int(len(p)), "counties": len(budgets),
         "alerts_per_run": int(sum(budgets.values())), "budget": cfg.model_dump(), "budget_digest": cfg.digest(),
         **(dict(detail or {}))}
    body = json.dumps({"bars": bars, "budgets": dict(budgets), "default": default}, sort_keys=True)
    d.setdefault("thresholds_version", hashlib.sha256(body.encode()).hexdigest()[:12])
    return AlertThresholds(bars, {str(k): int(v) for k, v in budgets.items()}, default, d)


# -- the ceiling -------------------------------------------------------------------------------------
def rank_keys(floor: np.ndarray, probability: np.ndarray, person_ids: Sequence[str]) -> list[tuple]:
    """Ranking keys within a county, best first when sorted ascending: floor-rule hits first, then the
    calibrated probability, then the person id (a deterministic tie-break)."""
    p = np.nan_to_num(np.asarray(probability, dtype=float), nan=-1.0)
    return [(-int(f), -float(x), str(pid)) for f, x, pid in zip(floor, p, person_ids, strict=True)]


def budget_cuts(candidate: np.ndarray, keys: Sequence[tuple], county: Sequence[str | None],
                th: AlertThresholds) -> tuple[dict[str, tuple], np.ndarray]:
    """Apply the ceiling to one as-of population.

    Returns ``(cuts, inside)``: county -> the key of the last person inside the budget (only counties
    with more candidates than budget), and a mask of the candidates inside their county's budget.
    """
    groups: dict[str, list[int]] = {}
    for i in map(int, np.flatnonzero(candidate)):
        groups.setdefault(county[i] or "", []).append(i)
    cuts = {}
    inside = np.asarray(candidate, dtype=bool).copy()
    for c, rows in groups.items():
        b = th.budget_of(c)
        if b is not None and len(rows) > b:
            order = sorted(rows, key=lambda i: keys[i])
            cuts[c] = keys[order[b - 1]]
            inside[order[b:]] = False
    return cuts, inside


def within_budget(key: tuple, county: str | None, cuts: Mapping[str, tuple]) -> bool:
    cut = cuts.get(county or "")
    return cut is None or key <= cut
