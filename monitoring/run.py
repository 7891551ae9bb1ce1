"""`weimeng monitor`: one run over a current window against a reference window.

Reference: the champion's training window (from the registered model's metadata) unless given.
Outputs in ``out_dir``: ``feature_drift.html``, ``prediction_drift.html`` and ``incident_drift.html``
(Evidently), ``summary.json`` (everything below, machine-readable) and an exit status: 0 quiet,
3 when any alarm fires (each alarm says what crossed which threshold).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from monitoring.config import MonitorConfig, load_monitor_config
from monitoring.drift import DriftResult, run_drift
from monitoring.errors import MonitorConfigError, MonitorDataError
from monitoring.quality import QualityResult, compare_quality, incident_window
from monitoring.wording import alarm_text

if TYPE_CHECKING:
    from monitoring.performance import MaturedQuality

__all__ = ["MonitorSummary", "run_monitor", "monthly_snapshots", "ALARM_EXIT_CODE"]

ALARM_EXIT_CODE = 3


@dataclass
class MonitorSummary:
    reference: tuple[pd.Timestamp, pd.Timestamp]
    current: tuple[pd.Timestamp, pd.Timestamp]
    model_version: str | None
    feature_drift: DriftResult
    prediction_drift: DriftResult | None
    incident_drift: DriftResult
    quality: QualityResult
    rule_rates: pd.DataFrame | None
    matured: MaturedQuality | None
    alarms: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    alarm_items: list[dict] = field(default_factory=list)   # the alarms as data (kind + figures)

    @property
    def exit_code(self) -> int:
        return ALARM_EXIT_CODE if self.alarms else 0

    def to_dict(self) -> dict:
        def frame(df):
            if df is None or len(df) == 0:
                return []
            return json.loads(df.to_json(orient="records", date_format="iso", force_ascii=False))

        return {
            "reference": [str(self.reference[0].date()), str(self.reference[1].date())],
            "current": [str(self.current[0].date()), str(self.current[1].date())],
            "model_version": self.model_version,
            "status": "alarm" if self.alarms else "ok",
            "alarms": self.alarms,
            "alarm_items": self.alarm_items,
            "notes": self.notes,
            "feature_drift": {"share_drifted": self.feature_drift.share_drifted,
                              "drifted": self.feature_drift.drifted, "columns": frame(self.feature_drift.columns)},
            "prediction_drift": None if self.prediction_drift is None else {
                "drifted": bool(self.prediction_drift.drifted), "columns": frame(self.prediction_drift.columns)},
            "incident_drift": {"drifted": self.incident_drift.drifted, "columns": frame(self.incident_drift.columns)},
            "quality": {"overall": frame(self.quality.overall), "regions_alarming": frame(
                self.quality.regions[self.quality.regions["alarm"]]), "quarantine": frame(self.quality.quarantine)},
            "rule_rates": frame(self.rule_rates),
            "matured": None if self.matured is None else {
                "per_snapshot": frame(self.matured.per_snapshot), "pooled": self.matured.pooled,
                "fairness": frame(self.matured.fairness)},
        }


def monthly_snapshots(start, end) -> list[pd.Timestamp]:
    """Month starts in [start, end] (at least ``start`` itself)."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if end < start:
        raise MonitorConfigError(f"--to {end.date()} is before --from {start.date()}")
    dates = list(pd.date_range(start, end, freq="MS"))
    return dates or [start]


def _train_window(metadata: dict) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    span = (metadata.get("split") or {}).get("train", "")
    m = re.match(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", str(span))
    return (pd.Timestamp(m.group(1)), pd.Timestamp(m.group(2))) if m else None


def _load_model(tracking_uri: str | None, alias: str):
    try:
        from training import load_registered_model

        return load_registered_model(alias, tracking_uri=tracking_uri)
    except Exception as exc:  # no registry / no champion yet: monitoring still runs without predictions
        return exc


def _features(store, dates) -> pd.DataFrame:
    frames = []
    for d in dates:
        pop = store.population(d)
        if len(pop):
            frames.append(store.features(d, person_ids=pop))
    if not frames:
        raise MonitorDataError(f"no person with records in the snapshots {[str(d.date()) for d in dates]}")
    return pd.concat(frames, ignore_index=True)


def run_monitor(data_dir: str | Path, start, end, out_dir: str | Path, *, reference_start=None, reference_end=None,
                config: MonitorConfig | str | Path | None = None, tracking_uri: str | None = None,
                model_alias: str = "champion", use_model: bool = True, ruleset=None, store=None,
                workspace: str | Path | None = None) -> MonitorSummary:
    """One monitor run; with ``workspace`` its Evidently snapshots are also kept there (monitoring.workspace)."""
    from features.catalog import FEATURE_NAMES
    from features.divisions import prefectures
    from features.store import EventStore, as_timestamp

    cfg = config if isinstance(config, MonitorConfig) else load_monitor_config(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start, end = as_timestamp(start), as_timestamp(end)
    store = store or EventStore.open(data_dir)
    notes: list[str] = []

    model = _load_model(tracking_uri, model_alias) if use_model else None
    if isinstance(model, Exception):
        notes.append(f"未加载模型（{type(model).__name__}: {str(model)[:160]}）：跳过预测漂移与成熟窗口评估 / "
                     "no model: prediction drift and matured-window quality skipped")
        model = None
    if reference_start is None or reference_end is None:
        window = _train_window(model.metadata) if model is not None else None
        if window is None:
            window = (start - pd.DateOffset(months=6), start - pd.DateOffset(months=1))
            notes.append("参照窗口取当前窗口之前6个月 / reference: the six months before the current window")
        else:
            notes.append(f"参照窗口为冠军模型训练窗口 / reference: the champion's training window {window[0].date()}"
                         f"..{window[1].date()}")
        reference_start, reference_end = window
    ref_dates = monthly_snapshots(reference_start, reference_end)
    cur_dates = monthly_snapshots(start, end)

    ref_f = _features(store, ref_dates)
    cur_f = _features(store, cur_dates)
    feats = [f for f in FEATURE_NAMES if f in ref_f]
    stamp = {"timestamp": end}
    feature_drift = run_drift(ref_f, cur_f, feats, max_rows=cfg.drift.max_rows, html=out / "feature_drift.html",
                              tags=["feature_drift"], **stamp)

    prediction_drift = None
    model_version = None
    if model is not None and cfg.drift.prediction:
        model_version = str(model.metadata.get("model_version", ""))
        p_ref = pd.DataFrame({"prediction": model.predict_risk(ref_f)})
        p_cur = pd.DataFrame({"prediction": model.predict_risk(cur_f)})
        prediction_drift = run_drift(p_ref, p_cur, ["prediction"], max_rows=cfg.drift.max_rows,
                                     html=out / "prediction_drift.html", tags=["prediction_drift"], **stamp)

    incidents = store.table("incidents")
    ref_inc = incident_window(incidents, reference_start, pd.Timestamp(reference_end) + pd.DateOffset(months=1))
    cur_inc = incident_window(incidents, start, end + pd.DateOffset(months=1))
    if len(ref_inc) == 0 or len(cur_inc) == 0:
        raise MonitorDataError("no incidents in the reference or the current window")
    cat_cols = ["category", "disposition"]

    def incident_view(df):
        v = df[cat_cols].astype("string").fillna("<缺失>").astype(str)
        v["threat_flag_missing"] = df["flag_threat"].isna().astype(float).to_numpy()
        return v

    incident_drift = run_drift(incident_view(ref_inc), incident_view(cur_inc), ["threat_flag_missing"], cat_cols,
                               max_rows=cfg.drift.max_rows, html=out / "incident_drift.html",
                               tags=["incident_drift"], **stamp)
    names = prefectures().set_index("code")["name"].to_dict()
    quality = compare_quality(ref_inc, cur_inc, cfg.quality, store.report.quarantine, names)

    rule_rates = None
    try:
        import rules
        from monitoring.rulerates import compare_rule_rates, rule_hit_rates

        rs = ruleset if ruleset is not None else rules.load_ruleset()
        rule_rates = compare_rule_rates(rule_hit_rates(rs, ref_f, end), rule_hit_rates(rs, cur_f, end), cfg.rules)
    except ImportError:
        notes.append("规则包不可用 / rules package unavailable: rule hit rates skipped")

    matured = None
    data_end = incidents["event_time"].max()
    # every matured month of the last history_months, after the model's training window (in-sample months
    # would flatter it), so model health is a line over time
    first = end - pd.DateOffset(months=cfg.performance.history_months)
    trained = _train_window(model.metadata) if model is not None else None
    if trained is not None:
        first = max(first, trained[1] + pd.DateOffset(months=1))
    history = monthly_snapshots(min(first, end), end)
    matured_dates = [d for d in history if d + pd.Timedelta(days=cfg.performance.horizon_days) <= data_end]
    if model is not None and matured_dates:
        from monitoring.performance import matured_quality
        from training.config import FairnessConfig

        matured = matured_quality(store, model, matured_dates, cfg.performance.horizon_days,
                                  cfg.performance.alerts_per_grid_per_week, FairnessConfig())
    elif model is not None:
        notes.append("尚无结局观察期已满的快照 / no matured snapshots yet")

    items: list[dict] = []
    if feature_drift.share_drifted >= cfg.drift.feature_share:
        items.append({"kind": "feature_share", "share": feature_drift.share_drifted,
                      "threshold": cfg.drift.feature_share, "features": feature_drift.drifted})
    watched = sorted(set(feature_drift.drifted) & set(cfg.drift.watched_features))
    if watched:
        items.append({"kind": "watched_features", "features": watched})
    if prediction_drift is not None and prediction_drift.drifted:
        items.append({"kind": "prediction"})
    items += [{"kind": "incident", "column": col} for col in incident_drift.drifted]
    items += quality.alarm_items
    if rule_rates is not None:
        items += [{"kind": "rule_rate", "rule_id": r.rule_id, "reference": float(r.rate_reference),
                   "current": float(r.rate_current)} for r in rule_rates.itertuples() if r.alarm]
    alarms = [alarm_text(i) for i in items]

    summary = MonitorSummary((pd.Timestamp(reference_start), pd.Timestamp(reference_end)), (start, end),
                             model_version, feature_drift, prediction_drift, incident_drift, quality, rule_rates,
                             matured, alarms, notes, items)
    if workspace is not None:
        from monitoring.workspace import record_runs

        record_runs(workspace, {"feature_drift": feature_drift.snapshot, "incident_drift": incident_drift.snapshot,
                                "prediction_drift": None if prediction_drift is None else prediction_drift.snapshot},
                    window=(start, end))
        notes.append(f"监测快照已记入 Evidently 工作区 / runs kept in the Evidently workspace {workspace}")
    (out / "summary.json").write_text(json.dumps(summary.to_dict(), ensure_ascii=False, indent=1, default=_json),
                                      encoding="utf-8")
    return summary


def _json(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (pd.Timestamp,)):
        return o.isoformat()
    return str(o)
