"""The MLflow pyfunc flavour of :class:`~training.model.EscalationModel`.

The registered artifact carries ``booster.txt``, ``calibrator.pkl`` and ``metadata.json`` (feature
list, catalog and rule-set versions, horizon, operating threshold, test window, metrics). Any MLflow
client can score with it (``mlflow.pyfunc.load_model("models:/weimeng-escalation@champion")``);
Weimeng's own code uses :func:`training.load_registered_model`, which unwraps the same object.

Feature columns of a user's own table are often integers or booleans; :meth:`EscalationPyfunc.predict`
casts them to float (:func:`cast_features`), and :func:`input_signature` declares the feature columns
with MLflow's any-type so MLflow's own schema check does not refuse an ``int64`` column before the cast.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from training.errors import TrainingDataError
from training.model import EscalationModel

__all__ = ["EscalationPyfunc", "cast_features", "input_signature"]


def cast_features(frame: pd.DataFrame, feature_names: Sequence[str]) -> pd.DataFrame:
    """A copy with every feature column as float64: integers, booleans and numeric text are cast."""
    out = frame.copy()
    for f in feature_names:
        if f not in out:
            continue
        col = out[f]
        if pd.api.types.is_float_dtype(col) and col.dtype == np.float64:
            continue
        if pd.api.types.is_bool_dtype(col) or col.dtype == object and col.dropna().map(type).eq(bool).all():
            col = col.astype("float64")
        num = pd.to_numeric(col, errors="coerce")
        if (num.isna() & col.notna()).any():
            raise TrainingDataError(f"特征须为数值 / feature {f!r} has non-numeric values (e.g. "
                                    f"{col[num.isna() & col.notna()].head(3).tolist()}).")
        out[f] = num.astype("float64")
    return out


def input_signature(feature_names: Sequence[str]):
    """A model signature whose feature columns accept any numeric type (cast by ``predict``)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    inputs = Schema([ColSpec(AnyType(), name=str(f)) for f in feature_names])
    outputs = Schema([ColSpec("double", name="probability"), ColSpec("boolean", name="flag")])
    return ModelSignature(inputs=inputs, outputs=outputs)


class EscalationPyfunc(PythonModel):
    """predict(frame) -> DataFrame(probability, flag): calibrated risk and the operating-threshold flag."""

    def load_context(self, context) -> None:
        self.model = EscalationModel.load(context.artifacts)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        frame = cast_features(frame, self.model.feature_names)
        p = self.model.predict_risk(frame)
        thr = float(self.model.metadata.get("operating_threshold", 1.0))
        return pd.DataFrame({"probability": p, "flag": p >= thr}, index=frame.index)
