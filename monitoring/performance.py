"""Model quality and fairness on matured windows: snapshots whose outcome horizon has fully passed.

Reuses the training package's metric and fairness code, so a monitoring figure means exactly what the
same figure in a model card means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["MaturedQuality", "matured_quality"]


@dataclass
class MaturedQuality:
    per_snapshot: pd.DataFrame      # as_of, rows, positives, roc_auc, pr_auc, brier, precision/recall at capacity
    pooled: dict
    # as_of, attribute, group, fpr_ratio, fnr_ratio, precision_ratio, calibration_ratio, status
    fairness: pd.DataFrame


def matured_quality(store, model, snapshots: list[pd.Timestamp], horizon_days: int,
                    alerts_per_grid_per_week: float, fairness_cfg=None) -> MaturedQuality:
    from training.evaluate import alerts_per_snapshot, at_capacity, score_metrics, top_k_flags
    from training.fairness import audit_groups_from_attributes, fairness_audit
    from training.snapshots import label_snapshots

    outcomes = store.table("outcomes")
    n_grids = len(store.table("grids"))
    k = alerts_per_snapshot(alerts_per_grid_per_week, n_grids, 30)
    rows, fair, frames = [], [], []
    for as_of in snapshots:
        pop = store.population(as_of)
        if pop.empty:
            continue
        frame = store.features(as_of, person_ids=pop)
        frame["label"] = label_snapshots(frame, outcomes, horizon_days).to_numpy()
        prob = model.predict_risk(frame)
        frame["prob"] = prob
        frames.append(frame)
        m = score_metrics(frame["label"].to_numpy(), prob, probability=True)
        cap = at_capacity(frame, prob, "label", k)
        rows.append({"as_of": as_of, "rows": len(frame), "positives": int(frame["label"].sum()), **m,
                     "precision_at_capacity": cap["precision_at_capacity"],
                     "recall_at_capacity": cap["recall_at_capacity"]})
        if fairness_cfg is not None and frame["label"].sum() > 0:
            attrs = audit_groups_from_attributes(store.audit_attributes(as_of))
            g = frame[["person_id"]].merge(attrs, on="person_id", how="left")
            g["label"] = frame["label"].to_numpy()
            flags = top_k_flags(frame, prob, k)
            audit = fairness_audit(g, ["sex", "age_band", "prefecture", "urban_rural"], "label", prob, flags,
                                   fairness_cfg)
            audit.insert(0, "as_of", as_of)
            fair.append(audit)
    per = pd.DataFrame(rows)
    pooled = {}
    if frames:
        allf = pd.concat(frames, ignore_index=True)
        pooled = score_metrics(allf["label"].to_numpy(), allf["prob"].to_numpy(), probability=True)
        pooled.update(at_capacity(allf, allf["prob"].to_numpy(), "label", k))
        pooled = {key: (float(v) if isinstance(v, (int, float, np.floating)) else v) for key, v in pooled.items()}
    fairness = pd.concat(fair, ignore_index=True) if fair else pd.DataFrame()
    return MaturedQuality(per, pooled, fairness)
