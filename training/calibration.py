"""Probability calibration on held-out rows: isotonic or sigmoid (Platt) on the booster's raw margin.

The calibrator is fitted on validation rows the booster never trained on (see ``training.fit``).
Isotonic regression is a step function, so many rows would share a probability and the ranking at
the operating threshold would become a coin toss; a vanishing tie-breaker proportional to the raw
margin (1e-6 x sigmoid(margin)) keeps the order strict without moving any probability noticeably.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> m = rng.normal(size=5000); y = (rng.random(5000) < 1 / (1 + np.exp(-(m - 3)))).astype(int)
>>> cal = Calibrator("sigmoid").fit(m, y)
>>> p = cal.predict(m); bool(abs(p.mean() - y.mean()) < 0.01), bool(np.all(np.diff(p[np.argsort(m)]) >= 0))
(True, True)
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from training.errors import TrainingDataError

__all__ = ["Calibrator", "choose_method"]

_TIE_BREAK = 1e-6


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -500, 500)))


def choose_method(method: Literal["auto", "isotonic", "sigmoid"], positives: int,
                  min_positives_isotonic: int) -> Literal["isotonic", "sigmoid"]:
    if method != "auto":
        return method
    return "isotonic" if positives >= min_positives_isotonic else "sigmoid"


class Calibrator:
    """Map raw margins (log-odds) to calibrated probabilities. ``fit`` / ``predict``; state ends in ``_``."""

    def __init__(self, method: Literal["isotonic", "sigmoid"] = "isotonic"):
        self.method = method

    def fit(self, margin, y) -> Calibrator:
        margin = np.asarray(margin, dtype=float)
        y = np.asarray(y, dtype=int)
        pos = int(y.sum())
        if pos == 0 or pos == len(y):
            raise TrainingDataError(
                f"校准集只有一个类别 / the calibration rows have {pos} positives of {len(y)}: a calibrator needs "
                f"both classes. Use more validation snapshots or a longer data window.")
        if self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            self.model_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(margin, y)
        elif self.method == "sigmoid":
            from sklearn.linear_model import LogisticRegression

            self.model_ = LogisticRegression(C=1e6, max_iter=1000).fit(margin.reshape(-1, 1), y)
        else:
            raise ValueError(f"calibration method={self.method!r}; possible values are 'isotonic', 'sigmoid'.")
        self.n_rows_ = len(y)
        self.n_positive_ = pos
        return self

    def predict(self, margin) -> np.ndarray:
        # Plain numpy on the fitted parameters (same numbers as the sklearn objects, without their
        # per-call validation, which dominates one-row latency in serving).
        margin = np.asarray(margin, dtype=float)
        if self.method == "isotonic":
            m = self.model_
            p = np.interp(margin, m.X_thresholds_, m.y_thresholds_)   # clip outside, linear inside
            p = p * (1 - 2 * _TIE_BREAK) + _TIE_BREAK * _expit(margin)
        else:
            p = _expit(self.model_.coef_[0, 0] * margin + self.model_.intercept_[0])
        return np.clip(p, 0.0, 1.0)

    @property
    def reverses(self) -> bool:
        """A sigmoid fitted with a slope <= 0 would reverse (or flatten) the booster's ranking."""
        return self.method == "sigmoid" and float(self.model_.coef_[0, 0]) <= 0

    def describe(self) -> dict:
        return {"method": self.method, "rows": getattr(self, "n_rows_", None),
                "positives": getattr(self, "n_positive_", None)}
