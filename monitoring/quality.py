"""Data quality of the raw records per window: missing fields (overall and per prefecture), late
records, and what validation quarantined. A county that changes how it records calls shows up here
before it shows up in the model."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

__all__ = ["QualityResult", "incident_window", "quality_indicators", "compare_quality"]

FIELDS = ("address_code", "disposition", "flag_violence", "flag_weapon", "flag_alcohol", "flag_minor_present",
          "flag_threat", "note", "dispute_id")


@dataclass
class QualityResult:
    overall: pd.DataFrame       # indicator, reference, current, change, alarm
    regions: pd.DataFrame       # prefecture, indicator, reference, current, change, alarm
    quarantine: pd.DataFrame    # file, reason_code, rows

    @property
    def alarms(self) -> list[str]:
        out = [f"{r.indicator}: {r.reference:.1%} → {r.current:.1%}" for r in self.overall.itertuples() if r.alarm]
        out += [f"{r.prefecture_name} {r.indicator}: {r.reference:.1%} → {r.current:.1%}"
                for r in self.regions.itertuples() if r.alarm]
        return out

    @property
    def alarm_items(self) -> list[dict]:
        """The alarms as data, for :func:`monitoring.wording.alarm_text`."""
        out = [{"kind": "quality", "region": None, "indicator": r.indicator, "reference": float(r.reference),
                "current": float(r.current)} for r in self.overall.itertuples() if r.alarm]
        out += [{"kind": "quality", "region": r.prefecture_name, "indicator": r.indicator,
                 "reference": float(r.reference), "current": float(r.current)}
                for r in self.regions.itertuples() if r.alarm]
        return out


def incident_window(incidents: pd.DataFrame, start, end) -> pd.DataFrame:
    t = incidents["event_time"]
    return incidents[(t >= pd.Timestamp(start)) & (t < pd.Timestamp(end))]


def _prefecture(incidents: pd.DataFrame) -> pd.Series:
    """Prefecture of the handling station (township code -> county -> prefecture), else the address."""
    station = incidents["station_id"].astype("string").str.slice(1, 5)
    addr = incidents["address_code"].astype("string").str.slice(0, 4)
    return (station.fillna(addr) + "00").astype("string")


def quality_indicators(incidents: pd.DataFrame) -> pd.DataFrame:
    """One row per prefecture (and ``ALL``): missing share of each field, late share, incident count."""
    df = pd.DataFrame({f"missing:{f}": incidents[f].isna().to_numpy() for f in FIELDS})
    df["late_over_1d"] = ((incidents["recorded_at"] - incidents["event_time"]) > pd.Timedelta(days=1)).to_numpy()
    df["prefecture"] = _prefecture(incidents).to_numpy()
    per = df.groupby("prefecture").mean(numeric_only=True)
    per["incidents"] = df.groupby("prefecture").size()
    allrow = df.drop(columns="prefecture").mean().to_frame("ALL").T
    allrow["incidents"] = len(df)
    return pd.concat([allrow, per])


def compare_quality(reference: pd.DataFrame, current: pd.DataFrame, cfg, quarantine: pd.DataFrame | None = None,
                    prefecture_names: dict[str, str] | None = None) -> QualityResult:
    """Compare the indicator tables of two windows. An indicator alarms when its rise crosses the
    threshold *and* is significant (two-proportion |z| > 3), so a small region's noise stays quiet."""
    names = prefecture_names or {}
    ref, cur = quality_indicators(reference), quality_indicators(current)
    indicators = [c for c in ref.columns if c != "incidents"]

    def limit(ind: str) -> float:
        return cfg.late_share_rise if ind == "late_over_1d" else cfg.missing_share_rise

    def significant(r: float, c: float, n_r: float, n_c: float) -> bool:
        """Two-proportion z-test, |z| > 3: small regions must not alarm on noise."""
        pooled = (r * n_r + c * n_c) / (n_r + n_c) if n_r + n_c else 0.0
        se = math.sqrt(pooled * (1 - pooled) * (1 / max(n_r, 1) + 1 / max(n_c, 1))) if 0 < pooled < 1 else 0.0
        return se > 0 and abs(c - r) / se > 3

    n_ref, n_cur = float(ref.at["ALL", "incidents"]), float(cur.at["ALL", "incidents"])
    overall = pd.DataFrame([{"indicator": i, "reference": float(ref.at["ALL", i]), "current": float(cur.at["ALL", i])}
                            for i in indicators])
    overall["change"] = overall["current"] - overall["reference"]
    overall["alarm"] = overall.apply(lambda r: r["change"] > limit(r["indicator"])
                                     and significant(r["reference"], r["current"], n_ref, n_cur), axis=1)

    rows = []
    both = [p for p in ref.index.intersection(cur.index) if p != "ALL"
            and ref.at[p, "incidents"] >= cfg.min_incidents_per_region
            and cur.at[p, "incidents"] >= cfg.min_incidents_per_region]
    for p in both:
        n_r, n_c = float(ref.at[p, "incidents"]), float(cur.at[p, "incidents"])
        for i in indicators:
            r, c = float(ref.at[p, i]), float(cur.at[p, i])
            rows.append({"prefecture": p, "prefecture_name": names.get(p, p), "indicator": i, "reference": r,
                         "current": c, "change": c - r, "alarm": c - r > limit(i) and significant(r, c, n_r, n_c)})
    regions = pd.DataFrame(rows, columns=["prefecture", "prefecture_name", "indicator", "reference", "current",
                                          "change", "alarm"])
    q = quarantine if quarantine is not None and len(quarantine) else pd.DataFrame(columns=["file", "reason_code"])
    qsum = q.groupby(["file", "reason_code"]).size().rename("rows").reset_index() if len(q) else \
        pd.DataFrame(columns=["file", "reason_code", "rows"])
    return QualityResult(overall, regions, qsum)
