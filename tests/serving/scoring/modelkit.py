"""Register a small LightGBM model in exactly the format the training package registers.

Training's full pipeline needs a two-year world and about a minute; these tests need a model whose
probabilities spread, fast. So a booster is fitted here on catalog features of a small world with a
label drawn from a known logit (threats, calls, failed mediation), calibrated with training's own
``Calibrator``, wrapped in training's ``EscalationModel`` and registered with training's
``log_and_register`` (same artifacts, same pyfunc, same tags); ``load_registered_model`` reads it back.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

MODEL_FEATURES = None  # all catalog features


def feature_table(store, dates) -> pd.DataFrame:
    return store.features(list(dates), progress=False)


def synthetic_label(frame: pd.DataFrame, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = (-4.0 + 0.35 * frame["calls_90d"].fillna(0) + 1.2 * frame["threat_90d"].fillna(0)
         + 0.6 * frame["failed_mediations_90d"].fillna(0) + 0.8 * frame["kw_emotion_90d"].fillna(0)
         + 0.9 * frame["care_medication_stopped_180d"].fillna(0))
    return (rng.random(len(frame)) < 1 / (1 + np.exp(-z))).astype(int)


def register_model(store, tracking_uri: str, dates, *, rounds: int = 60, max_depth: int = 4, seed: int = 0,
                   alias: str = "champion", version_note: str = "", num_leaves: int = 15) -> str:
    import lightgbm as lgb

    from features.catalog import CATALOG_VERSION, FEATURE_NAMES
    from training.calibration import Calibrator
    from training.model import EscalationModel
    from training.registry import MODEL_NAME, client_for, log_and_register

    frame = feature_table(store, dates)
    y = synthetic_label(frame, seed)
    names = list(FEATURE_NAMES)
    X = frame[names].to_numpy(float)
    params = {"objective": "binary", "learning_rate": 0.1, "num_leaves": num_leaves, "max_depth": max_depth,
              "min_data_in_leaf": 20, "min_gain_to_split": 0.0, "verbosity": -1, "seed": seed, "deterministic": True,
              "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(X, y, feature_name=names), num_boost_round=rounds)
    margin = booster.predict(X, raw_score=True)
    cal = Calibrator("sigmoid").fit(margin, y)
    p = cal.predict(margin)
    k = max(1, int(0.05 * len(p)))
    meta = {"model_name": MODEL_NAME, "catalog_version": CATALOG_VERSION, "ruleset_version": "2026.11.2",
            "horizon_days": 90, "operating_threshold": float(np.sort(p)[::-1][k - 1]),
            "capacity_per_grid_per_week": 0.05, "never_features": [], "data_kind": "test", "note": version_note}
    model = EscalationModel(booster, cal, names, meta)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report"
        report.mkdir()
        (report / "README.txt").write_text("test model", encoding="utf-8")
        test_set = frame.assign(label=y)
        _, version = log_and_register(model, tracking_uri=tracking_uri, experiment="weimeng-serving-tests",
                                      model_name=MODEL_NAME, params={"rounds": rounds}, metrics={}, tags={
                                          "run_name": "serving-test"}, artifacts_dir=report, test_set=test_set,
                                      input_example=test_set)
    client_for(tracking_uri).set_registered_model_alias(MODEL_NAME, alias, version)
    return version
