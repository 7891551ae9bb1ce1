"""Shared fixtures: small synthetic snapshot tables and throw-away MLflow stores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

FEATURES = ["calls_30d", "calls_90d", "threat_90d", "failed_mediations_90d", "violence_365d", "days_since_last_call"]


def make_snapshot_table(n_people: int = 3000, n_snapshots: int = 20, seed: int = 0, signal: float = 1.0,
                        base: float = -4.0) -> pd.DataFrame:
    """One row per (person, monthly snapshot) with a label driven by the features (plus noise)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=n_snapshots, freq="30D")
    rows = []
    latent = rng.normal(size=n_people)
    sex = rng.choice(["M", "F"], size=n_people, p=[0.6, 0.4])
    age = rng.choice(["18-29", "30-44", "45-59", "60+"], size=n_people)
    pref = rng.choice(["成都市", "绵阳市", "阿坝藏族羌族自治州"], size=n_people, p=[0.6, 0.3, 0.1])
    urban = rng.random(n_people) < 0.6
    for d in dates:
        drift = latent + rng.normal(scale=0.7, size=n_people)
        calls30 = rng.poisson(np.exp(0.3 * drift))
        calls90 = calls30 + rng.poisson(np.exp(0.3 * drift) * 2)
        threat = rng.poisson(0.15 * np.exp(0.5 * drift))
        failed = rng.poisson(0.2 * np.exp(0.4 * drift))
        viol = rng.poisson(0.3 * np.exp(0.4 * drift))
        dsl = np.where(calls90 > 0, rng.integers(1, 90, n_people), np.nan)
        logit = base + signal * (0.8 * drift + 0.5 * threat + 0.3 * failed)
        y = (rng.random(n_people) < 1 / (1 + np.exp(-logit))).astype(int)
        rows.append(pd.DataFrame({
            "person_id": [f"P{i:06d}" for i in range(n_people)], "as_of": d, "calls_30d": calls30,
            "calls_90d": calls90, "threat_90d": threat, "failed_mediations_90d": failed, "violence_365d": viol,
            "days_since_last_call": dsl, "label": y, "sex": sex, "age_band": age, "prefecture": pref,
            "urban_rural": np.where(urban, "urban", "rural"), "rules_score": threat * 2 + failed,
        }))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="session")
def snapshot_table() -> pd.DataFrame:
    return make_snapshot_table()


@pytest.fixture()
def spec_dict() -> dict:
    return {"id": "person_id", "time": "as_of", "label": "label", "features": list(FEATURES),
            "audit_groups": ["sex", "age_band", "prefecture", "urban_rural"], "never_features": ["name_hash"],
            "horizon_days": 90, "capacity": {"top_fraction": 0.02}, "baseline": "rules_score"}


@pytest.fixture(scope="module")
def sqlite_uri(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("mlflow")
    return f"sqlite:///{d / 'mlflow.db'}"


@pytest.fixture(autouse=True)
def _isolated_mlflow(monkeypatch, tmp_path):
    """Never touch ./weimeng-data or ./mlruns from a test."""
    monkeypatch.setenv("WEIMENG_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WEIMENG_MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
