"""End to end on a small simulated world: features -> snapshots -> model -> evaluation beside the oracles."""

import numpy as np
import pandas as pd
import pytest

features_simulate = pytest.importorskip("features.simulate")
pytest.importorskip("features.store")

from training.config import load_config  # noqa: E402
from training.dataset import BASELINE_COL, world_training_set  # noqa: E402
from training.pipeline import train_on_set  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("world") / "w"
    features_simulate.simulate(people=40000, days=730, seed=11, out=d, progress=False)
    return d


@pytest.fixture(scope="module")
def tset(world):
    return world_training_set(world, load_config(None))


def test_snapshots_follow_the_population_label_and_exclusion_rules(world, tset):
    from features.catalog import PROTECTED_ATTRIBUTES
    from features.store import EventStore

    f = tset.frame
    assert not f.duplicated(["person_id", "as_of"]).any()
    assert set(f["label"].unique()) <= {0, 1} and f["label"].sum() > 0
    assert not set(tset.feature_names) & set(PROTECTED_ATTRIBUTES)
    assert {"sex", "age_band", "prefecture", "urban_rural"} <= set(f.columns)
    store = EventStore.open(world, progress=False)
    d = f["as_of"].max()
    pop = set(store.population(d))
    assert set(f.loc[f["as_of"] == d, "person_id"]) <= pop
    # Label = an outcome in (as_of, as_of + 90d]; nobody with an outcome recorded in the last 30 days is kept.
    oc = store.table("outcomes").assign(person_id=lambda x: x["person_id"].astype(str))
    snap = f[f["as_of"] == d]
    later = oc[(oc["time"] > d) & (oc["time"] <= d + pd.Timedelta(days=90))]["person_id"]
    assert set(snap.loc[snap["label"] == 1, "person_id"]) == set(later) & set(snap["person_id"])
    recent = oc[(oc["time"] < d) & (oc["time"] >= d - pd.Timedelta(days=30)) & (oc["recorded_at"] < d)]["person_id"]
    assert not set(recent) & set(snap["person_id"])
    # The baseline and oracles exist for the test period only.
    last3 = sorted(f["as_of"].unique())[-3:]
    assert f.loc[f["as_of"].isin(last3), BASELINE_COL].notna().all()
    assert f.loc[f["as_of"].isin(last3), "oracle_records"].notna().all()


def test_model_trains_and_is_reported_beside_rules_and_oracles(tset):
    r = train_on_set(tset, load_config(None), register=False)
    m = r.metrics
    for key in ("roc_auc", "pr_auc", "brier", "precision_at_capacity", "recall_at_capacity",
                "rules_precision_at_capacity", "oracle_full_roc_auc", "oracle_records_roc_auc",
                "auc_ratio_to_records_oracle"):
        assert m.get(key) is not None, key
    assert "lift_over_rules" in m  # None only when the rules found nobody at capacity
    # A small world has few test positives: these bounds catch a broken pipeline, not a weak model.
    assert m["roc_auc"] > 0.65
    assert m["auc_ratio_to_records_oracle"] > 0.8
    assert r.model.metadata["operating_threshold"] > 0
    assert r.card["markdown"].exists() and "记录可达真值" in r.card["markdown"].read_text(encoding="utf-8")
    # The reference-group flags are set against the records oracle's own (a simulated world knows it).
    shared = r.model.metadata["fairness_flags_shared_with_oracle"]
    assert m["reference_fairness_flags_shared_with_oracle"] == len(shared) <= m["reference_fairness_flags"]
    if m["reference_fairness_flags"]:
        assert "Against the records oracle" in r.card["markdown"].read_text(encoding="utf-8")
    # Contributions sum to the raw margin (what serving's explanations rely on).
    test = tset.frame[tset.frame["as_of"] == tset.frame["as_of"].max()].head(50)
    contrib = r.model.contributions(test)
    assert np.allclose(contrib.sum(axis=1).to_numpy(), r.model.raw_margin(test), atol=1e-6)
