"""Errors raised by the training package.

Hierarchy::

    TrainingError                  base of everything raised here (500)
    ├── TrainingConfigError        a config or BYOD spec is invalid: unknown key, bad value (400)
    │   └── ProtectedFeatureError  a protected attribute was asked for as a model feature (400)
    ├── TrainingDataError          the data cannot make an honest training set: too few snapshots,
    │                              no positives in a split, missing columns (422)
    ├── RegistryError              MLflow registry trouble: no such model, alias or version (404)
    │   └── IncompatibleModelError a model cannot score the frame or window it was given (409)
    └── PromotionRefused           the promotion gate said no; carries the gate report (409)

Each error carries ``http_status`` so a service (or the CLI, which exits with code 2) can map it by
type, never by message. Messages say what was given, what was allowed, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "TrainingError",
    "TrainingConfigError",
    "ProtectedFeatureError",
    "TrainingDataError",
    "RegistryError",
    "IncompatibleModelError",
    "PromotionRefused",
]


class TrainingError(Exception):
    http_status = 500


class TrainingConfigError(TrainingError, ValueError):
    http_status = 400


class ProtectedFeatureError(TrainingConfigError):
    """A protected attribute (``features.catalog.PROTECTED_ATTRIBUTES`` or a spec's never-feature
    column) was requested as a model feature. Protected attributes audit fairness; they never score."""

    http_status = 400


class TrainingDataError(TrainingError):
    http_status = 422


class RegistryError(TrainingError):
    http_status = 404


class IncompatibleModelError(RegistryError):
    http_status = 409


class PromotionRefused(TrainingError):
    """The challenger did not pass the gate. ``report`` holds the comparison that said no."""

    http_status = 409

    def __init__(self, message: str, report: dict | None = None):
        super().__init__(message)
        self.report = report or {}
