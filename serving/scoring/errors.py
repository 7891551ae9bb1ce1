"""Errors raised by the scoring service.

Hierarchy (the kind from :mod:`common.errors` in brackets; it sets the HTTP status)::

    ScoringError                  base of everything raised here [internal]
    ├── ScoringInputError         a request field is malformed or out of range; names the field and
    │                             the reason [bad input]
    ├── AuthenticationError       no API key, or a key that is unknown or revoked [unauthenticated]
    ├── ScopeError                the key's jurisdictions do not cover the person [forbidden]
    ├── AdminRequiredError        the endpoint needs an admin key [forbidden]
    ├── UnknownPersonError        the person id is not in the data the service was started on [not found]
    ├── NotReadyError             no model or rule set is loaded yet, or the data has no rows for the
    │                             asked time [not ready: retry later]
    ├── ServingConfigError        the serving or fusion configuration is invalid; raised at start-up
    │                             [configuration]
    └── ModelMismatchError        the registered model needs features the catalog cannot supply, or
                                  its catalog version differs [conflict]

Each error has a kind and, where it concerns one input, ``field``; the API answers with
``common.errors.error_body``: ``{"error": {"kind", "message", "field"}}``. ``code`` is a finer, stable
name kept for the refusal audit log and metrics labels only (e.g. ``out_of_scope``, ``admin_required``).
"""

from __future__ import annotations

from typing import ClassVar

from common.errors import (
    BadInput,
    ConfigurationError,
    Conflict,
    Forbidden,
    NotFound,
    NotReady,
    Unauthenticated,
    WeimengError,
)

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


class ScoringError(WeimengError):
    """Base class. ``reason`` is the message without the field; ``str()`` puts the field in front."""

    code: ClassVar[str] = "internal_error"

    def __init__(self, reason: str, *, field: str | None = None):
        super().__init__(reason, field=field)

    @property
    def reason(self) -> str:
        return self.message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class ScoringInputError(ScoringError, BadInput):
    code = "invalid_input"


class AuthenticationError(ScoringError, Unauthenticated):
    code = "unauthenticated"


class ScopeError(ScoringError, Forbidden):
    code = "out_of_scope"


class AdminRequiredError(ScoringError, Forbidden):
    code = "admin_required"


class UnknownPersonError(ScoringError, NotFound):
    code = "unknown_person"


class NotReadyError(ScoringError, NotReady):
    code = "not_ready"


class ServingConfigError(ScoringError, ConfigurationError):
    code = "config_error"


class ModelMismatchError(ScoringError, Conflict):
    code = "model_mismatch"
