"""The registry on a real PostgreSQL backend (127.0.0.1:5432, user postgres, trust auth).

A fresh database ``weimeng_mlflow_test_<random>`` is created and dropped around the module, so no
schema is shared with anything else. Needs the ``psycopg`` driver (the project's ``test`` extra).
"""


import pytest

pytestmark = [pytest.mark.service, pytest.mark.slow]
psycopg = pytest.importorskip("psycopg")

from conftest import FEATURES, make_snapshot_table  # noqa: E402

from tests._postgres import temporary_database  # noqa: E402
from training import load_registered_model, promote, rollback, train_from_table  # noqa: E402
from training.config import load_config  # noqa: E402
from training.errors import PromotionRefused  # noqa: E402
from training.registry import list_versions  # noqa: E402


@pytest.fixture(scope="module")
def pg_uri():
    with temporary_database("weimeng_mlflow_test") as url:
        yield url


def test_train_promote_refuse_rollback_on_postgres(pg_uri, tmp_path_factory):
    art = tmp_path_factory.mktemp("pg-artifacts").as_uri()
    d = tmp_path_factory.mktemp("pg-data")
    make_snapshot_table(n_people=1500, n_snapshots=16, seed=9, signal=1.5).to_parquet(d / "t.parquet", index=False)
    spec = {"id": "person_id", "time": "as_of", "label": "label", "features": FEATURES[:5],
            "audit_groups": ["sex", "age_band"], "capacity": {"top_fraction": 0.03}, "baseline": "rules_score"}
    wide = {"fairness": {"bounds": [0.01, 100.0]}, "mlflow": {"artifact_location": art}}
    good = train_from_table(d / "t.parquet", spec, config=load_config(None, wide), tracking_uri=pg_uri)
    assert good.version == "1"
    assert promote(tracking_uri=pg_uri, config=load_config(None, wide), by="pg-test").promoted
    crippled = {**wide, "model": {"num_boost_round": 2, "early_stopping_rounds": 1,
                                  "params": {"max_depth": 1, "num_leaves": 2, "learning_rate": 0.001}}}
    bad = train_from_table(d / "t.parquet", spec, config=load_config(None, crippled), tracking_uri=pg_uri)
    with pytest.raises(PromotionRefused):
        promote(tracking_uri=pg_uri, config=load_config(None, wide))
    promote(tracking_uri=pg_uri, force=True, reason="pg drill", by="pg-test", config=load_config(None, wide))
    assert load_registered_model("champion", tracking_uri=pg_uri).metadata["model_version"] == bad.version
    assert rollback(tracking_uri=pg_uri)["to"] == "1"
    m = load_registered_model("champion", tracking_uri=pg_uri)
    assert m.metadata["model_version"] == "1" and m.feature_names == FEATURES[:5]
    assert list_versions(pg_uri)["version"].tolist() == [1, 2]
