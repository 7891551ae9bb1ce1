"""One error root. Each kind maps once to an HTTP status, a JSON error body and a CLI exit code.

Every package's own exceptions derive from :class:`WeimengError` and one kind, so the scoring API,
the console, the inbox and the CLI turn any of them into the same answer:

>>> err = BadInput("日期无效 / 'x' is not a date", field="as_of")
>>> err.http_status, err.exit_code, err.body()["error"]["kind"]
(422, 2, 'bad_input')
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

__all__ = [
    "ErrorKind",
    "WeimengError",
    "BadInput",
    "NotFound",
    "Unauthenticated",
    "Forbidden",
    "Conflict",
    "NotReady",
    "ConfigurationError",
    "HTTP_STATUS",
    "EXIT_CODES",
    "error_body",
]


class ErrorKind(StrEnum):
    BAD_INPUT = "bad_input"
    NOT_FOUND = "not_found"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    NOT_READY = "not_ready"
    CONFIGURATION = "configuration"
    INTERNAL = "internal"


HTTP_STATUS: dict[ErrorKind, int] = {
    ErrorKind.BAD_INPUT: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.CONFLICT: 409,
    ErrorKind.NOT_READY: 503,
    ErrorKind.CONFIGURATION: 500,
    ErrorKind.INTERNAL: 500,
}

#: CLI exit codes: 2 for anything the user can fix by changing the call or the files, 1 otherwise.
EXIT_CODES: dict[ErrorKind, int] = {
    ErrorKind.BAD_INPUT: 2,
    ErrorKind.NOT_FOUND: 2,
    ErrorKind.UNAUTHENTICATED: 2,
    ErrorKind.FORBIDDEN: 2,
    ErrorKind.CONFLICT: 2,
    ErrorKind.NOT_READY: 1,
    ErrorKind.CONFIGURATION: 2,
    ErrorKind.INTERNAL: 1,
}


class WeimengError(Exception):
    """The root of every error of ours. ``message`` is written for the person who must act on it
    (Chinese first where a reviewer, cadre or operator reads it); ``field`` names the input at fault."""

    kind: ClassVar[ErrorKind] = ErrorKind.INTERNAL

    def __init__(self, message: str = "", *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.kind]

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.kind]

    def body(self) -> dict[str, Any]:
        return error_body(self.kind, self.message, field=self.field)


class BadInput(WeimengError, ValueError):
    kind = ErrorKind.BAD_INPUT


class NotFound(WeimengError, LookupError):
    kind = ErrorKind.NOT_FOUND


class Unauthenticated(WeimengError):
    kind = ErrorKind.UNAUTHENTICATED


class Forbidden(WeimengError):
    kind = ErrorKind.FORBIDDEN


class Conflict(WeimengError):
    kind = ErrorKind.CONFLICT


class NotReady(WeimengError):
    kind = ErrorKind.NOT_READY


class ConfigurationError(WeimengError, ValueError):
    kind = ErrorKind.CONFIGURATION


def error_body(kind: ErrorKind | str, message: str, *, field: str | None = None) -> dict[str, Any]:
    """The one JSON error shape of every HTTP surface: ``{"error": {"kind", "message", "field"}}``."""
    err: dict[str, Any] = {"kind": str(ErrorKind(kind)), "message": message}
    if field is not None:
        err["field"] = field
    return {"error": err}
