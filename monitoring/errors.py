"""Errors raised by the monitoring package.

Hierarchy (the kind from :mod:`common.errors` in brackets; it sets the HTTP status and the CLI exit code)::

    MonitoringError            base [internal]
    ├── MonitorConfigError     a bad threshold file or window [bad input]
    └── MonitorDataError       not enough data in a window to judge [bad input]
"""

from __future__ import annotations

from common.errors import BadInput, WeimengError

__all__ = ["MonitoringError", "MonitorConfigError", "MonitorDataError"]


class MonitoringError(WeimengError):
    pass


class MonitorConfigError(MonitoringError, BadInput):
    pass


class MonitorDataError(MonitoringError, BadInput):
    pass
