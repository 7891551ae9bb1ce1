"""Typed monitoring thresholds, loaded from YAML (package default or a file); unknown keys rejected."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

import yaml

from monitoring.errors import MonitorConfigError

__all__ = ["MonitorConfig", "load_monitor_config"]


@dataclass(frozen=True)
class DriftConfig:
    feature_share: float = 0.25
    watched_features: tuple[str, ...] = ()
    max_rows: int = 20000
    prediction: bool = True


@dataclass(frozen=True)
class QualityConfig:
    missing_share_rise: float = 0.15
    min_incidents_per_region: int = 200
    late_share_rise: float = 0.10
    quarantine_per_1k_rise: float = 5.0


@dataclass(frozen=True)
class RulesConfig:
    hit_rate_ratio: float = 2.0
    min_hits: int = 20


@dataclass(frozen=True)
class PerformanceConfig:
    horizon_days: int = 90
    alerts_per_grid_per_week: float = 0.5


@dataclass(frozen=True)
class MonitorConfig:
    drift: DriftConfig = field(default_factory=DriftConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    performance: PerformanceConfig = field(default_factory=PerformanceConfig)


def _build(cls, data: dict, where: str):
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise MonitorConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(known)}")
    kwargs = {}
    for name, value in data.items():
        if isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def load_monitor_config(path: str | Path | None = None) -> MonitorConfig:
    if path is None:
        text = resources.files("monitoring").joinpath("config/default.yaml").read_text(encoding="utf-8")
        where = "monitoring/config/default.yaml"
    else:
        p = Path(path)
        if not p.exists():
            raise MonitorConfigError(f"{p}: 监控配置文件不存在 / monitoring config not found")
        text, where = p.read_text(encoding="utf-8"), str(p)
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise MonitorConfigError(f"{where}: not valid YAML: {exc}") from None
    sections = {"drift": DriftConfig, "quality": QualityConfig, "rules": RulesConfig, "performance": PerformanceConfig}
    unknown = set(raw) - set(sections)
    if unknown:
        raise MonitorConfigError(f"{where}: unknown section(s) {sorted(unknown)}; allowed: {sorted(sections)}")
    return MonitorConfig(**{k: _build(cls, raw.get(k) or {}, f"{where}:{k}") for k, cls in sections.items()})
