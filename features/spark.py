"""The feature SQL on Spark, through Spark Connect (a light client; the cluster does the work).

The catalog's feature statement (:func:`features.pointintime.feature_sql`) is written for DuckDB. Here it
is transpiled to Spark SQL with sqlglot and run over the prepared relations (``ev``, ``person_static``,
``grid_incidents``, ``grid_population``) stored as Parquet where the cluster can read them, for instance
object storage; :meth:`features.store.EventStore.write_prepared` writes them. The answer has the same
columns, rows and values as :meth:`EventStore.features <features.store.EventStore.features>`
(tests/features/test_spark.py, on a local Sail server).

Dialect differences, each handled explicitly (no silent fallback: whatever sqlglot cannot express in
Spark raises :class:`~features.errors.EngineError`):

* decimal literals (``86400.0``, ``1000.0``): DuckDB divides decimals in DOUBLE, Spark keeps DECIMAL and
  rounds to a few places, so every decimal literal becomes ``CAST(... AS DOUBLE)`` and both engines do
  the same IEEE arithmetic;
* ``VARCHAR`` becomes ``STRING``; the online statement (one person, ``?`` parameters) is not offered:
  one person is the online path's job, not a cluster's.

>>> sql = transpile("SELECT MIN(ev.age) / 86400.0 AS d, CAST(x AS VARCHAR) AS s FROM ev")
>>> sql
'SELECT MIN(ev.age) / CAST(86400.0 AS DOUBLE) AS d, CAST(x AS STRING) AS s FROM ev'
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from features.errors import EngineError

__all__ = ["transpile", "SparkFeatures", "local_server", "PREPARED_RELATIONS"]

#: The relations the feature statement reads, as written by ``EventStore.write_prepared``.
PREPARED_RELATIONS = ("ev", "person_static", "grid_incidents", "grid_population")


def transpile(sql: str) -> str:
    """DuckDB SQL -> one Spark SQL statement; raises EngineError on anything that does not transpile."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel, SqlglotError

    try:
        trees = sqlglot.parse(sql, read="duckdb")
        if len(trees) != 1 or trees[0] is None:
            raise EngineError(f"expected one SQL statement, got {len(trees)}")

        def doubles(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Literal) and node.is_number and "." in node.this \
                    and not isinstance(node.parent, exp.Cast):
                return exp.Cast(this=node.copy(), to=exp.DataType.build("DOUBLE"))
            return node

        tree = trees[0].transform(doubles)
        if any(isinstance(node, exp.Placeholder) for node in tree.walk()):
            raise EngineError("the statement has '?' parameters; the Spark engine runs batch statements only")
        return tree.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as exc:
        raise EngineError(f"特征 SQL 无法转换为 Spark SQL / the feature SQL does not transpile to Spark: {exc}") \
            from None


class SparkFeatures:
    """Point-in-time features computed by a Spark Connect server over prepared Parquet relations.

    ``remote`` is a Spark Connect URL (``sc://host:port``); ``prepared`` the folder (local path or a URL
    the cluster reads, e.g. ``s3a://bucket/province/2026-06``) holding one Parquet dataset per relation
    of :data:`PREPARED_RELATIONS`.
    """

    def __init__(self, remote: str, prepared: str | Path):
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise EngineError("Spark 引擎需要安装 pyspark-client / the Spark engine needs the 'spark' extra "
                              "(pip install 'weimeng[spark]').") from None
        if not str(remote).startswith("sc://"):
            raise EngineError(f"{remote!r}: Spark Connect 地址应为 sc://主机:端口 / expected sc://host:port")
        self.remote = str(remote)
        self.prepared = str(prepared).rstrip("/")
        try:
            self.spark: Any = SparkSession.builder.remote(self.remote).getOrCreate()
            for name in PREPARED_RELATIONS:
                self.spark.read.parquet(f"{self.prepared}/{name}").createOrReplaceTempView(name)
        except EngineError:
            raise
        except Exception as exc:  # connection refused, missing files: one clear message
            raise EngineError(f"{self.remote}: Spark 引擎无法读取预处理数据 / cannot read the prepared relations "
                              f"in {self.prepared}: {type(exc).__name__}: {str(exc)[:300]}") from None

    def _view(self, name: str, frame: pd.DataFrame, schema: str) -> None:
        self.spark.createDataFrame(frame, schema=schema).createOrReplaceTempView(name)

    def features(self, as_of, person_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """The same frame as ``EventStore.features(as_of, person_ids)``, computed by Spark."""
        from features.pointintime import feature_sql
        from features.prepare import epoch_s
        from features.store import _finish, as_timestamp

        dates = [as_of] if isinstance(as_of, (str, pd.Timestamp)) or not hasattr(as_of, "__iter__") else list(as_of)
        stamps = [as_timestamp(d) for d in dates]
        mode = "population" if person_ids is None else "targets"
        if person_ids is not None:
            ids = list(dict.fromkeys(str(p) for p in person_ids))
            self._view("targets", pd.DataFrame({"person_id": pd.Series(ids, dtype=object)}), "person_id string")
        sql = transpile(feature_sql(mode))
        frames = []
        for ts in stamps:  # one snapshot per statement, as the DuckDB path does
            self._view("snapshots", pd.DataFrame({"as_of_ts": epoch_s([ts]).astype("int64")}), "as_of_ts bigint")
            frames.append(self.spark.sql(sql).toPandas())
        out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return _finish(out)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.spark.stop()


@contextlib.contextmanager
def local_server() -> Iterator[str]:
    """A local Sail Spark Connect server (Rust, no Java) for tests and one-machine runs; yields its URL."""
    try:
        from pysail.spark import SparkConnectServer
    except ImportError:
        raise EngineError("本地 Spark 服务需要 pysail / a local Spark Connect server needs the 'spark' extra "
                          "(pip install 'weimeng[spark]').") from None
    server = SparkConnectServer("127.0.0.1", 0)
    server.start(background=True)
    try:
        _, port = server.listening_address
        yield f"sc://127.0.0.1:{port}"
    finally:
        server.stop()
