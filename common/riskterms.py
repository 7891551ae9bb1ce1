"""Risk in terms a reviewer can use: the multiple of the average and the place within the county.

A calibrated probability of 3% means little on its own. Beside it a reviewer reads how many times the
average of people with records it is (``约为平均水平的 5 倍``) and where it stands among the people with
records in the same county (``高于本区县 98% 的有记录人员``).

The reference (the average and each county's distribution) is fixed per model version when its alert
thresholds are fixed (from the same validation population, ``training.policy_backtest.validation_thresholds``)
and travels with them, so the batch run, the service and the console all say the same thing; it is never
recomputed per request.

>>> ref = RiskReference.fit([0.01] * 90 + [0.1] * 10, ["510107"] * 100)
>>> round(ref.base_rate, 3)
0.019
>>> ref.describe(0.1, "510107")["multiple"], ref.describe(0.1, "510107")["percentile"]
(5.3, 90.0)
>>> risk_text({"multiple": 5.3, "percentile": 98.4})
'约为平均水平的 5 倍，高于本区县 98% 的有记录人员'
>>> risk_short({"multiple": 5.3, "percentile": 98.4})
'平均的 5 倍 · 县内前 2%'
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RiskReference", "risk_text", "risk_short", "multiple_text", "percentile_text", "GRID_POINTS"]

#: Quantile points kept per county: every percent, and every 0.1% above the 95th (where alerts live).
GRID_POINTS: tuple[float, ...] = tuple([i / 100 for i in range(0, 95)] + [0.95 + i / 1000 for i in range(0, 51)])


def _quantiles(values: Sequence[float]) -> list[float]:
    v = sorted(values)
    n = len(v)
    return [float(v[min(n - 1, int(q * (n - 1) + 0.5))]) for q in GRID_POINTS] if n else []


@dataclass(frozen=True)
class RiskReference:
    base_rate: float                                   # mean calibrated probability, people with records
    counties: dict[str, list[float]]                   # county -> probabilities at GRID_POINTS
    overall: list[float]                               # the same over everyone (a county not seen)
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, probability: Iterable[float], county: Iterable[str | None], *, min_people: int = 50,
            detail: Mapping[str, Any] | None = None) -> RiskReference:
        """From a validation population: everyone's calibrated probability and county. A county with fewer
        than ``min_people`` rows uses the overall distribution."""
        p = [float(x) for x in probability]
        c = [str(x or "") for x in county]
        keep = [(x, k) for x, k in zip(p, c, strict=True) if x == x]
        by: dict[str, list[float]] = {}
        for x, k in keep:
            by.setdefault(k, []).append(x)
        allp = [x for x, _ in keep]
        base = sum(allp) / len(allp) if allp else 0.0
        counties = {k: _quantiles(v) for k, v in by.items() if k and len(v) >= min_people}
        return cls(base, counties, _quantiles(allp), {"rows": len(allp), **dict(detail or {})})

    def multiple(self, probability: float) -> float | None:
        if probability is None or probability != probability or self.base_rate <= 0:
            return None
        return round(float(probability) / self.base_rate, 1)

    def percentile(self, probability: float, county: str | None) -> float | None:
        """Share (percent) of the county's people with records whose probability is below ``probability``."""
        grid = self.counties.get(county or "") or self.overall
        if probability is None or probability != probability or not grid:
            return None
        i = bisect.bisect_left(grid, float(probability))
        return round(100 * (GRID_POINTS[i - 1] if i > 0 else 0.0), 1)

    def describe(self, probability: float, county: str | None) -> dict[str, Any]:
        return {"multiple": self.multiple(probability), "percentile": self.percentile(probability, county),
                "county": county, "base_rate": round(self.base_rate, 5),
                "reference": str(self.detail.get("version", ""))}

    def to_dict(self) -> dict[str, Any]:
        return {"base_rate": self.base_rate, "counties": self.counties, "overall": self.overall, "detail": self.detail}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RiskReference:
        return cls(float(d["base_rate"]), {str(k): [float(x) for x in v] for k, v in d.get("counties", {}).items()},
                   [float(x) for x in d.get("overall", [])], dict(d.get("detail", {})))


def multiple_text(multiple: float | None) -> str:
    if multiple is None:
        return ""
    if multiple < 0.95:
        return "低于平均水平"
    if multiple < 1.5:
        return "与平均水平相当"
    return f"约为平均水平的 {multiple:.0f} 倍" if multiple >= 3 else f"约为平均水平的 {multiple:.1f} 倍"


def percentile_text(percentile: float | None) -> str:
    if percentile is None:
        return ""
    return f"高于本区县 {min(percentile, 99.9):.3g}% 的有记录人员" if percentile >= 99 else \
        f"高于本区县 {percentile:.0f}% 的有记录人员"


def risk_text(risk: Mapping[str, Any] | None) -> str:
    """``extra["risk"]`` of an alert as one Chinese phrase; empty when the model version has no reference."""
    if not risk:
        return ""
    parts = [multiple_text(risk.get("multiple")), percentile_text(risk.get("percentile"))]
    return "，".join(x for x in parts if x)


def risk_short(risk: Mapping[str, Any] | None) -> str:
    """The same, short enough for a queue cell: ``平均的 5 倍 · 县内前 2%``."""
    if not risk:
        return ""
    parts = []
    m, pct = risk.get("multiple"), risk.get("percentile")
    if m is not None:
        parts.append(f"平均的 {m:.0f} 倍" if m >= 3 else f"平均的 {m:.1f} 倍")
    if pct is not None:
        top = max(100 - float(pct), 0.1)
        parts.append(f"县内前 {top:.0f}%" if top >= 1 else f"县内前 {top:.1f}%")
    return " · ".join(parts)
