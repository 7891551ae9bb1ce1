"""Typed training configuration: one frozen object, built from YAML, unknown keys rejected.

>>> from training.config import load_config
>>> cfg = load_config(None)                       # the packaged default.yaml
>>> cfg.snapshots.horizon_days, cfg.model.params["max_depth"]
(90, 6)
>>> load_config(None, overrides={"split": {"test_snapshots": 2}}).split.test_snapshots
2
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields, is_dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from training.errors import TrainingConfigError

__all__ = [
    "TrainConfig",
    "SnapshotConfig",
    "SplitConfig",
    "ModelConfig",
    "CalibrationConfig",
    "EvaluationConfig",
    "FairnessConfig",
    "PromotionConfig",
    "MlflowConfig",
    "load_config",
    "MAX_DEPTH_LIMIT",
]

#: Deeper trees make TreeSHAP explanations in serving steeply more expensive (STACK-NOTES.md).
MAX_DEPTH_LIMIT = 8


@dataclass(frozen=True)
class SnapshotConfig:
    frequency_days: int = 30
    horizon_days: int = 90
    lookback_days: int = 365
    warmup_days: int = 180
    exclude_recent_outcome_days: int = 30
    first: str | None = None
    last: str | None = None


@dataclass(frozen=True)
class SplitConfig:
    test_snapshots: int = 3
    validation_snapshots: int = 3
    gap_days: int | None = None
    calibration_fraction: float = 0.5


@dataclass(frozen=True)
class ModelConfig:
    seed: int = 20261129
    num_boost_round: int = 2000
    early_stopping_rounds: int = 100
    imbalance: Literal["none", "scale_pos_weight"] = "none"
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CalibrationConfig:
    method: Literal["auto", "isotonic", "sigmoid"] = "auto"
    min_positives_isotonic: int = 200


@dataclass(frozen=True)
class EvaluationConfig:
    capacity_per_grid_per_week: float = 0.05
    calibration_bins: int = 10


@dataclass(frozen=True)
class FairnessConfig:
    bounds: tuple[float, float] = (0.8, 1.25)
    min_rows: int = 300
    min_expected_events: int = 20
    alpha: float = 0.05


@dataclass(frozen=True)
class PromotionConfig:
    auc_tolerance: float = 0.005
    precision_tolerance: float = 0.01
    allow_new_fairness_flags: bool = False


@dataclass(frozen=True)
class MlflowConfig:
    experiment: str = "weimeng-escalation"
    registered_model: str = "weimeng-escalation"
    #: where run artifacts go for a new experiment; null = beside a SQLite store, else the server default
    artifact_location: str | None = None


@dataclass(frozen=True)
class TrainConfig:
    snapshots: SnapshotConfig = field(default_factory=SnapshotConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    fairness: FairnessConfig = field(default_factory=FairnessConfig)
    promotion: PromotionConfig = field(default_factory=PromotionConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)

    @property
    def gap_days(self) -> int:
        """Gap between train / validation / test periods (defaults to the label horizon)."""
        return self.split.gap_days if self.split.gap_days is not None else self.snapshots.horizon_days

    def to_dict(self) -> dict[str, Any]:
        def conv(obj):
            if is_dataclass(obj):
                return {f.name: conv(getattr(obj, f.name)) for f in fields(obj)}
            if isinstance(obj, tuple):
                return list(obj)
            return copy.deepcopy(obj)

        return conv(self)


_CLASSES = {
    "snapshots": SnapshotConfig, "split": SplitConfig, "model": ModelConfig, "calibration": CalibrationConfig,
    "evaluation": EvaluationConfig, "fairness": FairnessConfig, "promotion": PromotionConfig,
    "mlflow": MlflowConfig,
}
_CHOICES = {
    ("model", "imbalance"): ("none", "scale_pos_weight"),
    ("calibration", "method"): ("auto", "isotonic", "sigmoid"),
}


def _build(raw: dict, source: str) -> TrainConfig:
    if not isinstance(raw, dict):
        raise TrainingConfigError(f"{source}: 配置须为 YAML 映射 / the config must be a YAML mapping, got "
                                  f"{type(raw).__name__}.")
    unknown = sorted(set(raw) - set(_CLASSES))
    if unknown:
        raise TrainingConfigError(f"{source}: 未知配置节 / unknown section(s) {unknown}; allowed sections: "
                                  f"{sorted(_CLASSES)}.")
    sections = {}
    for name, cls in _CLASSES.items():
        values = raw.get(name) or {}
        if not isinstance(values, dict):
            raise TrainingConfigError(f"{source}: section '{name}' must be a mapping, got {values!r}.")
        allowed = {f.name: f for f in fields(cls)}
        bad = sorted(set(values) - set(allowed))
        if bad:
            raise TrainingConfigError(
                f"{source}: 未知配置项 / unknown key(s) {bad} in section '{name}'; allowed keys: {sorted(allowed)}.")
        for (sec, key), choices in _CHOICES.items():
            if sec == name and key in values and values[key] not in choices:
                raise TrainingConfigError(
                    f"{source}: {name}.{key}={values[key]!r} is not allowed; possible values are {list(choices)}.")
        if name == "fairness" and "bounds" in values:
            b = values["bounds"]
            if not (isinstance(b, (list, tuple)) and len(b) == 2 and 0 < float(b[0]) < 1 < float(b[1])):
                raise TrainingConfigError(f"{source}: fairness.bounds={b!r}; expected [low, high] with low < 1 < high.")
            values = {**values, "bounds": (float(b[0]), float(b[1]))}
        sections[name] = cls(**values)
    cfg = TrainConfig(**sections)
    _check(cfg, source)
    return cfg


def _check(cfg: TrainConfig, source: str) -> None:
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise TrainingConfigError(f"{source}: {what}")

    s = cfg.snapshots
    need(s.frequency_days >= 1, f"snapshots.frequency_days={s.frequency_days!r}; must be >= 1.")
    need(s.horizon_days >= 1, f"snapshots.horizon_days={s.horizon_days!r}; must be >= 1.")
    need(s.exclude_recent_outcome_days >= 0,
         f"snapshots.exclude_recent_outcome_days={s.exclude_recent_outcome_days!r}; must be >= 0 (0 keeps everyone).")
    need(cfg.split.test_snapshots >= 1, f"split.test_snapshots={cfg.split.test_snapshots!r}; must be >= 1.")
    need(cfg.split.validation_snapshots >= 1,
         f"split.validation_snapshots={cfg.split.validation_snapshots!r}; must be >= 1.")
    need(cfg.gap_days >= s.horizon_days,
         f"split.gap_days={cfg.split.gap_days!r} is shorter than the horizon ({s.horizon_days} days): labels of "
         f"neighbouring periods would overlap. Use null (= horizon) or a larger gap.")
    need(0 < cfg.split.calibration_fraction < 1,
         f"split.calibration_fraction={cfg.split.calibration_fraction!r}; must be strictly between 0 and 1.")
    depth = cfg.model.params.get("max_depth", -1)
    need(isinstance(depth, int) and 1 <= depth <= MAX_DEPTH_LIMIT,
         f"model.params.max_depth={depth!r}; must be between 1 and {MAX_DEPTH_LIMIT} so explanations "
         f"(pred_contrib) stay cheap in serving.")
    need(cfg.evaluation.capacity_per_grid_per_week > 0,
         f"evaluation.capacity_per_grid_per_week={cfg.evaluation.capacity_per_grid_per_week!r}; must be > 0.")
    need(cfg.model.params.get("objective", "binary") == "binary",
         f"model.params.objective={cfg.model.params.get('objective')!r}; only 'binary' is supported.")


def _default_raw() -> dict:
    import yaml

    text = resources.files("training").joinpath("config/default.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> TrainConfig:
    """Load the packaged defaults, then a user YAML file (merged over them), then ``overrides``.

    A user file only needs the keys it changes. ``model.params`` is replaced key by key too.
    """
    import yaml

    raw = _default_raw()
    source = "training/config/default.yaml"
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise TrainingConfigError(f"配置文件不存在 / config file not found: {p}. Pass an existing YAML file.")
        try:
            user = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise TrainingConfigError(f"{p}: 不是有效的 YAML / not valid YAML: {exc}") from None
        if not isinstance(user, dict):
            raise TrainingConfigError(f"{p}: the config must be a YAML mapping, got {type(user).__name__}.")
        raw = _deep_merge(raw, user)
        source = str(p)
    if overrides:
        raw = _deep_merge(raw, overrides)
    return _build(raw, source)


def _deep_merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out
