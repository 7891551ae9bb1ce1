"""The fitted model as serving sees it: booster + calibrator + feature list + metadata.

:class:`EscalationModel` is what :func:`training.load_registered_model` returns and what the MLflow
pyfunc wraps. Serving never refits anything: the calibrator and the operating threshold were fitted
and chosen at training time and travel with the booster.

>>> # m = training.load_registered_model("champion")
>>> # m.predict_proba(frame)[:, 1]   # calibrated P(escalation within the horizon), sklearn layout
>>> # m.predict_risk(frame)          # the same as a 1-D array
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.calibration import Calibrator
from training.errors import IncompatibleModelError
from training.guard import check_feature_names

__all__ = ["EscalationModel"]


class EscalationModel:
    """A calibrated LightGBM escalation model.

    Attributes: ``booster`` (lightgbm.Booster), ``calibrator`` (:class:`Calibrator`), ``feature_names``
    (list, the booster's column order), ``metadata`` (dict: catalog and rule-set versions, horizon,
    operating threshold, test window, metrics, ...).
    """

    def __init__(self, booster, calibrator: Calibrator, feature_names: list[str], metadata: dict | None = None):
        self.booster = booster
        self.calibrator = calibrator
        self.feature_names = list(feature_names)
        self.metadata = dict(metadata or {})
        check_feature_names(self.feature_names, self.metadata.get("never_features", ()))

    # -- scoring ---------------------------------------------------------------------------------
    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [f for f in self.feature_names if f not in frame.columns]
        if missing:
            raise IncompatibleModelError(
                f"输入缺少模型特征 / the frame lacks {len(missing)} feature(s) the model needs: {missing[:10]}"
                f"{' ...' if len(missing) > 10 else ''}. The model expects catalog "
                f"{self.metadata.get('catalog_version')!r} features {self.feature_names[:5]}...; compute "
                f"features with the same catalog version.")
        return frame[self.feature_names].to_numpy(dtype=np.float64, na_value=np.nan)

    def raw_margin(self, frame: pd.DataFrame) -> np.ndarray:
        """The booster's raw score (log-odds before calibration)."""
        X = self._matrix(frame)
        # Small batches (the online path) on one thread: OpenMP start-up costs more than it saves and
        # suffers badly on a busy machine.
        return self.booster.predict(X, raw_score=True, **({"num_threads": 1} if len(X) < 1000 else {}))

    def predict_risk(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of an escalation outcome within the horizon, one per row."""
        if len(frame) == 0:
            return np.zeros(0)
        return self.calibrator.predict(self.raw_margin(frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """scikit-learn layout: shape (n, 2); column 1 is the calibrated P(escalation)."""
        p = self.predict_risk(frame)
        return np.column_stack([1.0 - p, p])

    def flag(self, frame: pd.DataFrame) -> np.ndarray:
        """True where the calibrated risk reaches the operating threshold chosen at training time."""
        return self.predict_risk(frame) >= float(self.metadata["operating_threshold"])

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """TreeSHAP contributions in log-odds (columns: features + ``expected_value``). Costly: only for
        rows that need an explanation."""
        c = self.booster.predict(self._matrix(frame), pred_contrib=True)
        return pd.DataFrame(c, columns=[*self.feature_names, "expected_value"], index=frame.index)

    def feature_importance(self, kind: str = "gain") -> pd.Series:
        imp = self.booster.feature_importance(importance_type=kind)
        return pd.Series(imp, index=self.booster.feature_name(), name=kind).sort_values(ascending=False)

    # -- persistence -----------------------------------------------------------------------------
    def save(self, directory: str | Path) -> dict[str, str]:
        """Write ``booster.txt``, ``calibrator.pkl`` and ``metadata.json``; return name -> path."""
        import pickle

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        paths = {"booster": d / "booster.txt", "calibrator": d / "calibrator.pkl", "metadata": d / "metadata.json"}
        self.booster.save_model(str(paths["booster"]))
        with open(paths["calibrator"], "wb") as fh:
            pickle.dump(self.calibrator, fh)
        meta = {**self.metadata, "feature_names": self.feature_names}
        paths["metadata"].write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        return {k: str(v) for k, v in paths.items()}

    @classmethod
    def load(cls, paths: dict[str, Any]) -> EscalationModel:
        import pickle

        import lightgbm as lgb

        booster = lgb.Booster(model_file=str(paths["booster"]))
        with open(paths["calibrator"], "rb") as fh:
            calibrator = pickle.load(fh)
        meta = json.loads(Path(paths["metadata"]).read_text(encoding="utf-8"))
        names = meta.pop("feature_names")
        if list(booster.feature_name()) != list(names):
            raise IncompatibleModelError(
                f"模型文件不一致 / booster features {booster.feature_name()[:5]}... differ from metadata "
                f"features {names[:5]}...: the artifact was edited or mixed up. Re-register the model.")
        return cls(booster, calibrator, names, meta)

    def __repr__(self) -> str:
        return (f"EscalationModel(features={len(self.feature_names)}, trees={self.booster.num_trees()}, "
                f"calibration={self.calibrator.method!r}, version={self.metadata.get('model_version')!r})")
