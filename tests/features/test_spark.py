"""The feature SQL on Spark (Sail, a local Spark Connect server) gives exactly the DuckDB features."""

from __future__ import annotations

import pandas as pd
import pytest

from features.catalog import CATALOG, FEATURE_NAMES
from features.errors import EngineError
from features.pointintime import feature_sql
from features.spark import transpile

pytest.importorskip("sqlglot", reason="the Spark engine is an optional extra: pip install -e '.[spark]'")


def test_decimal_literals_become_doubles_and_types_are_spark_types():
    sql = transpile("SELECT 1000.0 * n / p AS r, MIN(age) / 86400.0 AS d, CAST(x AS VARCHAR) AS s, 7 AS i FROM t")
    assert sql == ("SELECT CAST(1000.0 AS DOUBLE) * n / p AS r, MIN(age) / CAST(86400.0 AS DOUBLE) AS d, "
                   "CAST(x AS STRING) AS s, 7 AS i FROM t")


@pytest.mark.parametrize("mode", ["population", "targets"])
def test_every_feature_of_the_batch_statements_transpiles(mode):
    sql = transpile(feature_sql(mode))
    for name in FEATURE_NAMES:
        assert f" AS {name}" in sql, name
    assert "86400.0" not in sql.replace("CAST(86400.0 AS DOUBLE)", "")


def test_what_does_not_transpile_fails_loudly():
    with pytest.raises(EngineError, match="does not transpile"):
        transpile("SELECT FROM WHERE (")
    with pytest.raises(EngineError, match="parameters"):
        transpile(feature_sql("one"))  # one person is the online path's job
    with pytest.raises(EngineError, match="one SQL statement"):
        transpile("SELECT 1; SELECT 2")


def test_a_remote_that_is_not_spark_connect_is_refused(tmp_path):
    pytest.importorskip("pyspark")
    from features.spark import SparkFeatures

    with pytest.raises(EngineError, match="sc://"):
        SparkFeatures("http://localhost:15002", tmp_path)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    from features.simulate import simulate
    from features.store import EventStore

    out = tmp_path_factory.mktemp("spark-world")
    # a messy world (seed not quoted in the docs): quarantined rows, duplicate calls, missing flags
    simulate(people=12000, days=420, seed=29, out=out / "world", progress=False, p_bad_row=0.02,
             p_duplicate_call=0.1, p_missing_flag=0.2, p_missing_disposition=0.2, p_category_label=0.3)
    # the rarest keyword group, so that every feature varies (its exclusion rule is exercised too)
    inc = pd.read_parquet(out / "world" / "incidents.parquet")
    inc.loc[inc.index[::40], "note"] = "当事人扬言要报复社会，民警现场劝导。"
    inc.to_parquet(out / "world" / "incidents.parquet", index=False)
    store = EventStore.open(out / "world", progress=False)
    counts = store.write_prepared(out / "prepared")
    yield store, out / "prepared", counts
    store.close()


@pytest.mark.slow
def test_spark_features_equal_duckdb_for_every_feature_and_several_dates(worlds):
    pytest.importorskip("pysail")
    from features.spark import SparkFeatures, local_server

    store, prepared, counts = worlds
    assert counts["ev"] == store.n_events
    dates = ["2024-03-01", "2024-08-15", "2024-12-31", "2025-02-01"]
    expected = store.features(dates)
    ids = list(expected["person_id"].drop_duplicates().iloc[::7]) + ["NOBODY"]
    with local_server() as url:
        spark = SparkFeatures(url, prepared)
        got = spark.features(dates)
        got_targets = spark.features(dates[1:3], person_ids=ids)
        spark.close()
    assert set(expected["as_of"].dt.strftime("%Y-%m-%d")) == set(dates)
    assert len(expected) > 1500
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    pd.testing.assert_frame_equal(got_targets, store.features(dates[1:3], person_ids=ids), check_exact=True)
    # the comparison is meaningful: every feature varies in this world (none is constant zero)
    varying = [name for name in FEATURE_NAMES if expected[name].nunique(dropna=True) > 1]
    assert set(varying) == set(CATALOG), sorted(set(CATALOG) - set(varying))


@pytest.mark.slow
def test_features_command_on_the_spark_engine_writes_the_duckdb_answer(worlds, tmp_path):
    pytest.importorskip("pysail")
    from typer.testing import CliRunner

    from weimeng.cli import app

    store, _, _ = worlds
    data = store.data_dir
    args = ["features", "--data", str(data), "--as-of", "2024-12-31"]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "spark.parquet"), "--engine", "spark",
                                   "--prepared", str(tmp_path / "prepared")])
    assert res.exit_code == 0, res.output
    assert "Spark" in res.output and "特征已写出" in res.output
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "duckdb.parquet")])
    assert res.exit_code == 0, res.output
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "spark.parquet"),
                                  pd.read_parquet(tmp_path / "duckdb.parquet"), check_exact=True)


def test_features_command_refuses_an_unknown_engine(tmp_path):
    from typer.testing import CliRunner

    from weimeng.cli import app

    res = CliRunner().invoke(app, ["features", "--data", str(tmp_path), "--as-of", "2024-12-31",
                                   "--out", str(tmp_path / "f.parquet"), "--engine", "flink"])
    assert res.exit_code == 2 and "未知的计算引擎" in res.output
