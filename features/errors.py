"""Errors raised by the features package.

Hierarchy::

    FeaturesError                 base of everything raised here
    ├── ContractError             a whole input file is unusable (wrong columns, unreadable, wrong kind)
    ├── UnknownFeatureError       a feature name that is not in the catalog
    └── SimulationConfigError     simulate() was asked for something it cannot build

A bad *row* is never an exception: it is quarantined with a reason (see ``features.contracts``).
Each error carries ``http_status`` so a service can map it without string matching.
"""

from __future__ import annotations

__all__ = ["FeaturesError", "ContractError", "UnknownFeatureError", "SimulationConfigError"]


class FeaturesError(Exception):
    http_status = 500


class ContractError(FeaturesError):
    """A whole file does not meet its data contract (one clear message, never a traceback)."""

    http_status = 422


class UnknownFeatureError(FeaturesError, KeyError):
    http_status = 422

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class SimulationConfigError(FeaturesError, ValueError):
    http_status = 400
