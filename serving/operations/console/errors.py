"""Errors of the review console.

Hierarchy (``http_status`` in brackets)::

    ConsoleError [500]
    ├── ConsoleConfigError [500]     a console setting is missing or wrong (start-up)
    ├── BadFilter [422]              a queue filter value that is not allowed
    └── ReportNotFound [404]         no such report file (or a path outside the reports folder)

The console also maps by type the errors of the packages it calls: ``serving.operations.auth`` (401/403/404/
409/422/429), ``serving.operations.alerts`` (404/409/422/503) and ``serving.operations.audit`` (500/503).
"""

from __future__ import annotations

__all__ = ["ConsoleError", "ConsoleConfigError", "BadFilter", "ReportNotFound"]


class ConsoleError(Exception):
    http_status = 500
    code = "console_error"


class ConsoleConfigError(ConsoleError, ValueError):
    http_status = 500
    code = "console_config_error"


class BadFilter(ConsoleError, ValueError):
    http_status = 422
    code = "bad_filter"


class ReportNotFound(ConsoleError, LookupError):
    http_status = 404
    code = "report_not_found"
