"""A model registry for the model-page tests (HTTP and browser), trained by the real pipeline.

One model trained on a world (the session's small world) and promoted (by force when the gate refuses,
so the refusal, the override and the alert thresholds are recorded with it), and a BYOD model under a
second name, left a challenger. Small configurations keep it to seconds, not minutes."""

from __future__ import annotations

from pathlib import Path

__all__ = ["BYOD_NAME", "BYOD_FEATURES", "BYOD_SPEC", "build_registry"]

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


def build_registry(world_dir: Path, out_dir: Path, *, byod: bool = True) -> dict:
    """``{"uri", "world", "byod", "forced", "world_result"}``: the registry and its two versions."""
    from training import promote, train, train_from_table
    from training.config import load_config
    from training.errors import PromotionRefused

    uri = f"sqlite:///{Path(out_dir) / 'mlflow.db'}"
    world_cfg = load_config(None, {**FAST, "snapshots": {"warmup_days": 30, "frequency_days": 30},
                                   "split": {"test_snapshots": 2, "validation_snapshots": 2}})
    w = train(world_dir, world_cfg, tracking_uri=uri)
    try:
        promote(tracking_uri=uri, config=world_cfg, by="分析员甲")
        forced = False
    except PromotionRefused:
        promote(tracking_uri=uri, config=world_cfg, force=True, reason="试运行需要一个现任模型", by="分析员甲")
        forced = True
    b = None
    if byod:
        byod_cfg = load_config(None, {**FAST, "mlflow": {"registered_model": BYOD_NAME}})
        b = train_from_table(byod_table(), BYOD_SPEC, config=byod_cfg, tracking_uri=uri)
    return {"uri": uri, "world": w.version, "byod": b.version if b else None, "forced": forced, "world_result": w}
