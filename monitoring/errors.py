"""Errors raised by the monitoring package.

Hierarchy::

    MonitoringError            base
    ├── MonitorConfigError     a bad threshold file or window (HTTP 400)
    └── MonitorDataError       not enough data in a window to judge (HTTP 422)
"""

from __future__ import annotations

__all__ = ["MonitoringError", "MonitorConfigError", "MonitorDataError"]


class MonitoringError(Exception):
    http_status = 500


class MonitorConfigError(MonitoringError, ValueError):
    http_status = 400


class MonitorDataError(MonitoringError):
    http_status = 422
