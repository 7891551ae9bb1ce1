"""Typed monitoring thresholds, loaded from YAML (package default or a file) into pydantic models.

Unknown sections and keys are errors that name the file, the key and the allowed keys; values out of
range are errors that name the value and the range (:func:`common.settings.load_config`).

>>> load_monitor_config(None).rules.hit_rate_ratio
2.0
>>> MonitorConfig.model_validate({"drift": {"max_rows": 500}}).drift.max_rows
500
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from common.settings import ConfigModel, load_config
from monitoring.errors import MonitorConfigError

__all__ = ["MonitorConfig", "DriftConfig", "QualityConfig", "RulesConfig", "PerformanceConfig",
           "load_monitor_config", "default_monitor_config_path"]


class _Section(ConfigModel):
    config_error_class: ClassVar[type[Exception]] = MonitorConfigError


class DriftConfig(_Section):
    #: Dataset drift alarm: share of model features whose drift test fails.
    feature_share: float = Field(default=0.25, ge=0, le=1)
    watched_features: tuple[str, ...] = ()
    max_rows: int = Field(default=20000, ge=1)
    prediction: bool = True


class QualityConfig(_Section):
    missing_share_rise: float = Field(default=0.15, ge=0, le=1)
    min_incidents_per_region: int = Field(default=200, ge=0)
    late_share_rise: float = Field(default=0.10, ge=0, le=1)
    quarantine_per_1k_rise: float = Field(default=5.0, ge=0)


class RulesConfig(_Section):
    hit_rate_ratio: float = Field(default=2.0, gt=1)
    min_hits: int = Field(default=20, ge=0)


class PerformanceConfig(_Section):
    horizon_days: int = Field(default=90, ge=1)
    alerts_per_grid_per_week: float = Field(default=0.5, gt=0)
    #: Model health is judged on every matured monthly snapshot of this many months up to the current
    #: window's end (a line over time, not one point); the current window's own snapshots mature last.
    history_months: int = Field(default=12, ge=0)


class MonitorConfig(_Section):
    drift: DriftConfig = Field(default_factory=DriftConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    performance: PerformanceConfig = Field(default_factory=PerformanceConfig)


def default_monitor_config_path() -> Path:
    return Path(str(resources.files("monitoring").joinpath("config/default.yaml")))


def load_monitor_config(path: str | Path | None = None) -> MonitorConfig:
    """The packaged thresholds (``path`` None) or a file's; keys a file leaves out take the defaults above."""
    return load_config(MonitorConfig, path, default=default_monitor_config_path(), what="monitoring config")
