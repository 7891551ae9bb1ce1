"""A training set ready for the trainer, whatever its source (a simulated/real world or a BYOD table).

:class:`TrainingSet` is the one shape the rest of the package consumes: a frame with the id, the
snapshot time, the features, the label, the audit-group columns (never features) and, when
available, the rules-only baseline score and the oracle scores of a simulated world.
:func:`world_training_set` builds one from a world directory through ``features.store.EventStore``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from training.config import TrainConfig
from training.errors import TrainingDataError
from training.evaluate import alerts_per_snapshot
from training.fairness import audit_groups_from_attributes
from training.guard import check_feature_names
from training.snapshots import label_snapshots, recent_outcome_mask, snapshot_dates

__all__ = ["TrainingSet", "world_training_set", "Progress", "BASELINE_COL", "ORACLE_COLS"]

#: progress(stage, done, total): called as work advances (the CLI draws rich progress bars from it).
Progress = Callable[[str, int, int], None]
BASELINE_COL = "rules_baseline_score"
ORACLE_COLS = ("oracle_full", "oracle_records")
AUDIT_COLUMNS = ("sex", "age_band", "prefecture", "urban_rural")


def _noop(stage: str, done: int, total: int) -> None:
    return None


@dataclass
class TrainingSet:
    frame: pd.DataFrame
    feature_names: list[str]
    alerts_per_snapshot: int
    id_col: str = "person_id"
    time_col: str = "as_of"
    label: str = "label"
    audit_columns: list[str] = field(default_factory=list)
    never_features: tuple[str, ...] = ()
    source: dict = field(default_factory=dict)
    excluded_recent_outcome: int = 0

    def __post_init__(self) -> None:
        check_feature_names(self.feature_names, self.never_features)
        need = [self.id_col, self.time_col, self.label, *self.feature_names]
        missing = [c for c in need if c not in self.frame.columns]
        if missing:
            raise TrainingDataError(f"训练集缺少列 / the training frame lacks columns {missing}.")

    @property
    def has_baseline(self) -> bool:
        return BASELINE_COL in self.frame and self.frame[BASELINE_COL].notna().any()

    @property
    def has_oracle(self) -> bool:
        return all(c in self.frame for c in ORACLE_COLS)

    def dates(self) -> list[pd.Timestamp]:
        return sorted(pd.to_datetime(self.frame[self.time_col].unique()))


def _world_window(store, data_dir: Path) -> tuple[pd.Timestamp, pd.Timestamp, dict]:
    info: dict = {}
    wj = data_dir / "world.json"
    if wj.exists():
        info = json.loads(wj.read_text(encoding="utf-8"))
    start = next((info[k] for k in ("start", "start_date", "first_day") if k in info), None)
    end = next((info[k] for k in ("end", "end_date", "last_day") if k in info), None)
    if start is None or end is None:
        inc = store.table("incidents")
        start = start or inc["event_time"].min()
        end = end or inc["event_time"].max()
    return pd.Timestamp(start), pd.Timestamp(end), info


def _rules_baseline(frame: pd.DataFrame) -> tuple[pd.Series | None, str | None]:
    """Rules-only ranking score per row (None when the rules package is unavailable)."""
    try:
        import rules
    except ImportError:
        return None, None
    ruleset = rules.load_ruleset(None)
    hits = rules.evaluate_batch(ruleset, frame)
    score = rules.rules_baseline_score(hits, frame[["person_id", "as_of"]] if "as_of" in frame else frame)
    score = pd.Series(np.asarray(score, dtype=float), index=frame.index)
    return score, str(getattr(ruleset, "version", "unknown"))


def _oracle(data_dir: Path, frame: pd.DataFrame, dates, horizon: int) -> pd.DataFrame | None:
    try:
        from features.simulate import oracle_scores
    except ImportError:
        return None
    parts = []
    for d in dates:
        ids = frame.loc[frame["as_of"] == pd.Timestamp(d), "person_id"]
        o = oracle_scores(data_dir, d, horizon_days=horizon, person_ids=ids)
        o = o[["person_id", *ORACLE_COLS]].copy()
        o["as_of"] = pd.Timestamp(d)
        parts.append(o)
    return pd.concat(parts, ignore_index=True) if parts else None


def world_training_set(data_dir: str | Path, cfg: TrainConfig, progress: Progress | None = None) -> TrainingSet:
    """Snapshots of a world directory: features, labels, exclusions, audit groups, baseline, oracles.

    The rules baseline and the oracles are computed for the last ``test_snapshots`` dates only (the
    only place they are compared), which keeps large worlds cheap.
    """
    from features.catalog import CATALOG_VERSION, FEATURE_NAMES
    from features.store import EventStore

    progress = progress or _noop
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise TrainingDataError(f"数据目录不存在 / data directory not found: {data_dir}. Run `weimeng simulate "
                                f"--out {data_dir}` or point --data at a world directory.")
    progress("打开数据 open store", 0, 1)
    store = EventStore.open(data_dir, progress=False)
    progress("打开数据 open store", 1, 1)
    start, end, info = _world_window(store, data_dir)
    burn_in = int(info.get("burn_in_days") or 0)
    if burn_in and not cfg.snapshots.first:
        # A simulated world's burn-in is history before the window: the warm-up counts from its start,
        # so the first snapshot is at most the window's first day (features are in steady state there).
        cfg = cfg.model_copy(update={"snapshots": cfg.snapshots.model_copy(
            update={"warmup_days": max(0, cfg.snapshots.warmup_days - burn_in)})})
    dates = snapshot_dates(start, end, cfg)
    s = cfg.snapshots
    parts = []
    for i, d in enumerate(dates):
        progress("计算特征 features", i, len(dates))
        f = store.features([d], progress=False)
        if len(f):
            pop = set(store.population(d, lookback_days=s.lookback_days))
            f = f[f["person_id"].isin(pop)]
        parts.append(f)
    progress("计算特征 features", len(dates), len(dates))
    frame = pd.concat(parts, ignore_index=True)
    if frame.empty:
        raise TrainingDataError(f"没有可训练的快照 / no person had records before any snapshot in {data_dir}.")
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame["person_id"] = frame["person_id"].astype(str)
    outcomes = store.table("outcomes").assign(person_id=lambda d: d["person_id"].astype(str))
    frame["label"] = label_snapshots(frame, outcomes, s.horizon_days).to_numpy()
    recent = recent_outcome_mask(frame, outcomes, s.exclude_recent_outcome_days)
    excluded = int(recent.sum())
    frame = frame.loc[~recent.to_numpy()].reset_index(drop=True)

    # Audit groups, the rules baseline and the oracles are only ever compared on the test period (and
    # re-used from the logged test set by the promotion gate), so they are computed for those dates only.
    test_dates = dates[-cfg.split.test_snapshots:]
    progress("审计属性 audit attributes", 0, len(test_dates))
    attrs = []
    for i, d in enumerate(test_dates):
        a = store.audit_attributes(d)
        a = audit_groups_from_attributes(a.assign(person_id=a["person_id"].astype(str)))
        a["as_of"] = pd.Timestamp(d)
        attrs.append(a)
        progress("审计属性 audit attributes", i + 1, len(test_dates))
    attrs = pd.concat(attrs, ignore_index=True).drop_duplicates(["person_id", "as_of"])
    frame = frame.merge(attrs, on=["person_id", "as_of"], how="left")

    is_test = frame["as_of"].isin(test_dates)
    progress("规则基线 rules baseline", 0, 1)
    baseline, ruleset_version = _rules_baseline(frame.loc[is_test].reset_index(drop=True))
    if baseline is not None:
        frame[BASELINE_COL] = np.nan
        frame.loc[is_test, BASELINE_COL] = baseline.to_numpy()
    progress("规则基线 rules baseline", 1, 1)
    if info.get("simulated", True) and (data_dir / "oracle").exists():
        progress("真值上限 oracle", 0, 1)
        o = _oracle(data_dir, frame, test_dates, s.horizon_days)
        if o is not None:
            frame = frame.merge(o, on=["person_id", "as_of"], how="left")
        progress("真值上限 oracle", 1, 1)

    n_grids = int(len(store.table("grids")))
    k = alerts_per_snapshot(cfg.evaluation.capacity_per_grid_per_week, n_grids, s.frequency_days)
    features = [c for c in FEATURE_NAMES if c in frame.columns]
    source = {
        "kind": "world", "path": str(data_dir.resolve()), "data_start": str(start.date()), "data_end": str(end.date()),
        "world": {k_: v for k_, v in info.items() if isinstance(v, (str, int, float, bool))},
        "catalog_version": CATALOG_VERSION, "ruleset_version": ruleset_version, "n_grids": n_grids,
        "capacity_per_grid_per_week": cfg.evaluation.capacity_per_grid_per_week,
    }
    return TrainingSet(frame, features, k, audit_columns=[c for c in AUDIT_COLUMNS if c in frame.columns],
                       source=source, excluded_recent_outcome=excluded)
