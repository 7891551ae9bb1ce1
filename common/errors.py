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
    "TooManyRequests",
    "HTTP_STATUS",
    "EXIT_CODES",
    "error_body",
    "error_response",
    "kind_for_status",
    "validation_body",
]


class ErrorKind(StrEnum):
    BAD_INPUT = "bad_input"
    NOT_FOUND = "not_found"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    NOT_READY = "not_ready"
    CONFIGURATION = "configuration"
    TOO_MANY_REQUESTS = "too_many_requests"
    INTERNAL = "internal"


HTTP_STATUS: dict[ErrorKind, int] = {
    ErrorKind.BAD_INPUT: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.CONFLICT: 409,
    ErrorKind.NOT_READY: 503,
    ErrorKind.CONFIGURATION: 500,
    ErrorKind.TOO_MANY_REQUESTS: 429,
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
    ErrorKind.TOO_MANY_REQUESTS: 1,
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


class TooManyRequests(WeimengError):
    """Too many attempts in a short time (e.g. failed logins): wait, then try again."""

    kind = ErrorKind.TOO_MANY_REQUESTS


def error_body(kind: ErrorKind | str, message: str, *, field: str | None = None) -> dict[str, Any]:
    """The one JSON error shape of every HTTP surface: ``{"error": {"kind", "message", "field"}}``."""
    err: dict[str, Any] = {"kind": str(ErrorKind(kind)), "message": message}
    if field is not None:
        err["field"] = field
    return {"error": err}


#: The message of an unexpected exception: it names the type only, never internals.
INTERNAL_MESSAGE = "内部错误 / internal error ({name}); see the log."


def error_response(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """``(http_status, body)`` for any exception, for any HTTP framework.

    A :class:`WeimengError` answers with its kind's status and its own message; anything else is a
    bug: 500 and a message that names the exception type only (log the traceback yourself).
    """
    if isinstance(exc, WeimengError):
        return exc.http_status, exc.body()
    message = INTERNAL_MESSAGE.format(name=type(exc).__name__)
    return HTTP_STATUS[ErrorKind.INTERNAL], error_body(ErrorKind.INTERNAL, message)


def kind_for_status(status: int) -> ErrorKind:
    """The kind a bare HTTP status stands for (framework errors such as an unknown route or method)."""
    for kind, code in HTTP_STATUS.items():
        if code == status and kind is not ErrorKind.CONFIGURATION:
            return kind
    return ErrorKind.BAD_INPUT if 400 <= status < 500 else ErrorKind.INTERNAL


_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def _field_path(loc: Any) -> str | None:
    """``("body", "items", 0, "kind")`` -> ``"items[0].kind"``; a leading location word is left out."""
    parts = list(loc or ())
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or None


def validation_body(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The error body for request validation errors (pydantic's ``errors()`` list: ``loc``, ``msg``).

    Kind ``bad_input``; ``field`` names the first offending value (``items[0].kind``), the message says
    what was wrong with it and how many more problems there are.
    """
    if not errors:
        return error_body(ErrorKind.BAD_INPUT, "请求格式无效 / the request is malformed.")
    first = errors[0]
    field = _field_path(first.get("loc"))
    msg = str(first.get("msg") or "invalid value")
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    where = f"{field}: " if field else ""
    return error_body(ErrorKind.BAD_INPUT, f"请求格式无效 / invalid request: {where}{msg}{more}", field=field)
