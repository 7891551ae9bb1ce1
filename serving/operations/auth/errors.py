"""Errors of console accounts and sessions.

Hierarchy (``http_status`` in brackets)::

    AuthError [500]
    ├── InvalidAccount [422]         a username, role or jurisdiction that cannot be accepted
    ├── DuplicateUser [409]
    ├── UserNotFound [404]
    ├── LoginFailed [401]            wrong username or password (one message for both: no user probing)
    │   └── AccountLocked [429]      too many failed attempts; try again later
    ├── SessionExpired [401]         no session, an expired, idle or revoked one: log in again
    ├── CsrfFailed [403]             a form or API call without the session's CSRF token
    ├── Forbidden [403]              the role may not do this
    └── OutOfScope [404]             the case is outside the user's jurisdiction (reported as not found)
"""

from __future__ import annotations

__all__ = ["AuthError", "InvalidAccount", "DuplicateUser", "UserNotFound", "LoginFailed", "AccountLocked",
           "SessionExpired", "CsrfFailed", "Forbidden", "OutOfScope"]


class AuthError(Exception):
    http_status = 500
    code = "auth_error"


class InvalidAccount(AuthError, ValueError):
    http_status = 422
    code = "invalid_account"


class DuplicateUser(AuthError):
    http_status = 409
    code = "duplicate_user"


class UserNotFound(AuthError, LookupError):
    http_status = 404
    code = "user_not_found"


class LoginFailed(AuthError):
    http_status = 401
    code = "login_failed"


class AccountLocked(LoginFailed):
    http_status = 429
    code = "account_locked"


class SessionExpired(AuthError):
    http_status = 401
    code = "session_expired"


class CsrfFailed(AuthError):
    http_status = 403
    code = "csrf_failed"


class Forbidden(AuthError):
    http_status = 403
    code = "forbidden"


class OutOfScope(AuthError, LookupError):
    http_status = 404
    code = "not_found"
