"""A model registry for the model-page tests (HTTP and browser), trained by the real pipeline.

A BYOD model under its own name, left a challenger (seconds), and a model trained on a world (the
session's small world) and promoted, by force when the gate refuses, so the refusal, the override and the
alert thresholds are recorded with it (tens of seconds: the HTTP tests that need it are ``slow``)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["BYOD_NAME", "BYOD_FEATURES", "BYOD_SPEC", "byod_table", "add_byod_model", "add_world_model",
           "build_registry"]

BYOD_NAME = "county-screening"
BYOD_FEATURES = ["calls_30d", "calls_90d", "threat_90d", "failed_mediations_90d"]
BYOD_SPEC = {"id": "person_id", "time": "as_of", "label": "label", "features": BYOD_FEATURES,
             "audit_groups": ["sex", "age_band"], "capacity": {"top_fraction": 0.03},
             "description": "某县 2024 年筛查台账", "population": "县服务中心筛查过的居民",
             "label_definition": "九十天内再次转介"}
FAST = {"fairness": {"n_boot": 30},
        "model": {"num_boost_round": 60, "early_stopping_rounds": 10, "params": {"learning_rate": 0.1}}}


def byod_table(n: int = 600, snapshots: int = 12, seed: int = 8):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    rows = []
    for t in pd.date_range("2024-01-01", periods=snapshots, freq="30D"):
        x = latent + rng.normal(scale=0.7, size=n)
        c30 = rng.poisson(np.exp(0.3 * x))
        rows.append(pd.DataFrame({
            "person_id": [f"P{i:05d}" for i in range(n)], "as_of": t, "calls_30d": c30,
            "calls_90d": c30 + rng.poisson(np.exp(0.3 * x) * 2), "threat_90d": rng.poisson(0.2 * np.exp(0.5 * x)),
            "failed_mediations_90d": rng.poisson(0.2 * np.exp(0.4 * x)),
            "label": (rng.random(n) < 1 / (1 + np.exp(-(-2.5 + 0.9 * x)))).astype(int),
            "sex": rng.choice(["M", "F"], size=n), "age_band": rng.choice(["18-39", "40-59", "60+"], size=n)}))
    return pd.concat(rows, ignore_index=True)


def add_byod_model(uri: str) -> str:
    """Train :data:`BYOD_SPEC` on :func:`byod_table` into the registry at ``uri`` as :data:`BYOD_NAME`
    (a challenger, never promoted); returns its version."""
    from training import train_from_table
    from training.config import load_config

    cfg = load_config(None, {**FAST, "mlflow": {"registered_model": BYOD_NAME}})
    return str(train_from_table(byod_table(), BYOD_SPEC, config=cfg, tracking_uri=uri).version)


def add_world_model(world_dir: Path, uri: str) -> dict:
    """Train on the world at ``world_dir`` and promote (by force when the gate refuses, so the refusal, the
    override and the alert thresholds are recorded): ``{"version", "forced", "result"}``."""
    from training import promote, train
    from training.config import load_config
    from training.errors import PromotionRefused

    cfg = load_config(None, {**FAST, "snapshots": {"warmup_days": 30, "frequency_days": 30},
                             "split": {"test_snapshots": 2, "validation_snapshots": 2}})
    w = train(world_dir, cfg, tracking_uri=uri)
    try:
        promote(tracking_uri=uri, config=cfg, by="分析员甲")
        forced = False
    except PromotionRefused:
        promote(tracking_uri=uri, config=cfg, force=True, reason="试运行需要一个现任模型", by="分析员甲")
        forced = True
    return {"version": str(w.version), "forced": forced, "result": w}


def build_registry(world_dir: Path, out_dir: Path) -> dict:
    """A registry with both models: ``{"uri", "world", "byod", "forced", "world_result"}``."""
    uri = f"sqlite:///{Path(out_dir) / 'mlflow.db'}"
    w = add_world_model(world_dir, uri)
    return {"uri": uri, "world": w["version"], "byod": add_byod_model(uri), "forced": w["forced"],
            "world_result": w["result"]}
