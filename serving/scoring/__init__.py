"""Scoring: the BentoML service, rule + model fusion, explanations, service accounts, batch run.

One module per job::

    settings.py    ServingSettings: the service's typed settings (YAML + overrides, unknown keys rejected)
    errors.py      the error hierarchy, each with its HTTP status
    fusion.py      the fusion policy (serving/scoring/config/fusion.yaml): thresholds, levels, categories
    explain.py     rule hits + TreeSHAP factors + actions -> Explanation, in Chinese
    scorer.py      Bundle (model + rules + policy + thresholds) and Scorer (atomic swap on reload)
    datasource.py  FeatureSource: the EventStore and its per-date feature cache
    overlay.py     features just after a new incident (event path)
    auth.py        API keys hashed with scrypt, jurisdiction scopes
    metrics.py     Prometheus metrics
    app.py         ScoringApp: every endpoint without HTTP (used by the service, the CLI and tests)
    service.py     the @bentoml.service class WeimengScoring
    batch.py       the periodic batch run (`weimeng score`)

>>> from serving.scoring import load_policy
>>> load_policy().mode
'capacity'
"""

from __future__ import annotations

from importlib import import_module

from serving.scoring.errors import (
    AdminRequiredError,
    AuthenticationError,
    ModelMismatchError,
    NotReadyError,
    ScopeError,
    ScoringError,
    ScoringInputError,
    ServingConfigError,
    UnknownPersonError,
)

__all__ = [
    "ScoringApp",
    "AlertSink",
    "ServingSettings",
    "Scorer",
    "Bundle",
    "FusionPolicy",
    "Thresholds",
    "load_policy",
    "fuse",
    "thresholds_for",
    "KeyStore",
    "Account",
    "score_population",
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

_LAZY = {
    "ScoringApp": "serving.scoring.app", "AlertSink": "serving.scoring.app",
    "ServingSettings": "serving.scoring.settings",
    "Scorer": "serving.scoring.scorer", "Bundle": "serving.scoring.scorer",
    "FusionPolicy": "serving.scoring.fusion", "Thresholds": "serving.scoring.fusion",
    "load_policy": "serving.scoring.fusion", "fuse": "serving.scoring.fusion",
    "thresholds_for": "serving.scoring.fusion",
    "KeyStore": "serving.scoring.auth", "Account": "serving.scoring.auth",
    "score_population": "serving.scoring.batch",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'serving.scoring' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
