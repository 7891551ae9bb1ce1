"""Typed training configuration: pydantic models built from YAML, unknown keys rejected.

The packaged ``default.yaml`` is read first, a user file is merged over it (it only needs the keys it
changes), then ``overrides``; the result is validated by :class:`TrainConfig` through
:func:`common.settings.load_config`: an unknown section or key, a value outside the allowed ones or a
number out of range is a :class:`~training.errors.TrainingConfigError` naming the file, the key, the
value and what is allowed.

>>> from training.config import load_config
>>> cfg = load_config(None)                       # the packaged default.yaml
>>> cfg.snapshots.horizon_days, cfg.model.params["max_depth"]
(90, 6)
>>> load_config(None, overrides={"split": {"test_snapshots": 2}}).split.test_snapshots
2
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from common.settings import ConfigModel, deep_merge
from common.settings import load_config as _load_config
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


class _Section(ConfigModel):
    config_error_class: ClassVar[type[Exception]] = TrainingConfigError


class SnapshotConfig(_Section):
    frequency_days: int = Field(default=30, ge=1)
    horizon_days: int = Field(default=90, ge=1)
    lookback_days: int = Field(default=365, ge=1)
    warmup_days: int = Field(default=180, ge=0)
    #: 0 keeps everyone.
    exclude_recent_outcome_days: int = Field(default=30, ge=0)
    first: str | None = None
    last: str | None = None

    @field_validator("first", "last", mode="before")
    @classmethod
    def _date_as_text(cls, value: Any) -> Any:
        """YAML reads an unquoted 2025-01-01 as a date; keep it as the text it was written as."""
        return value.isoformat() if isinstance(value, dt.date) else value


class SplitConfig(_Section):
    test_snapshots: int = Field(default=3, ge=1)
    validation_snapshots: int = Field(default=3, ge=1)
    #: Fraction-based split (used when test_fraction is set): the latest time values holding about this
    #: share of the rows are test, the share before them validation; one time value is never cut in two.
    test_fraction: float | None = Field(default=None, gt=0, lt=1)
    validation_fraction: float | None = Field(default=None, gt=0, lt=1)
    gap_days: int | None = None
    calibration_fraction: float = Field(default=0.5, gt=0, lt=1)


class ModelConfig(_Section):
    seed: int = 20261129
    num_boost_round: int = Field(default=2000, ge=1)
    early_stopping_rounds: int = Field(default=100, ge=1)
    imbalance: Literal["none", "scale_pos_weight"] = "none"
    #: LightGBM parameters, passed through (checked: ``objective`` binary, ``max_depth`` capped).
    params: dict[str, Any] = Field(default_factory=dict)


class CalibrationConfig(_Section):
    method: Literal["auto", "isotonic", "sigmoid"] = "auto"
    min_positives_isotonic: int = Field(default=200, ge=1)


class EvaluationConfig(_Section):
    capacity_per_grid_per_week: float = Field(default=0.05, gt=0)
    calibration_bins: int = Field(default=10, ge=2)


class FairnessConfig(_Section):
    bounds: tuple[float, float] = (0.8, 1.25)
    min_rows: int = Field(default=300, ge=1)
    min_expected_events: int = Field(default=20, ge=0)
    alpha: float = Field(default=0.05, gt=0, le=1)
    #: reference-group audit: attribute -> reference group (default: the largest group)
    reference_groups: dict[str, str] = Field(default_factory=dict)
    n_boot: int = Field(default=200, ge=20)
    ci_level: float = Field(default=0.95, gt=0.5, lt=1)
    #: the policy "high-risk share": the audit is also judged with the top share of rows flagged
    high_risk_share: float = Field(default=0.1, gt=0, lt=1)

    @field_validator("bounds")
    @classmethod
    def _around_one(cls, b: tuple[float, float]) -> tuple[float, float]:
        if not 0 < b[0] < 1 < b[1]:
            raise ValueError(f"{list(b)}; expected [low, high] with low < 1 < high.")
        return b


class PromotionConfig(_Section):
    auc_tolerance: float = Field(default=0.005, ge=0)
    precision_tolerance: float = Field(default=0.01, ge=0)
    allow_new_fairness_flags: bool = False


class MlflowConfig(_Section):
    experiment: str = "weimeng-escalation"
    registered_model: str = "weimeng-escalation"
    #: where run artifacts go for a new experiment; null = beside a SQLite store, else the server default
    artifact_location: str | None = None


class TrainConfig(_Section):
    snapshots: SnapshotConfig = Field(default_factory=SnapshotConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    fairness: FairnessConfig = Field(default_factory=FairnessConfig)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)

    @property
    def gap_days(self) -> int:
        """Gap between train / validation / test periods (defaults to the label horizon)."""
        return self.split.gap_days if self.split.gap_days is not None else self.snapshots.horizon_days

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        horizon = self.snapshots.horizon_days
        if self.gap_days < horizon:
            raise ValueError(f"split.gap_days={self.split.gap_days!r} is shorter than the horizon ({horizon} days): "
                             f"labels of neighbouring periods would overlap. Use null (= horizon) or a larger gap.")
        tf, vf = self.split.test_fraction, self.split.validation_fraction
        if vf is not None and tf is None:
            raise ValueError("split.validation_fraction is set without split.test_fraction; set both (or neither, "
                             "to split by test_snapshots / validation_snapshots).")
        if tf is not None and tf + (vf if vf is not None else tf) >= 0.9:
            raise ValueError(f"split.test_fraction + split.validation_fraction = {tf + (vf or tf):.2f} leaves less "
                             f"than 10% of the rows for training; lower them.")
        depth = self.model.params.get("max_depth", -1)
        if not (isinstance(depth, int) and not isinstance(depth, bool) and 1 <= depth <= MAX_DEPTH_LIMIT):
            raise ValueError(f"model.params.max_depth={depth!r}; must be between 1 and {MAX_DEPTH_LIMIT} so "
                             f"explanations (pred_contrib) stay cheap in serving.")
        objective = self.model.params.get("objective", "binary")
        if objective != "binary":
            raise ValueError(f"model.params.objective={objective!r}; only 'binary' is supported.")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples as lists), e.g. for the run's logged configuration."""
        return self.model_dump(mode="json")


def _default_raw() -> dict[str, Any]:
    import yaml

    text = resources.files("training").joinpath("config/default.yaml").read_text(encoding="utf-8")
    raw: dict[str, Any] = yaml.safe_load(text)
    return raw


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
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
            raise TrainingConfigError(f"{p}: 配置须为 YAML 映射 / the config must be a YAML mapping, got "
                                      f"{type(user).__name__}.")
        raw = deep_merge(raw, user)
        source = str(p)
    if overrides:
        raw = deep_merge(raw, overrides)
    return _load_config(TrainConfig, raw, label=source)
