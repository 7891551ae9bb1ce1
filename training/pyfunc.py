"""The MLflow pyfunc flavour of :class:`~training.model.EscalationModel`.

The registered artifact carries ``booster.txt``, ``calibrator.pkl`` and ``metadata.json`` (feature
list, catalog and rule-set versions, horizon, operating threshold, test window, metrics). Any MLflow
client can score with it (``mlflow.pyfunc.load_model("models:/weimeng-escalation@champion")``);
Weimeng's own code uses :func:`training.load_registered_model`, which unwraps the same object.
"""

from __future__ import annotations

import pandas as pd
from mlflow.pyfunc import PythonModel

from training.model import EscalationModel

__all__ = ["EscalationPyfunc"]

class EscalationPyfunc(PythonModel):
    """predict(frame) -> DataFrame(probability, flag): calibrated risk and the operating-threshold flag."""

    def load_context(self, context) -> None:
        self.model = EscalationModel.load(context.artifacts)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        p = self.model.predict_risk(frame)
        thr = float(self.model.metadata.get("operating_threshold", 1.0))
        return pd.DataFrame({"probability": p, "flag": p >= thr}, index=frame.index)
