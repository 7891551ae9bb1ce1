"""Errors of console accounts and sessions.

Hierarchy (the kind from :mod:`common.errors` in brackets; it sets the HTTP status)::

    AuthError [internal]
    ├── InvalidAccount [bad input]       a username, role or jurisdiction that cannot be accepted
    ├── DuplicateUser [conflict]
    ├── UserNotFound [not found]
    ├── LoginFailed [unauthenticated]    wrong username or password (one message for both: no user probing)
    │   └── AccountLocked [too many requests]  too many failed attempts; try again later
    ├── SessionExpired [unauthenticated] no session, an expired, idle or revoked one: log in again
    ├── CsrfFailed [forbidden]           a form or API call without the session's CSRF token
    ├── Forbidden [forbidden]            the role may not do this
    └── OutOfScope [not found]           the case is outside the user's jurisdiction (reported as not found)

``code`` is a finer, stable machine name kept for audit entries (e.g. a failed login's reason).
"""

from __future__ import annotations

from typing import ClassVar

from common import errors as _common

__all__ = ["AuthError", "InvalidAccount", "DuplicateUser", "UserNotFound", "LoginFailed", "AccountLocked",
           "SessionExpired", "CsrfFailed", "Forbidden", "OutOfScope"]


class AuthError(_common.WeimengError):
    code: ClassVar[str] = "auth_error"


class InvalidAccount(AuthError, _common.BadInput):
    code = "invalid_account"


class DuplicateUser(AuthError, _common.Conflict):
    code = "duplicate_user"


class UserNotFound(AuthError, _common.NotFound):
    code = "user_not_found"


class LoginFailed(AuthError, _common.Unauthenticated):
    code = "login_failed"


class AccountLocked(LoginFailed, _common.TooManyRequests):
    kind = _common.ErrorKind.TOO_MANY_REQUESTS  # still a LoginFailed for callers, 429 by kind
    code = "account_locked"


class SessionExpired(AuthError, _common.Unauthenticated):
    code = "session_expired"


class CsrfFailed(AuthError, _common.Forbidden):
    code = "csrf_failed"


class Forbidden(AuthError, _common.Forbidden):
    code = "forbidden"


class OutOfScope(AuthError, _common.NotFound):
    code = "not_found"
