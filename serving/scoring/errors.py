"""Errors raised by the scoring service.

Hierarchy::

    ScoringError                  base of everything raised here (http 500)
    ├── ScoringInputError         a request field is malformed or out of range; names the field and
    │                             the reason (http 422)
    ├── AuthenticationError       no API key, or a key that is unknown or revoked (http 401)
    ├── ScopeError                the key's jurisdictions do not cover the person (http 403)
    ├── AdminRequiredError        the endpoint needs an admin key (http 403)
    ├── UnknownPersonError        the person id is not in the data the service was started on (http 404)
    ├── NotReadyError             no model or rule set is loaded yet, or the data has no rows for the
    │                             asked time (http 503: retry later)
    ├── ServingConfigError        the serving or fusion configuration is invalid; raised at start-up
    │                             (http 500)
    └── ModelMismatchError        the registered model needs features the catalog cannot supply, or
                                  its catalog version differs (http 409)

Each error carries ``http_status`` and, where it concerns one input, ``field``, so the API maps errors
by type and reports ``{"error": {"code", "field", "reason"}}`` without string matching.
"""

from __future__ import annotations

__all__ = [
    "ScoringError",
    "ScoringInputError",
    "AuthenticationError",
    "ScopeError",
    "AdminRequiredError",
    "UnknownPersonError",
    "NotReadyError",
    "ServingConfigError",
    "ModelMismatchError",
]


class ScoringError(Exception):
    """Base class. ``code`` is a stable machine name; ``field`` names the input concerned, if any."""

    http_status = 500
    code = "internal_error"

    def __init__(self, reason: str, *, field: str | None = None):
        self.reason = reason
        self.field = field
        super().__init__(f"{field}: {reason}" if field else reason)

    def to_body(self) -> dict:
        body = {"code": self.code, "reason": self.reason}
        if self.field is not None:
            body["field"] = self.field
        return {"error": body}


class ScoringInputError(ScoringError, ValueError):
    http_status = 422
    code = "invalid_input"


class AuthenticationError(ScoringError):
    http_status = 401
    code = "unauthenticated"


class ScopeError(ScoringError):
    http_status = 403
    code = "out_of_scope"


class AdminRequiredError(ScoringError):
    http_status = 403
    code = "admin_required"


class UnknownPersonError(ScoringError, LookupError):
    http_status = 404
    code = "unknown_person"


class NotReadyError(ScoringError):
    http_status = 503
    code = "not_ready"


class ServingConfigError(ScoringError, ValueError):
    http_status = 500
    code = "config_error"


class ModelMismatchError(ScoringError):
    http_status = 409
    code = "model_mismatch"
