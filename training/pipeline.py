"""The training run end to end: split -> fit -> assess -> card -> MLflow log + register.

>>> # from training import train
>>> # result = train("weimeng-data/world", tracking_uri="sqlite:///weimeng-data/mlflow.db")
>>> # result.metrics["roc_auc"], result.version      # the new version is aliased 'challenger'
"""

from __future__ import annotations

import getpass
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.assess import Assessment, assess, operating_threshold
from training.card import write_card
from training.config import TrainConfig, load_config
from training.dataset import BASELINE_COL, ORACLE_COLS, Progress, TrainingSet, world_training_set
from training.evaluate import plot_calibration, plot_curves, plot_fairness_svg, plot_importance
from training.fairness import high_risk_flags, reference_audit, reference_flags
from training.fit import fit_model
from training.model import EscalationModel
from training.snapshots import Split, fraction_split, hash_fraction, repeat_gap_days, time_split

__all__ = ["TrainResult", "train", "train_on_set"]


@dataclass
class TrainResult:
    model: EscalationModel
    assessment: Assessment
    split: Split
    config: TrainConfig
    run_id: str | None = None
    version: str | None = None
    card: dict = field(default_factory=dict)
    sizes: dict = field(default_factory=dict)

    @property
    def metrics(self) -> dict:
        return self.assessment.metrics

    @property
    def fairness(self) -> pd.DataFrame:
        return self.assessment.fairness


def _noop(stage: str, done: int, total: int) -> None:
    return None


def train(data_dir: str | Path, config: str | Path | TrainConfig | None = None, tracking_uri: str | None = None,
          progress: Progress | None = None, register: bool = True, out_dir: str | Path | None = None) -> TrainResult:
    """Train on a world directory (``weimeng simulate`` output or real data in the same layout)."""
    cfg = config if isinstance(config, TrainConfig) else load_config(config)
    ts = world_training_set(data_dir, cfg, progress)
    return train_on_set(ts, cfg, tracking_uri=tracking_uri, progress=progress, register=register, out_dir=out_dir)


def _split(ts: TrainingSet, cfg: TrainConfig) -> Split:
    """By snapshot counts (default), or by row fractions when ``split.test_fraction`` is set.

    With fractions the gap is ``split.gap_days`` when given, else the horizon only where one person's
    rows repeat within it (else 0: one row per person needs no gap).
    """
    if cfg.split.test_fraction is None:
        return time_split(ts.dates(), cfg.split.test_snapshots, cfg.split.validation_snapshots, cfg.gap_days)
    gap = (cfg.split.gap_days if cfg.split.gap_days is not None
           else repeat_gap_days(ts.frame, cfg.snapshots.horizon_days, ts.id_col, ts.time_col))
    return fraction_split(ts.frame[ts.time_col], cfg.split.test_fraction, cfg.split.validation_fraction, gap)


def _reference_audit(test_df: pd.DataFrame, ts: TrainingSet, prob: np.ndarray, flagged: np.ndarray,
                     cfg: TrainConfig) -> pd.DataFrame:
    """The reference-group audit of ``prob`` at the capacity operating point (``flagged``) and at the policy
    high-risk share."""
    cols = [c for c in ts.audit_columns if c in test_df]
    seed = cfg.model.seed % 2**32
    cap = reference_audit(test_df, cols, ts.label, prob, flagged, cfg.fairness, "capacity", seed=seed)
    hr = reference_audit(test_df, cols, ts.label, prob, high_risk_flags(prob, cfg.fairness.high_risk_share),
                         cfg.fairness, "high_risk_share", seed=seed + 1)
    return pd.concat([cap, hr], ignore_index=True)


def _oracle_reference_flags(test_df: pd.DataFrame, ts: TrainingSet, cfg: TrainConfig) -> list[str] | None:
    """The same reference-group audit for the records oracle (a simulated world only): flags it shares
    with the model come from the world's own differences between groups, not from what the model learnt."""
    from training.dataset import ORACLE_COLS
    from training.evaluate import top_k_flags

    if "oracle_records" not in test_df or "oracle_records" not in ORACLE_COLS:
        return None
    o = test_df["oracle_records"].to_numpy(float)
    if not np.isfinite(o).any():
        return None
    o = np.where(np.isfinite(o), o, np.nanmin(o))
    audit = _reference_audit(test_df, ts, o, top_k_flags(test_df, o, ts.alerts_per_snapshot, ts.time_col), cfg)
    flags = [f for f in reference_flags(audit) if not f.endswith(":calibration")]
    # Calibration: the oracle's probabilities are not fitted to the labels (its overall level is off by
    # design), so a group's calibration is judged relative to the oracle's overall calibration: a group
    # whose outcomes the records under-state (hidden risk the records cannot show) stands out there too.
    lo, hi = cfg.fairness.bounds
    for op, part in audit.groupby("operating_point", sort=False):
        overall = part.loc[part["attribute"] == "overall", "calibration"]
        base = float(overall.iloc[0]) if len(overall) else float("nan")
        if not np.isfinite(base) or base <= 0:
            continue
        for r in part[part["attribute"] != "overall"].itertuples():
            rel = float(r.calibration) / base
            if np.isfinite(rel) and not lo <= rel <= hi:
                flags.append(f"{op}:{r.attribute}={r.group}:calibration")
    return sorted(flags)


def _base_rates(frames: dict[str, pd.DataFrame], ts: TrainingSet) -> list[dict]:
    """Observed label rate (base rate) per period, for the card."""
    out = []
    for name, df in frames.items():
        if len(df):
            out.append({"period": name, "start": str(pd.Timestamp(df[ts.time_col].min()).date()),
                        "end": str(pd.Timestamp(df[ts.time_col].max()).date()), "rows": int(len(df)),
                        "base_rate": float(df[ts.label].mean())})
    return out


def _sizes(frames: dict[str, pd.DataFrame], label: str) -> dict:
    return {k: {"rows": int(len(v)), "positives": int(v[label].sum())} for k, v in frames.items()}


def train_on_set(ts: TrainingSet, cfg: TrainConfig, tracking_uri: str | None = None, progress: Progress | None = None,
                 register: bool = True, out_dir: str | Path | None = None) -> TrainResult:
    """Everything after the training set exists; shared by the world path and the BYOD path."""
    progress = progress or _noop
    frame = ts.frame
    split = _split(ts, cfg)
    period = split.period_of(pd.to_datetime(frame[ts.time_col]))
    train_df = frame[period == "train"]
    val_df = frame[period == "validation"]
    test_df = frame[period == "test"].reset_index(drop=True)
    in_cal = hash_fraction(val_df[ts.id_col], salt=cfg.model.seed) < cfg.split.calibration_fraction
    es_df, cal_df = val_df[~in_cal], val_df[in_cal]
    sizes = _sizes({"train": train_df, "early_stopping": es_df, "calibration": cal_df, "test": test_df}, ts.label)

    trained_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    test_window = [str(d.date()) for d in split.test]
    meta: dict[str, Any] = {
        "model_name": cfg.mlflow.registered_model, "catalog_version": ts.source.get("catalog_version"),
        "ruleset_version": ts.source.get("ruleset_version"), "horizon_days": cfg.snapshots.horizon_days,
        "alerts_per_snapshot": ts.alerts_per_snapshot, "frequency_days": cfg.snapshots.frequency_days,
        "capacity_per_grid_per_week": ts.source.get("capacity_per_grid_per_week"),
        "id_col": ts.id_col, "time_col": ts.time_col, "label": ts.label, "audit_columns": ts.audit_columns,
        "never_features": list(ts.never_features), "data_kind": ts.source.get("kind"),
        "test_window": test_window, "split": split.describe(), "trained_at": trained_at,
    }
    progress("训练模型 fit LightGBM", 0, 1)
    fit = fit_model(train_df, es_df, cal_df, ts.feature_names, cfg, label=ts.label, never_features=ts.never_features,
                    metadata=meta)
    model = fit.model
    progress("训练模型 fit LightGBM", 1, 1)

    progress("评估 evaluate", 0, 1)
    val_prob = model.predict_risk(val_df)
    model.metadata["operating_threshold"] = operating_threshold(val_df, val_prob, ts.alerts_per_snapshot, ts.time_col)
    result_assessment = assess(model, test_df, ts.alerts_per_snapshot, cfg, label=ts.label, time_col=ts.time_col,
                               audit_columns=ts.audit_columns)
    m = result_assessment.metrics
    model.metadata["test_metrics"] = {k: m.get(k) for k in (
        "roc_auc", "pr_auc", "brier", "precision_at_capacity", "recall_at_capacity", "lift_over_rules",
        "oracle_records_roc_auc", "auc_ratio_to_records_oracle", "fairness_flags")}
    model.metadata["fairness_flags"] = result_assessment.flags
    reference = _reference_audit(test_df, ts, result_assessment.probability, result_assessment.flagged, cfg)
    reference_flags_ = reference_flags(reference)
    m["reference_fairness_flags"] = float(len(reference_flags_))
    oracle_flags = _oracle_reference_flags(test_df, ts, cfg)
    if oracle_flags is not None:
        shared = sorted(set(reference_flags_) & set(oracle_flags))
        m["reference_fairness_flags_shared_with_oracle"] = float(len(shared))
        model.metadata["fairness_flags_shared_with_oracle"] = shared
    thr = model.metadata["operating_threshold"]
    m["threshold_alerts_per_snapshot"] = float(np.mean(
        [(result_assessment.probability[idx] >= thr).sum() for idx in test_df.groupby(ts.time_col).indices.values()]))
    progress("评估 evaluate", 1, 1)

    progress("模型卡 model card", 0, 1)
    tmp = tempfile.mkdtemp(prefix="weimeng-train-")
    report_dir = Path(out_dir) if out_dir else Path(tmp) / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    y = test_df[ts.label].to_numpy(int)
    cal_png = plot_calibration(y, result_assessment.probability, report_dir / "calibration.png",
                               cfg.evaluation.calibration_bins)
    curves = {"model": result_assessment.probability}
    if BASELINE_COL in test_df and test_df[BASELINE_COL].notna().any():
        curves["rules baseline"] = test_df[BASELINE_COL].fillna(test_df[BASELINE_COL].min()).to_numpy(float)
    for c in ORACLE_COLS:
        if c in test_df and test_df[c].notna().any():
            o = test_df[c].to_numpy(float)
            curves[c.replace("_", " ")] = np.where(np.isnan(o), np.nanmin(o) - 1, o)
    curves_png = plot_curves(y, curves, report_dir / "roc_pr.png")
    importance = model.feature_importance("gain")
    imp_png = plot_importance(importance, report_dir / "feature_importance.png")
    importance.rename("gain").to_frame().to_csv(report_dir / "feature_importance.csv", encoding="utf-8")
    result_assessment.fairness.to_csv(report_dir / "fairness.csv", index=False, encoding="utf-8")
    reference.to_csv(report_dir / "fairness_reference.csv", index=False, encoding="utf-8")
    fairness_svgs = {a: plot_fairness_svg(reference, a, cfg.fairness.bounds) for a in ts.audit_columns
                     if a in set(reference["attribute"])}
    result_assessment.calibration.to_csv(report_dir / "calibration.csv", index=False)
    pd.DataFrame(result_assessment.scorers).T.to_csv(report_dir / "scorers.csv")
    try:
        from features.catalog import CATALOG

        labels = {n: CATALOG[n].label for n in ts.feature_names if n in CATALOG}
    except ImportError:
        labels = {}
    ctx = {
        "model_name": cfg.mlflow.registered_model, "model_version": "(pending)", "trained_at": trained_at,
        "source": ts.source, "metrics": m, "scorers": result_assessment.scorers,
        "fairness": result_assessment.fairness, "fairness_flags": result_assessment.flags,
        "fairness_bounds": cfg.fairness.bounds, "fairness_min_rows": cfg.fairness.min_rows,
        "fairness_min_expected_events": cfg.fairness.min_expected_events,
        "fairness_alpha": cfg.fairness.alpha, "horizon_days": cfg.snapshots.horizon_days,
        "frequency_days": cfg.snapshots.frequency_days, "lookback_days": cfg.snapshots.lookback_days,
        "exclude_days": cfg.snapshots.exclude_recent_outcome_days, "excluded_rows": ts.excluded_recent_outcome,
        "split": split.describe(), "sizes": sizes, "imbalance": cfg.model.imbalance,
        "calibration": model.calibrator.describe(), "best_iteration": fit.best_iteration,
        "max_depth": cfg.model.params.get("max_depth"), "k": ts.alerts_per_snapshot,
        "capacity_per_grid_per_week": ts.source.get("capacity_per_grid_per_week", "—"),
        "operating_threshold": thr, "feature_names": ts.feature_names, "importance": importance, "labels": labels,
        "calibration_png": cal_png, "curves_png": curves_png, "importance_png": imp_png,
        "limits": ts.source.get("limits", []),
        "fairness_reference": reference, "fairness_reference_flags": reference_flags_,
        "fairness_oracle_flags": oracle_flags,
        "fairness_svgs": fairness_svgs, "fairness_ci_level": cfg.fairness.ci_level,
        "fairness_n_boot": cfg.fairness.n_boot, "high_risk_share": cfg.fairness.high_risk_share,
        "base_rates": _base_rates({"train": train_df, "validation": val_df, "test": test_df}, ts),
    }
    write_card(ctx, report_dir)
    progress("模型卡 model card", 1, 1)

    result = TrainResult(model, result_assessment, split, cfg, sizes=sizes)
    if register:
        progress("登记模型 MLflow register", 0, 1)
        keep = [ts.id_col, ts.time_col, ts.label, *ts.feature_names, *ts.audit_columns,
                *[c for c in (BASELINE_COL, *ORACLE_COLS) if c in test_df]]
        keep = list(dict.fromkeys(c for c in keep if c in test_df))
        tags = {
            "run_name": f"train-{trained_at[:19].replace(' ', 'T')}", "trained_by": _user(),
            "data_kind": ts.source.get("kind"), "data_path": ts.source.get("path"),
            "test_window": ",".join(test_window), "alerts_per_snapshot": ts.alerts_per_snapshot,
            "test_roc_auc": f"{m['roc_auc']:.4f}" if m.get("roc_auc") is not None else "",
            "test_precision_at_capacity": (f"{m['precision_at_capacity']:.4f}"
                                           if m.get("precision_at_capacity") is not None else ""),
            "test_fairness_flags": len(result_assessment.flags),
        }
        run_id, version = _register(model, cfg, tracking_uri, m, tags, report_dir, test_df[keep], ctx, ts)
        result.run_id, result.version = run_id, version
        model.metadata.update(model_version=version, run_id=run_id)
        progress("登记模型 MLflow register", 1, 1)
    result.card = {"markdown": report_dir / "model_card.md", "html": report_dir / "model_card.html",
                   "dir": report_dir}
    return result


def _register(model, cfg, tracking_uri, metrics, tags, report_dir, test_set, ctx, ts):
    from training.card import write_card
    from training.registry import client_for, log_and_register

    # The version number is known only after registration; the card is re-rendered with it right after.
    run_id, version = log_and_register(
        model, tracking_uri=tracking_uri, experiment=cfg.mlflow.experiment, model_name=cfg.mlflow.registered_model,
        params={"config": cfg.to_dict(), "data": {k: v for k, v in ts.source.items() if not isinstance(v, dict)},
                "features": {"count": len(ts.feature_names)}},
        metrics=metrics, tags=tags, artifacts_dir=report_dir, test_set=test_set, input_example=test_set,
        artifact_location=cfg.mlflow.artifact_location)
    ctx = {**ctx, "model_version": version, "run_id": run_id}
    write_card(ctx, report_dir)
    client = client_for(tracking_uri)
    import mlflow

    with mlflow.start_run(run_id=run_id):
        mlflow.log_artifact(str(report_dir / "model_card.md"), artifact_path="report")
        mlflow.log_artifact(str(report_dir / "model_card.html"), artifact_path="report")
    client.set_model_version_tag(cfg.mlflow.registered_model, version, "model_card", "report/model_card.html")
    return run_id, version


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"
