"""Fit the booster (early stopping on validation) and the calibrator (on different, held-out rows).

Class imbalance: escalation outcomes are rare (well under 1% of people a quarter). The default is
**no re-weighting** (``imbalance: none``): the unweighted log-loss keeps the booster's scores close to
probabilities, the ranking metrics we select on (AUC, precision at capacity) do not improve with
weights in our measurements, and the calibrator fixes what is left. ``imbalance: scale_pos_weight``
(negatives / positives) is available; its distorted probabilities are then undone by the same
calibrator, which is why calibration is never optional.

Validation persons are split by a stable hash of the person id: one part drives early stopping, the
other (``calibration_fraction``) fits the calibrator, so the calibrator sees rows that neither fitted
the trees nor chose how many there are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.calibration import Calibrator, choose_method
from training.config import TrainConfig
from training.errors import TrainingDataError
from training.guard import check_feature_names
from training.model import EscalationModel

__all__ = ["FitResult", "fit_model"]


@dataclass
class FitResult:
    model: EscalationModel
    best_iteration: int
    params: dict
    history: dict


#: What makes a period bigger: the training period grows when the others shrink; early stopping and
#: calibration share the validation period, which grows with more validation snapshots or a larger fraction.
_GROW = {
    "train": "a longer data window, or fewer test/validation snapshots (split.test_snapshots, "
             "split.validation_snapshots) or smaller fractions",
    "early-stopping": "more validation snapshots (split.validation_snapshots) or a larger split.validation_fraction; "
                      "or a smaller split.calibration_fraction (early stopping gets the rest)",
    "calibration": "more validation snapshots (split.validation_snapshots) or a larger split.validation_fraction; "
                   "or a larger split.calibration_fraction",
}


def _need_both_classes(name: str, y: np.ndarray) -> None:
    pos = int(y.sum())
    if pos == 0 or pos == len(y):
        raise TrainingDataError(
            f"{name} 集只有一个类别 / the {name} rows ({len(y)}) have {pos} positives: training needs both "
            f"classes in every period. Make that period bigger: {_GROW.get(name, 'a longer data window')}.")


def fit_model(train: pd.DataFrame, early_stop: pd.DataFrame, calibrate: pd.DataFrame, feature_names: list[str],
              cfg: TrainConfig, label: str = "label", never_features=(), metadata: dict | None = None) -> FitResult:
    """Train LightGBM on ``train``, stop early on ``early_stop``, calibrate on ``calibrate``."""
    import lightgbm as lgb

    check_feature_names(feature_names, never_features)
    y_tr = train[label].to_numpy(dtype=int)
    y_es = early_stop[label].to_numpy(dtype=int)
    y_cal = calibrate[label].to_numpy(dtype=int)
    for name, y in (("train", y_tr), ("early-stopping", y_es), ("calibration", y_cal)):
        _need_both_classes(name, y)

    def mat(df):
        return df[feature_names].to_numpy(dtype=np.float64, na_value=np.nan)

    params = dict(cfg.model.params)
    seed = cfg.model.seed
    params.update(seed=seed, bagging_seed=seed, feature_fraction_seed=seed, data_random_seed=seed)
    if cfg.model.imbalance == "scale_pos_weight":
        params["scale_pos_weight"] = float((len(y_tr) - y_tr.sum()) / max(1, y_tr.sum()))
    dtrain = lgb.Dataset(mat(train), y_tr, feature_name=list(feature_names), free_raw_data=True)
    dvalid = lgb.Dataset(mat(early_stop), y_es, reference=dtrain)
    history: dict = {}
    booster = lgb.train(
        params, dtrain, num_boost_round=cfg.model.num_boost_round, valid_sets=[dvalid], valid_names=["validation"],
        callbacks=[lgb.early_stopping(cfg.model.early_stopping_rounds, first_metric_only=True, verbose=False),
                   lgb.record_evaluation(history)],
    )
    best = booster.best_iteration or booster.current_iteration()
    # Keep only the trees early stopping chose, so the saved model and pred_contrib match.
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    method = choose_method(cfg.calibration.method, int(y_cal.sum()), cfg.calibration.min_positives_isotonic)
    margin = booster.predict(mat(calibrate), raw_score=True)
    calibrator = Calibrator(method).fit(margin, y_cal)
    if calibrator.reverses:
        # A Platt fit on a few held-out positives can come out decreasing: refit it on every validation
        # row (early-stopping rows too); refuse if even that would reverse the booster's ranking.
        both = pd.concat([early_stop, calibrate])
        calibrator = Calibrator(method).fit(booster.predict(mat(both), raw_score=True),
                                            both[label].to_numpy(dtype=int))
        if calibrator.reverses:
            raise TrainingDataError(
                f"校准集过小，无法确定评分方向 / the validation rows ({len(both)}, {int(both[label].sum())} "
                f"positive) give the calibrator a slope <= 0: it would reverse the model's ranking. Make the "
                "validation period bigger (more validation snapshots or a larger split.validation_fraction).")
    meta = dict(metadata or {})
    meta.update(best_iteration=int(best), calibration=calibrator.describe(), imbalance=cfg.model.imbalance)
    model = EscalationModel(booster, calibrator, list(feature_names), meta)
    return FitResult(model, int(best), params, history)
