"""未萌 Weimeng training: snapshot training sets, calibrated LightGBM, honest evaluation, fairness audit,
model card, MLflow tracking and registry with a promotion gate.

Public API (heavy libraries load on first use, so ``import training`` stays cheap)::

    from training import train, train_from_table, load_registered_model, promote, rollback, list_versions
    result = train("weimeng-data/world")               # registers a new version, alias 'challenger'
    promote()                                           # gate: at least as good as 'champion', fair
    model = load_registered_model("champion")          # .predict_proba, .booster, .calibrator, ...
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from training.errors import (
    IncompatibleModelError,
    PromotionRefused,
    ProtectedFeatureError,
    RegistryError,
    TrainingConfigError,
    TrainingDataError,
    TrainingError,
)

__all__ = [
    "train",
    "train_from_table",
    "load_registered_model",
    "promote",
    "rollback",
    "list_versions",
    "load_config",
    "TrainConfig",
    "EscalationModel",
    "TrainResult",
    "GateReport",
    "MODEL_NAME",
    "TrainingError",
    "TrainingConfigError",
    "ProtectedFeatureError",
    "TrainingDataError",
    "RegistryError",
    "IncompatibleModelError",
    "PromotionRefused",
]

_LAZY = {
    "train": "training.pipeline", "TrainResult": "training.pipeline",
    "train_from_table": "training.byod",
    "load_registered_model": "training.registry", "list_versions": "training.registry",
    "MODEL_NAME": "training.registry",
    "promote": "training.promotion", "rollback": "training.promotion", "GateReport": "training.promotion",
    "load_config": "training.config", "TrainConfig": "training.config",
    "EscalationModel": "training.model",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'training' has no attribute {name!r}")


if TYPE_CHECKING:  # pragma: no cover
    from training.byod import train_from_table
    from training.config import TrainConfig, load_config
    from training.model import EscalationModel
    from training.pipeline import TrainResult, train
    from training.promotion import GateReport, promote, rollback
    from training.registry import MODEL_NAME, list_versions, load_registered_model
