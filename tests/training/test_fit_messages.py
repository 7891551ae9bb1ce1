"""A period with one class names the fix for that period (issue 14: the early-stopping hint pointed the wrong way)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.config import load_config
from training.errors import TrainingDataError
from training.fit import fit_model


def _frame(n: int, positives: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=int)
    y[:positives] = 1
    return pd.DataFrame({"calls_30d": rng.poisson(1, n).astype(float), "label": y})


@pytest.mark.parametrize(("period", "hint"), [("early-stopping", "more validation snapshots"),
                                              ("calibration", "more validation snapshots"),
                                              ("train", "a longer data window")])
def test_a_one_class_period_names_how_to_grow_it(period, hint):
    frames = {"train": _frame(400, 40, 1), "early-stopping": _frame(200, 20, 2), "calibration": _frame(200, 20, 3)}
    frames[period] = _frame(200, 0, 4)
    with pytest.raises(TrainingDataError, match=f"{period} rows .* 0 positives.*{hint}"):
        fit_model(frames["train"], frames["early-stopping"], frames["calibration"], ["calls_30d"], load_config(None))


def test_a_sigmoid_that_would_reverse_the_ranking_is_noticed():
    from training.calibration import Calibrator

    margin = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
    y = np.array([1, 1, 0, 0, 0, 0])            # outcomes at the low margins: slope < 0
    assert Calibrator("sigmoid").fit(margin, y).reverses
    assert not Calibrator("sigmoid").fit(margin, y[::-1]).reverses
    assert not Calibrator("isotonic").fit(margin, y).reverses   # isotonic is monotone by construction
