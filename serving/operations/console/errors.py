"""Errors of the review console.

Hierarchy (the kind from :mod:`common.errors` in brackets; it sets the HTTP status)::

    ConsoleError [internal]
    ├── ConsoleConfigError [configuration]  a console setting is missing or wrong (start-up)
    ├── BadFilter [bad input]               a queue filter value that is not allowed
    ├── ReportNotFound [not found]          no such report file (or a path outside the reports folder)
    └── ModelVersionNotFound [not found]    no such registered model version (the model page)

The console also answers, by kind, the errors of the packages it calls: ``serving.operations.auth``,
``serving.operations.alerts`` and ``serving.operations.audit`` (see ``serving.operations.http_errors``).
"""

from __future__ import annotations

from typing import ClassVar

from common import errors as _common

__all__ = ["ConsoleError", "ConsoleConfigError", "BadFilter", "ReportNotFound", "ModelVersionNotFound"]


class ConsoleError(_common.WeimengError):
    code: ClassVar[str] = "console_error"


class ConsoleConfigError(ConsoleError, _common.ConfigurationError):
    code = "console_config_error"


class BadFilter(ConsoleError, _common.BadInput):
    code = "bad_filter"


class ReportNotFound(ConsoleError, _common.NotFound):
    code = "report_not_found"


class ModelVersionNotFound(ConsoleError, _common.NotFound):
    code = "model_version_not_found"
