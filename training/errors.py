"""Errors raised by the training package.

Hierarchy (the kind from :mod:`common.errors` in brackets; it sets the HTTP status and the CLI exit code)::

    TrainingError                  base of everything raised here [internal]
    ├── TrainingConfigError        a config or BYOD spec is invalid: unknown key, bad value [bad input]
    │   └── ProtectedFeatureError  a protected attribute was asked for as a model feature [bad input]
    ├── TrainingDataError          the data cannot make an honest training set: too few snapshots,
    │                              no positives in a split, missing columns [bad input]
    ├── RegistryError              MLflow registry trouble: no such model, alias or version [not found]
    │   └── IncompatibleModelError a model cannot score the frame or window it was given [conflict]
    └── PromotionRefused           the promotion gate said no; carries the gate report [conflict]

Callers map these by kind, never by message. Messages say what was given, what was allowed, and how to fix it.
"""

from __future__ import annotations

from common.errors import BadInput, Conflict, ErrorKind, NotFound, WeimengError

__all__ = [
    "TrainingError",
    "TrainingConfigError",
    "ProtectedFeatureError",
    "TrainingDataError",
    "RegistryError",
    "IncompatibleModelError",
    "PromotionRefused",
]


class TrainingError(WeimengError):
    pass


class TrainingConfigError(TrainingError, BadInput):
    pass


class ProtectedFeatureError(TrainingConfigError):
    """A protected attribute (``features.catalog.PROTECTED_ATTRIBUTES`` or a spec's never-feature
    column) was requested as a model feature. Protected attributes audit fairness; they never score."""


class TrainingDataError(TrainingError, BadInput):
    pass


class RegistryError(TrainingError, NotFound):
    pass


class IncompatibleModelError(RegistryError, Conflict):
    kind = ErrorKind.CONFLICT  # a RegistryError (not found) by family, a conflict by kind


class PromotionRefused(TrainingError, Conflict):
    """The challenger did not pass the gate. ``report`` holds the comparison that said no."""

    def __init__(self, message: str, report: dict | None = None):
        super().__init__(message)
        self.report = report or {}
