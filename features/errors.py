"""Errors raised by the features package.

Hierarchy (the kind from :mod:`common.errors` in brackets; it sets the HTTP status and the CLI exit code)::

    FeaturesError                 base of everything raised here [internal]
    ├── ContractError             a whole input file is unusable (wrong columns, unreadable, wrong kind) [bad input]
    ├── UnknownFeatureError       a feature name that is not in the catalog [bad input; also a KeyError]
    ├── SimulationConfigError     simulate() was asked for something it cannot build [bad input]
    └── EngineError               a feature engine (Spark) cannot run the feature SQL [configuration]

A bad *row* is never an exception: it is quarantined with a reason (see ``features.contracts``).
"""

from __future__ import annotations

from common.errors import BadInput, ConfigurationError, WeimengError

__all__ = ["FeaturesError", "ContractError", "UnknownFeatureError", "SimulationConfigError", "EngineError"]


class FeaturesError(WeimengError):
    pass


class ContractError(FeaturesError, BadInput):
    """A whole file does not meet its data contract (one clear message, never a traceback)."""


class UnknownFeatureError(FeaturesError, BadInput, KeyError):
    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class SimulationConfigError(FeaturesError, BadInput):
    pass


class EngineError(FeaturesError, ConfigurationError):
    """A feature engine cannot run the feature SQL: it does not transpile, or the engine or its data
    cannot be reached (``features.spark``)."""
