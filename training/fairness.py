"""Fairness audit at the operating threshold, by group.

For each audit attribute (sex, age band, prefecture with autonomous prefectures marked, urban/rural)
and each of its groups: false positive rate, false negative rate, precision among the flagged, and
calibration (mean predicted / observed rate), each also as a ratio to the overall figure. A ratio
outside ``bounds`` (default 0.8-1.25) names the group in the report. A metric is judged only where
enough events stand behind it, and a judged ratio outside the bounds is a flag only when noise is an
unlikely explanation (see :func:`fairness_audit`); the card lists both kinds by name.

Attributes used here are audit-only: they are joined to the scored rows after scoring and are never
model inputs (``training.guard``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from training.config import FairnessConfig

__all__ = ["audit_groups_from_attributes", "fairness_audit", "fairness_flags", "AUDIT_LABELS"]

AUDIT_LABELS = {"sex": "性别 sex", "age_band": "年龄段 age band", "prefecture": "市州 prefecture",
                "urban_rural": "城乡 urban/rural"}
_METRICS = ("fpr", "fnr", "precision", "calibration")


def audit_groups_from_attributes(attrs: pd.DataFrame) -> pd.DataFrame:
    """From ``EventStore.audit_attributes`` columns to the audit columns used here.

    ``prefecture`` reads e.g. ``阿坝藏族羌族自治州 (自治州)`` so autonomous prefectures are visible.
    """
    out = pd.DataFrame(index=attrs.index)
    for c in ("person_id", "as_of"):
        if c in attrs:
            out[c] = attrs[c]
    if "sex" in attrs:
        out["sex"] = attrs["sex"].map({"M": "男 M", "F": "女 F"}).fillna(attrs["sex"].astype(str))
    if "age_band" in attrs:
        out["age_band"] = attrs["age_band"].astype(str)
    if "prefecture_name" in attrs or "prefecture_code" in attrs:
        name = attrs.get("prefecture_name", attrs.get("prefecture_code")).astype(str)
        auto = attrs.get("is_autonomous_prefecture", pd.Series(False, index=attrs.index)).fillna(False).astype(bool)
        out["prefecture"] = np.where(auto, name + " (自治州 autonomous)", name)
    if "is_urban" in attrs:
        out["urban_rural"] = np.where(attrs["is_urban"].fillna(False).astype(bool), "城镇 urban", "乡村 rural")
    return out


def _rates(y: np.ndarray, p: np.ndarray, f: np.ndarray) -> dict:
    n, pos, flagged = len(y), int(y.sum()), int(f.sum())
    neg = n - pos
    tp = int((f & (y == 1)).sum())
    fp = flagged - tp
    fn = pos - tp
    observed = pos / n if n else np.nan
    mean_pred = float(p.mean()) if n else np.nan
    return {
        "rows": n, "positives": pos, "flagged": flagged,
        "fpr": fp / neg if neg else np.nan,
        "fnr": fn / pos if pos else np.nan,
        "precision": tp / flagged if flagged else np.nan,
        "mean_predicted": mean_pred, "observed_rate": observed,
        "calibration": mean_pred / observed if observed else np.nan,
        # (events, denominator) behind each rate, for the size rule and the noise test
        "_events": {"fpr": (fp, neg), "fnr": (fn, pos), "precision": (tp, flagged), "calibration": (pos, n)},
    }


def _p_value(events: int, denom: int, rate: float) -> float:
    """Two-sided normal-approximation p-value of ``events`` in ``denom`` trials at the overall ``rate``."""
    if denom <= 0 or not 0 < rate < 1:
        return float("nan")
    exp = denom * rate
    z = (events - exp) / math.sqrt(exp * (1 - rate))
    return math.erfc(abs(z) / math.sqrt(2))


def fairness_audit(frame: pd.DataFrame, groups: list[str], label: str, prob: np.ndarray, flagged: np.ndarray,
                   cfg: FairnessConfig) -> pd.DataFrame:
    """One row per (attribute, group) plus an ``overall`` row.

    A metric is *judged* in a group when the group has ``min_rows`` rows and the overall rate would
    produce at least ``min_expected_events`` events there (false positives for FPR, misses for FNR,
    hits for precision, outcomes for calibration); fewer events make the ratio mostly noise. A judged
    ratio outside ``bounds`` is listed in ``outside``; it is a *flag* when it is also unlikely to be
    noise (two-sided p < ``alpha``). ``status``: ok / flagged / outside_within_noise / partly_judged /
    too_small.
    """
    y = frame[label].to_numpy(dtype=int)
    p = np.asarray(prob, dtype=float)
    f = np.asarray(flagged, dtype=bool)
    overall = _rates(y, p, f)
    o_ev = overall.pop("_events")
    o_rate = {m: (e / d if d else np.nan) for m, (e, d) in o_ev.items()}
    rows = [{"attribute": "overall", "group": "全体 overall", **overall, "status": "ok", "outside": "", "judged": "",
             "flags": ""}]
    lo, hi = cfg.bounds
    for attr in groups:
        if attr not in frame:
            continue
        values = frame[attr].astype("string").fillna("未知 unknown")
        for g, idx in pd.Series(np.arange(len(frame))).groupby(values.to_numpy()).groups.items():
            idx = np.asarray(idx)
            r = _rates(y[idx], p[idx], f[idx])
            ev = r.pop("_events")
            row = {"attribute": attr, "group": str(g), **r}
            outside, judged, flags = [], [], []
            for m in _METRICS:
                base = overall[m]
                ratio = r[m] / base if base and not np.isnan(base) and not np.isnan(r[m]) else np.nan
                row[f"{m}_ratio"] = ratio
                events, denom = ev[m]
                rate = o_rate[m] if m != "calibration" else overall["observed_rate"]
                expected = denom * rate if denom and not np.isnan(rate) else 0.0
                if r["rows"] < cfg.min_rows or expected < cfg.min_expected_events or np.isnan(ratio):
                    continue
                judged.append(m)
                if not lo <= ratio <= hi:
                    outside.append(m)
                    # calibration compares predicted with observed: test observed outcomes against the
                    # group's mean prediction; the others test the group's rate against the overall rate.
                    pv = (_p_value(events, denom, min(max(r["mean_predicted"], 1e-12), 1 - 1e-12))
                          if m == "calibration" else _p_value(events, denom, rate))
                    if not np.isnan(pv) and pv < cfg.alpha:
                        flags.append(m)
            if not judged:
                status = "too_small"
            elif flags:
                status = "flagged"
            elif outside:
                status = "outside_within_noise"
            else:
                status = "ok" if len(judged) == len(_METRICS) else "partly_judged"
            row.update(status=status, outside=",".join(outside), judged=",".join(judged), flags=",".join(flags))
            rows.append(row)
    for m in _METRICS:
        rows[0][f"{m}_ratio"] = 1.0
    return pd.DataFrame(rows)


def fairness_flags(audit: pd.DataFrame) -> list[str]:
    """``attribute=group:metric`` for every flag: judged, outside the bounds, not explained by noise."""
    out = []
    for r in audit[audit["status"] == "flagged"].itertuples():
        for m in str(r.flags).split(","):
            if m:
                out.append(f"{r.attribute}={r.group}:{m}")
    return sorted(out)


# -- reference-group disparities with bootstrap intervals (issue 14) ------------------------------------

REFERENCE_METRICS = ("fpr", "fnr", "precision", "selection_rate", "calibration")


def _counts(y: np.ndarray, f: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-row contributions [neg, fp, pos, fn, flagged, tp, n, sum_p] summed by the caller."""
    return np.column_stack([(y == 0), f & (y == 0), (y == 1), ~f & (y == 1), f, f & (y == 1),
                            np.ones(len(y), bool), p]).astype(float)


def _boot_contrib(y: np.ndarray, f: np.ndarray, p: np.ndarray, n_boot: int, rng) -> np.ndarray:
    """Bootstrap sums of the contributions, shape (8, n_boot), without resampling rows one by one.

    A row resample draws how many rows of each (label, flagged) cell it holds (multinomial), and the
    sum of predictions of ``m`` rows drawn from a cell (mean ``mu``, sd ``sd``) as ``m mu + sqrt(m) sd Z``
    (its normal limit). The cost is O(cells x n_boot) whatever the number of rows.
    """
    n = len(y)
    cells = [(yy, ff) for yy in (0, 1) for ff in (False, True)]
    masks = [(y == yy) & (f == ff) for yy, ff in cells]
    share = np.array([m.sum() for m in masks], float) / max(n, 1)
    mu = np.array([p[m].mean() if m.any() else 0.0 for m in masks])
    sd = np.array([p[m].std() if m.sum() > 1 else 0.0 for m in masks])
    c = rng.multinomial(n, share, size=n_boot).T.astype(float)          # (4, B): rows per cell
    sum_p = (c * mu[:, None] + np.sqrt(c) * sd[:, None] * rng.standard_normal(c.shape)).sum(0)
    n00, n01, n10, n11 = c
    return np.array([n00 + n01, n01, n10 + n11, n10, n01 + n11, n11, c.sum(0), sum_p])


def _rates_from(c: np.ndarray) -> np.ndarray:
    """[fpr, fnr, precision, selection_rate, calibration] from summed contributions (NaN where undefined)."""
    neg, fp, pos, fn, fl, tp, n, sp = c
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.array([fp / neg, fn / pos, tp / fl, fl / n, (sp / n) / (pos / n)])


def _metric_frame(y, f, p, groups):
    """fairlearn's MetricFrame of the five metrics by group (calibration = mean predicted / observed).

    The rows are first collapsed to one row per (group, label, flagged) cell with its row count as the
    sample weight and its mean prediction: every metric here is a weighted count or mean, so the result is
    exactly the row-level one, at a cost that does not grow with the number of rows.
    """
    from fairlearn.metrics import MetricFrame, false_negative_rate, false_positive_rate, selection_rate
    from sklearn.metrics import precision_score

    cells = (pd.DataFrame({"g": groups, "y": y, "f": f.astype(int), "p": p})
             .groupby(["g", "y", "f"], sort=True).agg(n=("p", "size"), p=("p", "mean")).reset_index())

    def calibration(y_true, y_pred, prob, sample_weight):
        obs = float(np.average(y_true, weights=sample_weight))
        return float(np.average(prob, weights=sample_weight)) / obs if obs else float("nan")

    def precision(y_true, y_pred, sample_weight):
        if not np.any(np.asarray(y_pred) * np.asarray(sample_weight)):
            return float("nan")
        return float(precision_score(y_true, y_pred, sample_weight=sample_weight, zero_division=np.nan))

    w = cells["n"].to_numpy(float)
    return MetricFrame(
        metrics={"fpr": false_positive_rate, "fnr": false_negative_rate, "precision": precision,
                 "selection_rate": selection_rate, "calibration": calibration},
        y_true=cells["y"].to_numpy(), y_pred=cells["f"].to_numpy(),
        sensitive_features=pd.Series(cells["g"].to_numpy(), name="group"),
        sample_params={"fpr": {"sample_weight": w}, "fnr": {"sample_weight": w}, "precision": {"sample_weight": w},
                       "selection_rate": {"sample_weight": w},
                       "calibration": {"prob": cells["p"].to_numpy(), "sample_weight": w}})


def reference_audit(frame: pd.DataFrame, groups: list[str], label: str, prob: np.ndarray, flagged: np.ndarray,
                    cfg: FairnessConfig, operating_point: str = "capacity", seed: int = 0) -> pd.DataFrame:
    """Each group against a reference group, with bootstrap confidence intervals.

    Per (attribute, group): FPR, FNR, precision and selection rate (from fairlearn's ``MetricFrame``),
    their ratios to the reference group (``cfg.reference_groups[attribute]``, else the largest group),
    and calibration-in-the-large (mean predicted / the group's own observed rate; 1 = calibrated).
    Intervals are percentile bootstraps (``cfg.n_boot`` resamples of rows within each group, drawn by
    cell counts: :func:`_boot_contrib`). A metric is
    **flagged** only when its whole interval lies outside ``cfg.bounds``. The ``overall`` row carries the
    overall calibration against the observed rate, flagged the same way.
    """
    y = frame[label].to_numpy(dtype=int)
    p = np.asarray(prob, dtype=float)
    f = np.asarray(flagged, dtype=bool)
    lo, hi = cfg.bounds
    q = ((1 - cfg.ci_level) / 2 * 100, (1 + cfg.ci_level) / 2 * 100)
    rng = np.random.default_rng(seed)
    contrib = _counts(y, f, p)
    rows = []

    # overall calibration-in-the-large
    boot = _rates_from(_boot_contrib(y, f, p, cfg.n_boot, rng))[4]
    cal = _rates_from(contrib.sum(0))[4]
    c_lo, c_hi = np.nanpercentile(boot, q) if np.isfinite(boot).any() else (np.nan, np.nan)
    rows.append({"operating_point": operating_point, "attribute": "overall", "group": "全体 overall",
                 "reference": "", "rows": len(y), "positives": int(y.sum()), "flagged": int(f.sum()),
                 "mean_predicted": float(p.mean()) if len(p) else np.nan,
                 "observed_rate": float(y.mean()) if len(y) else np.nan,
                 "calibration": cal, "calibration_lo": c_lo, "calibration_hi": c_hi,
                 "flags": "calibration" if (c_hi < lo or c_lo > hi) else ""})
    for attr in groups:
        if attr not in frame:
            continue
        values = frame[attr].astype("string").fillna("未知 unknown").to_numpy()
        mf = _metric_frame(y, f, p, values)
        by = mf.by_group
        sizes = pd.Series(values).value_counts()
        ref = cfg.reference_groups.get(attr)
        if ref is None or ref not in sizes.index:
            ref = str(sizes.index[0])
        idx = {g: np.flatnonzero(values == g) for g in sizes.index}
        # bootstrap: resample rows within every group independently (groups are disjoint)
        draws = {g: _rates_from(_boot_contrib(y[ix], f[ix], p[ix], cfg.n_boot, rng)).T for g, ix in idx.items()}
        for g, ix in idx.items():
            row = {"operating_point": operating_point, "attribute": attr, "group": str(g), "reference": ref,
                   "rows": len(ix), "positives": int(y[ix].sum()), "flagged": int(f[ix].sum()),
                   "mean_predicted": float(p[ix].mean()), "observed_rate": float(y[ix].mean())}
            flags = []
            for j, m in enumerate(REFERENCE_METRICS):
                row[m] = float(by.loc[g, m])
                if m == "calibration":
                    est, b = row[m], draws[g][:, j]
                else:
                    ref_v = float(by.loc[ref, m])
                    est = float(by.loc[g, m]) / ref_v if ref_v else np.nan
                    with np.errstate(divide="ignore", invalid="ignore"):
                        b = draws[g][:, j] / draws[ref][:, j]
                    row[f"{m}_ratio"] = est
                b = b[np.isfinite(b)]
                c_lo, c_hi = (np.percentile(b, q) if len(b) >= 0.9 * cfg.n_boot else (np.nan, np.nan))
                key = m if m == "calibration" else f"{m}_ratio"
                row[f"{key}_lo"], row[f"{key}_hi"] = c_lo, c_hi
                if (g != ref or m == "calibration") and np.isfinite(c_lo) and (c_hi < lo or c_lo > hi):
                    flags.append(m)
            row["flags"] = ",".join(flags)
            rows.append(row)
    return pd.DataFrame(rows)


def reference_flags(audit: pd.DataFrame) -> list[str]:
    """``operating_point:attribute=group:metric`` for every metric whose interval lies outside the bounds."""
    out = []
    for r in audit.itertuples():
        for m in str(r.flags).split(","):
            if m:
                out.append(f"{r.operating_point}:{r.attribute}={r.group}:{m}")
    return sorted(out)


def high_risk_flags(prob: np.ndarray, share: float) -> np.ndarray:
    """The top ``share`` of rows by predicted probability (the policy "high-risk share" operating point)."""
    p = np.asarray(prob, dtype=float)
    k = max(1, int(round(share * len(p))))
    out = np.zeros(len(p), bool)
    out[np.argsort(-p, kind="stable")[:k]] = True
    return out
