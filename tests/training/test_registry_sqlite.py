"""Registry, promotion gate and rollback on a throw-away SQLite MLflow store (BYOD data, fast)."""

import numpy as np
import pytest
from conftest import make_snapshot_table

from training import load_registered_model, promote, rollback, train_from_table
from training.config import load_config
from training.errors import PromotionRefused, RegistryError, TrainingConfigError
from training.promotion import evaluate_gate
from training.registry import client_for, download_test_set, list_versions

# Wide fairness bounds isolate the performance gate; a faster learning rate keeps the tests quick.
WIDE = {"fairness": {"bounds": [0.01, 100.0]},
        "model": {"num_boost_round": 300, "early_stopping_rounds": 20, "params": {"learning_rate": 0.1}}}
CRIPPLED = {"model": {"num_boost_round": 2, "early_stopping_rounds": 1,
                      "params": {"max_depth": 1, "num_leaves": 2, "learning_rate": 0.001, "feature_fraction": 0.2}}}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("reg")
    table = make_snapshot_table(n_people=1500, n_snapshots=16, seed=3, signal=1.5)
    path = d / "snapshots.parquet"
    table.to_parquet(path, index=False)
    return {"uri": f"sqlite:///{d / 'mlflow.db'}", "table": path, "dir": d}


@pytest.fixture(scope="module")
def good(world, request):
    spec = {"id": "person_id", "time": "as_of", "label": "label",
            "features": ["calls_30d", "calls_90d", "threat_90d", "failed_mediations_90d", "violence_365d"],
            "audit_groups": ["sex", "age_band", "prefecture", "urban_rural"], "capacity": {"top_fraction": 0.03},
            "baseline": "rules_score"}
    world["spec"] = spec
    return train_from_table(world["table"], spec, config=load_config(None, WIDE), tracking_uri=world["uri"])


def test_training_registers_a_challenger_with_what_serving_needs(world, good):
    client = client_for(world["uri"])
    mv = client.get_model_version_by_alias("weimeng-escalation", "challenger")
    assert str(mv.version) == good.version == "1"
    m = load_registered_model("challenger", tracking_uri=world["uri"])
    assert m.feature_names == good.model.feature_names
    meta = m.metadata
    for key in ("catalog_version", "ruleset_version", "operating_threshold", "horizon_days", "alerts_per_snapshot",
                "test_window", "test_metrics"):
        assert key in meta
    test = download_test_set(good.run_id, world["uri"])
    p = m.predict_proba(test)
    assert p.shape == (len(test), 2) and np.allclose(p.sum(axis=1), 1)
    assert np.allclose(p[:, 1], good.model.predict_risk(test))
    assert m.calibrator.method in ("isotonic", "sigmoid") and m.booster.num_trees() >= 1
    import mlflow.pyfunc

    pyfunc = mlflow.pyfunc.load_model("models:/weimeng-escalation@challenger")
    out = pyfunc.predict(test[m.feature_names])
    assert np.allclose(out["probability"].to_numpy(), p[:, 1])
    # a table's integer and boolean columns are accepted (cast on input), not refused by the signature
    ints = test[m.feature_names].fillna(0).round().astype("int64")
    ints[m.feature_names[0]] = ints[m.feature_names[0]] > 0
    assert np.allclose(pyfunc.predict(ints)["probability"].to_numpy(),
                       good.model.predict_risk(ints.astype(float)))
    arts = {a.path for a in client.list_artifacts(good.run_id, "report")}
    assert {"report/model_card.md", "report/model_card.html", "report/calibration.png",
            "report/feature_importance.png", "report/fairness.csv"} <= arts
    assert good.metrics["roc_auc"] > 0.6


def test_first_promotion_then_a_worse_challenger_is_refused(world, good):
    rep = promote(tracking_uri=world["uri"], config=load_config(None, WIDE), by="tester")
    assert rep.promoted and rep.champion is None
    crippled = load_config(None, {"fairness": WIDE["fairness"], **CRIPPLED})
    bad = train_from_table(world["table"], world["spec"], config=crippled, tracking_uri=world["uri"])
    assert bad.version == "2"
    with pytest.raises(PromotionRefused, match="ROC-AUC|precision@capacity") as exc:
        promote(tracking_uri=world["uri"], config=load_config(None, WIDE))
    assert exc.value.report["champion"] == "1"
    client = client_for(world["uri"])
    assert str(client.get_model_version_by_alias("weimeng-escalation", "champion").version) == "1"
    assert "gate_refusal" in client.get_model_version("weimeng-escalation", "2").tags


def test_force_needs_a_reason_and_records_who_and_why(world, good):
    with pytest.raises(TrainingConfigError, match="needs a reason"):
        promote(tracking_uri=world["uri"], force=True)
    rep = promote(tracking_uri=world["uri"], force=True, reason="演练 drill: testing rollback", by="analyst-a",
                  config=load_config(None, WIDE))
    assert rep.forced and rep.promoted
    tags = client_for(world["uri"]).get_model_version("weimeng-escalation", "2").tags
    assert tags["promoted_by"] == "analyst-a" and tags["promotion_forced"] == "true"
    assert tags["promotion_reason"].startswith("演练")


def test_rollback_restores_the_previous_champion(world, good):
    r = rollback(tracking_uri=world["uri"], reason="worse in the field", by="analyst-b")
    assert r == {"from": "2", "to": "1", "by": "analyst-b"}
    assert load_registered_model("champion", tracking_uri=world["uri"]).metadata["model_version"] == "1"
    with pytest.raises(RegistryError, match="no previous champion"):
        rollback(tracking_uri=world["uri"])
    df = list_versions(world["uri"])
    assert df["version"].tolist() == [1, 2]
    assert "champion" in df.loc[df["version"] == 1, "aliases"].item()


def test_missing_alias_is_a_clear_registry_error(world):
    with pytest.raises(RegistryError, match="no alias '@nope'"):
        load_registered_model("nope", tracking_uri=world["uri"])


def test_gate_refuses_new_fairness_flags(world, good):
    test = download_test_set(good.run_id, world["uri"])
    model = load_registered_model("challenger", tracking_uri=world["uri"], version=1)
    tight = load_config(None, {"fairness": {"bounds": [0.999, 1.001], "min_rows": 10, "min_expected_events": 1,
                                            "alpha": 1.0}})
    rep = evaluate_gate(model, None, test, tight)
    assert not rep.passed and any("fairness" in r for r in rep.reasons) and rep.new_fairness_flags
    same = evaluate_gate(model, model, test, tight)  # the same flags as the champion are not new
    assert same.passed and not same.new_fairness_flags
