"""Score a model on a test window and measure everything the card, the log and the gate need.

The same function runs at training time and again at promotion time (both champion and challenger
on the challenger's test snapshots), so the gate compares like with like.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from training.config import TrainConfig
from training.dataset import BASELINE_COL, ORACLE_COLS
from training.evaluate import at_capacity, calibration_table, finite, score_metrics, top_k_flags
from training.fairness import fairness_audit, fairness_flags
from training.model import EscalationModel

__all__ = ["Assessment", "assess", "operating_threshold"]


@dataclass
class Assessment:
    metrics: dict                       # flat name -> float (logged to MLflow)
    scorers: dict                       # scorer -> {roc_auc, pr_auc, precision_at_capacity, ...}
    fairness: pd.DataFrame
    flags: list[str]
    calibration: pd.DataFrame
    probability: np.ndarray = field(repr=False)
    flagged: np.ndarray = field(repr=False)

    def summary(self) -> dict:
        return {"metrics": self.metrics, "fairness_flags": self.flags}


def operating_threshold(frame: pd.DataFrame, prob: np.ndarray, k: int, time_col: str = "as_of") -> float:
    """The calibrated probability of the k-th highest row, median over snapshots (used by ``model.flag``)."""
    cuts = []
    p = np.asarray(prob, float)
    for _, idx in frame.groupby(time_col).indices.items():
        s = np.sort(p[idx])[::-1]
        cuts.append(s[min(k, len(s)) - 1])
    return float(np.median(cuts)) if cuts else float("nan")


def assess(model: EscalationModel, test: pd.DataFrame, k: int, cfg: TrainConfig, label: str = "label",
           time_col: str = "as_of", audit_columns: list[str] | None = None) -> Assessment:
    y = test[label].to_numpy(dtype=int)
    prob = model.predict_risk(test)
    scorers: dict[str, dict] = {}
    scorers["model"] = {**score_metrics(y, prob, probability=True), **at_capacity(test, prob, label, k, time_col)}
    prior = np.full(len(test), y.mean() if len(y) else 0.0)
    scorers["prior_rate"] = {**score_metrics(y, prior), **at_capacity(test, prior, label, k, time_col)}
    if BASELINE_COL in test and test[BASELINE_COL].notna().any():
        b = test[BASELINE_COL].fillna(test[BASELINE_COL].min()).to_numpy(float)
        scorers["rules_baseline"] = {**score_metrics(y, b), **at_capacity(test, b, label, k, time_col)}
    for c in ORACLE_COLS:
        if c in test and test[c].notna().any():
            o = test[c].to_numpy(float)
            o = np.where(np.isnan(o), np.nanmin(o) - 1.0, o)  # no oracle row = background hazard
            scorers[c] = {**score_metrics(y, o), **at_capacity(test, o, label, k, time_col)}

    m = scorers["model"]
    metrics = {
        "test_rows": float(len(test)), "test_positives": float(y.sum()),
        "test_snapshots": float(test[time_col].nunique()),
        "alerts_per_snapshot": float(k),
        "roc_auc": m["roc_auc"], "pr_auc": m["pr_auc"], "brier": m["brier"],
        "precision_at_capacity": m["precision_at_capacity"], "recall_at_capacity": m["recall_at_capacity"],
        "mean_predicted": m["mean_predicted"], "observed_rate": m["observed_rate"],
        "prior_precision": scorers["prior_rate"]["precision_at_capacity"],
    }
    if "rules_baseline" in scorers:
        rb = scorers["rules_baseline"]
        metrics.update(rules_roc_auc=rb["roc_auc"], rules_precision_at_capacity=rb["precision_at_capacity"],
                       rules_recall_at_capacity=rb["recall_at_capacity"])
        metrics["lift_over_rules"] = (m["precision_at_capacity"] / rb["precision_at_capacity"]
                                      if rb["precision_at_capacity"] else float("nan"))
    for c in ORACLE_COLS:
        if c in scorers:
            metrics[f"{c}_roc_auc"] = scorers[c]["roc_auc"]
            metrics[f"{c}_precision_at_capacity"] = scorers[c]["precision_at_capacity"]
    if "oracle_records" in scorers and scorers["oracle_records"]["roc_auc"]:
        metrics["auc_ratio_to_records_oracle"] = m["roc_auc"] / scorers["oracle_records"]["roc_auc"]

    flagged = top_k_flags(test, prob, k, time_col)
    audit_cols = [c for c in (audit_columns or []) if c in test]
    fair = fairness_audit(test, audit_cols, label, prob, flagged, cfg.fairness)
    flags = fairness_flags(fair)
    metrics["fairness_flags"] = float(len(flags))
    cal = calibration_table(y, prob, cfg.evaluation.calibration_bins)
    metrics = {k_: finite(v) for k_, v in metrics.items()}
    scorers = {n: {k_: finite(v) for k_, v in d.items()} for n, d in scorers.items()}
    return Assessment(metrics, scorers, fair, flags, cal, prob, flagged)
