"""Monitoring: drift and data quality (Evidently), rule hit rates, matured-window model quality,
fairness over time, the alert funnel and leadership reports.

>>> from monitoring import run_monitor   # doctest: +SKIP
"""

from __future__ import annotations

from monitoring.errors import MonitorConfigError, MonitoringError

__all__ = ["run_monitor", "MonitorConfig", "load_monitor_config", "MonitoringError", "MonitorConfigError"]


def __getattr__(name: str):
    if name == "run_monitor":
        from monitoring.run import run_monitor

        return run_monitor
    if name in ("MonitorConfig", "load_monitor_config"):
        from monitoring import config

        return getattr(config, name)
    raise AttributeError(name)
