"""EventStore: a validated data directory, prepared once, queried for point-in-time features.

>>> from features.simulate import simulate
>>> _ = simulate(people=2000, days=120, seed=3, out="/tmp/weimeng-doctest-store", progress=False)
>>> store = EventStore.open("/tmp/weimeng-doctest-store", progress=False)
>>> frame = store.features("2024-04-01")
>>> list(frame.columns[:3])
['person_id', 'as_of', 'calls_7d']
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from common.clock import to_data_time
from features.catalog import FEATURE_NAMES
from features.contracts import QUARANTINE_COLUMNS, TABLES, ValidationResult, read_table, validate
from features.divisions import AUTONOMOUS_PREFECTURES, prefectures
from features.errors import ContractError
from features.pointintime import feature_sql
from features.prepare import (
    build_event_relation,
    epoch_s,
    prepare_grid_incidents,
    prepare_in_duckdb,
    prepare_person_static,
)
from features.progress import progress_task

__all__ = ["EventStore", "LoadReport", "as_timestamp", "AGE_BANDS"]

AGE_BANDS = [(0, 25, "<25"), (25, 35, "25-34"), (35, 45, "35-44"), (45, 55, "45-54"), (55, 65, "55-64"),
             (65, 200, "65+")]


#: DuckDB's memory for one store (its tables, joins and sorts); beyond it DuckDB compresses and spills to a
#: temporary directory. 10 million incidents load within it (benchmarks/RESULTS.md).
DEFAULT_MEMORY_LIMIT = "3GB"


def _bound_memory(con, memory_limit: str | None) -> None:
    import tempfile

    con.execute("SET threads TO 2")
    con.execute("SET preserve_insertion_order = true")  # the validated tables keep the files' row order
    if memory_limit:
        spill = Path(tempfile.gettempdir()) / f"weimeng-duckdb-{os.getpid()}-{id(con):x}"
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{spill}'")


def as_timestamp(value) -> pd.Timestamp:
    """Parse an as-of value ('2025-06-01', datetime, Timestamp) into a naive Timestamp."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ContractError(f"as-of {value!r} 不是有效日期 / not a date (use YYYY-MM-DD): {exc}") from None
    if ts is pd.NaT:
        raise ContractError(f"as-of {value!r} 不是有效日期 / not a date (use YYYY-MM-DD)")
    return pd.Timestamp(to_data_time(ts)) if ts.tzinfo else ts


@dataclass
class LoadReport:
    """What validation did to each table: rows read, kept, and quarantined reasons."""

    rows_read: dict[str, int]
    rows_kept: dict[str, int]
    quarantine: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        q = self.quarantine
        dropped = (q[q["action"] == "dropped_row"].groupby("file")["row"].nunique()
                   if len(q) else pd.Series(dtype=int))
        nulled = q[q["action"] == "nulled_field"].groupby("file").size() if len(q) else pd.Series(dtype=int)
        rows = []
        for table, n in self.rows_read.items():
            f = TABLES[table].filename
            rows.append({"table": table, "read": n, "kept": self.rows_kept[table],
                         "dropped": int(dropped.get(f, 0)), "fields_nulled": int(nulled.get(f, 0))})
        return pd.DataFrame(rows)


class EventStore:
    """Validated tables of one data directory plus DuckDB relations prepared for feature queries.

    Thread-safe for queries (one DuckDB connection guarded by a lock; each query uses a cursor).
    """

    def __init__(self, tables: dict[str, pd.DataFrame] | None, report: LoadReport, data_dir: Path | None = None,
                 con=None):
        """From validated frames (``tables``), or from a DuckDB connection ``con`` that already holds the
        validated tables (:mod:`features.validate_sql`); then frames are made only when asked for."""
        import duckdb

        self._tables = dict(tables or {})
        self.report = report
        self.data_dir = data_dir
        self._lock = threading.Lock()
        if con is not None:
            self._con = con
            self.n_events = prepare_in_duckdb(con)
            return
        self._con = duckdb.connect(":memory:")
        self._con.execute("SET threads TO 2")
        self.n_events = build_event_relation(self._con, self._tables)
        static = prepare_person_static(self._tables)
        gi, gp = prepare_grid_incidents(self._tables)
        import pyarrow as pa

        for name, df in (("person_static", static), ("grid_incidents", gi), ("grid_population", gp)):
            self._con.register(f"_{name}_df", pa.Table.from_pandas(df, preserve_index=False))
            self._con.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}_df")
            self._con.unregister(f"_{name}_df")

    # ------------------------------------------------------------------------------------------------
    @classmethod
    def open(cls, data_dir: str | Path, quarantine_dir: str | Path | None = None,
             progress: bool | None = None, engine: str = "duckdb",
             memory_limit: str | None = DEFAULT_MEMORY_LIMIT) -> EventStore:
        """Read and validate every table in ``data_dir``; write quarantined rows to ``quarantine_dir``
        (default ``data_dir/quarantine``). Raises ContractError only for an unusable file.

        ``engine="duckdb"`` (default) validates inside DuckDB straight over the Parquet files
        (:mod:`features.validate_sql`); ``engine="pandas"`` is the original pandas validator. Both give
        the same quarantine and the same accepted rows (tests/features/test_validate_sql.py).
        ``memory_limit`` bounds DuckDB's memory (a DuckDB size such as ``"3GB"``; None: DuckDB's default).
        """
        data_dir = Path(data_dir)
        if not data_dir.is_dir():
            raise ContractError(f"{data_dir}: 数据目录不存在 / data directory not found.")
        if engine not in ("duckdb", "pandas"):
            raise ContractError(f"engine {engine!r}: 未知的校验引擎 / unknown validation engine; use duckdb or pandas.")
        con = None
        if engine == "duckdb":
            con, rows_read, rows_kept, quarantine = _load_sql(data_dir, progress, memory_limit)
            tables = None
        else:
            tables, rows_read, quarantine = _load_pandas(data_dir, progress)
            rows_kept = {k: len(v) for k, v in tables.items()}
        q = (pd.concat(quarantine, ignore_index=True) if quarantine
             else pd.DataFrame(columns=QUARANTINE_COLUMNS))
        report = LoadReport(rows_read, rows_kept, q)
        qdir = Path(quarantine_dir) if quarantine_dir else data_dir / "quarantine"
        if len(q):
            qdir.mkdir(parents=True, exist_ok=True)
            q.astype({"row": "int64"}).astype({c: "string" for c in QUARANTINE_COLUMNS if c != "row"}) \
                .to_parquet(qdir / "quarantine.parquet", index=False)
            (qdir / "summary.json").write_text(
                json.dumps(report.summary().to_dict(orient="records"), ensure_ascii=False, indent=1),
                encoding="utf-8")
        with progress_task("准备特征关系 (preparing events)", total=1, enabled=progress) as advance:
            store = cls(tables, report, data_dir, con=con)
            advance(1)
        return store

    @classmethod
    def from_tables(cls, tables: dict[str, pd.DataFrame]) -> EventStore:
        """Build a store from in-memory frames (validated here too); used by tests and the API."""
        results = {}
        for name, contract in TABLES.items():
            df = tables.get(name)
            if df is None:
                df = pd.DataFrame({c.name: pd.Series(dtype="object") for c in contract.columns})
            results[name] = validate(df, contract, source=f"<{name}>")
        valid = {k: r.valid for k, r in results.items()}
        valid, orphans = _drop_orphans(valid)
        q = pd.concat([r.quarantine for r in results.values()] + orphans, ignore_index=True)
        return cls(valid, LoadReport({k: len(v) for k, v in tables.items()}, {k: len(v) for k, v in valid.items()}, q))

    def write_prepared(self, out_dir: str | Path) -> dict[str, int]:
        """Write the prepared relations the feature SQL reads (``features.spark.PREPARED_RELATIONS``) as
        Parquet, one folder per relation, for another engine (Spark) to compute features from; returns
        the row count of each. ENUM columns are written as plain text."""
        from features.spark import PREPARED_RELATIONS

        out = Path(out_dir)
        counts = {}
        with self._lock:
            cur = self._con.cursor()
            try:
                for name in PREPARED_RELATIONS:
                    (out / name).mkdir(parents=True, exist_ok=True)
                    cols = cur.execute(f"DESCRIBE {name}").fetchall()
                    select = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" if str(t).startswith("ENUM") else c
                                       for c, t, *_ in cols)
                    target = str(out / name / "part-0.parquet").replace("'", "''")
                    cur.execute(f"COPY (SELECT {select} FROM {name}) TO '{target}' (FORMAT parquet)")
                    counts[name] = int(cur.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0])
            finally:
                cur.close()
        return counts

    # ------------------------------------------------------------------------------------------------
    def table(self, name: str) -> pd.DataFrame:
        """One validated table as a frame (index = the row number in its file)."""
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r}; tables: {sorted(TABLES)}")
        if name not in self._tables:
            from features.validate_sql import frame_from_duckdb

            with self._lock:
                if name not in self._tables:
                    self._tables[name] = frame_from_duckdb(self._con, name, TABLES[name])
        return self._tables[name]

    def _query(self, sql: str, params: Sequence | None = None, frames: dict[str, pd.DataFrame] | None = None):
        import pyarrow as pa

        with self._lock:
            cur = self._con.cursor()
            try:
                for name, df in (frames or {}).items():
                    cur.register(name, pa.Table.from_pandas(df, preserve_index=False))
                return cur.execute(sql, params or []).df()
            finally:
                cur.close()

    def features(self, as_of, person_ids: Iterable[str] | None = None, progress: bool | None = None) -> pd.DataFrame:
        """Feature vectors as of one date or many (one row per person and snapshot).

        Without ``person_ids``: everyone with a visible event in the look-back window. With them:
        exactly those persons (unknown or silent persons get zero counts).
        """
        dates = [as_of] if isinstance(as_of, (str, pd.Timestamp)) or not hasattr(as_of, "__iter__") else list(as_of)
        stamps = [as_timestamp(d) for d in dates]
        frames = []
        targets = None
        if person_ids is not None:
            targets = pd.DataFrame({"person_id": pd.Series(list(dict.fromkeys(person_ids)), dtype="string[pyarrow]")})
        mode = "population" if targets is None else "targets"
        with progress_task("计算时点特征 (point-in-time features)", total=len(stamps), enabled=progress) as advance:
            for ts in stamps:
                snaps = pd.DataFrame({"as_of_ts": epoch_s([ts])})
                rel = {"snapshots": snaps}
                if targets is not None:
                    rel["targets"] = targets
                frames.append(self._query(feature_sql(mode), frames=rel))
                advance(1)
        out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return _finish(out)

    def online_vector(self, person_id: str, as_of) -> dict[str, float | None]:
        """One person's feature vector, from the same SQL as the batch path."""
        snaps = pd.DataFrame({"as_of_ts": epoch_s([as_timestamp(as_of)])})
        df = _finish(self._query(feature_sql("one"), [person_id, person_id, person_id], {"snapshots": snaps}))
        row = df.iloc[0]
        return {name: (None if pd.isna(row[name]) else float(row[name])) for name in FEATURE_NAMES}

    def population(self, as_of, lookback_days: int = 365) -> pd.Series:
        """Persons with an incident, mediation, care record or field report visible in the look-back window."""
        t = int(epoch_s([as_timestamp(as_of)])[0])
        sql = ("SELECT DISTINCT person_id FROM ev WHERE src IN ('incident', 'mediation', 'care', 'report') "
               "AND ts < ? AND rts < ? AND ts >= ? ORDER BY person_id")
        return self._query(sql, [t, t, t - lookback_days * 86400])["person_id"].astype(str)

    def audit_attributes(self, as_of) -> pd.DataFrame:
        """Fairness-audit attributes (never features): sex, age band, residence prefecture, urban/rural."""
        ts = as_timestamp(as_of)
        p = self.table("persons")
        addr = self.table("addresses").set_index("address_code")["grid_id"]
        grids = self.table("grids").set_index("grid_id")
        grid = p["residence_address_code"].map(addr)
        age = ts.year - p["birth_year"].astype("Float64")
        band = pd.Series(pd.NA, index=p.index, dtype="string")
        for lo, hi, label in AGE_BANDS:
            band = band.mask((age >= lo) & (age < hi), label)
        pref = grid.map(grids["prefecture_code"])
        names = prefectures().set_index("code")["name"]
        return pd.DataFrame({
            "person_id": p["person_id"].astype(str),
            "sex": p["sex"],
            "age_band": band,
            "prefecture_code": pref,
            "prefecture_name": pref.map(names),
            "is_autonomous_prefecture": pref.isin(AUTONOMOUS_PREFECTURES),
            "is_urban": grid.map(grids["is_urban"]),
        })

    def close(self) -> None:
        self._con.close()


def _table_path(data_dir: Path, name: str) -> Path | None:
    path = data_dir / TABLES[name].filename
    if not path.exists() and (data_dir / f"{name}.csv").exists():
        path = data_dir / f"{name}.csv"
    if path.exists():
        return path
    if TABLES[name].optional:
        return None
    raise ContractError(f"{path}: 缺少必需的数据表 / required table '{name}' is missing.")


def _load_pandas(data_dir: Path, progress: bool | None):
    """The original path: pandas reads and validates each table, orphans dropped in pandas."""
    results: dict[str, ValidationResult] = {}
    rows_read: dict[str, int] = {}
    with progress_task("校验输入数据 (validating tables)", total=len(TABLES), enabled=progress) as advance:
        for name, contract in TABLES.items():
            path = _table_path(data_dir, name)
            if path is None:
                empty = pd.DataFrame({c.name: pd.Series(dtype="object") for c in contract.columns})
                results[name] = validate(empty, contract)
                rows_read[name] = 0
            else:
                res = read_table(path, contract)
                rows_read[name] = len(res.valid) + res.n_dropped_rows
                results[name] = res
            advance(1)
    tables = {k: r.valid for k, r in results.items()}
    quarantine = [r.quarantine for r in results.values() if len(r.quarantine)]
    tables, orphans = _drop_orphans(tables)
    return tables, rows_read, quarantine + orphans


def _load_sql(data_dir: Path, progress: bool | None, memory_limit: str | None = DEFAULT_MEMORY_LIMIT):
    """Validation and orphan checks as SQL in DuckDB over the Parquet files.

    Returns the connection holding the validated tables, rows read and kept, and the quarantine frames.
    """
    import duckdb

    from features.validate_sql import drop_orphans_sql, empty_table, validate_parquet

    con = duckdb.connect(":memory:")
    try:
        _bound_memory(con, memory_limit)
        done = {}
        rows_read: dict[str, int] = {}
        with progress_task("校验输入数据 (validating tables)", total=len(TABLES), enabled=progress) as advance:
            for name, contract in TABLES.items():
                path = _table_path(data_dir, name)
                done[name] = empty_table(con, contract) if path is None else validate_parquet(con, path, contract)
                rows_read[name] = done[name].rows_read
                advance(1)
        quarantine = [t.quarantine for t in done.values() if len(t.quarantine)]
        quarantine += drop_orphans_sql(done)
        return con, rows_read, {name: len(t) for name, t in done.items()}, quarantine
    except BaseException:
        con.close()
        raise


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return pd.DataFrame(columns=["person_id", "as_of", *FEATURE_NAMES])
    df.insert(1, "as_of", pd.to_datetime(df.pop("as_of_ts"), unit="s"))
    df["person_id"] = df["person_id"].astype(str)
    for name in FEATURE_NAMES:
        df[name] = df[name].astype("float64")
    return df[["person_id", "as_of", *FEATURE_NAMES]]


def _isin(values: pd.Series, reference: pd.Series) -> pd.Series:
    """Fast membership for large string columns (pyarrow's hash set instead of a Python loop)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(values.astype("string[pyarrow]").to_numpy(dtype=object, na_value=None), type=pa.string())
    ref = pa.array(reference.astype("string[pyarrow]").dropna().unique().to_numpy(dtype=object), type=pa.string())
    return pd.Series(pc.is_in(arr, value_set=ref).to_numpy(zero_copy_only=False), index=values.index)


def _drop_orphans(tables: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], list[pd.DataFrame]]:
    """Rows that point to a record that does not exist are quarantined (never silently joined away)."""
    checks = [
        ("incident_parties", "incident_id", "incidents", "incident_id"),
        ("incident_parties", "person_id", "persons", "person_id"),
        ("dispute_parties", "dispute_id", "disputes", "dispute_id"),
        ("mediations", "dispute_id", "disputes", "dispute_id"),
        ("care_records", "person_id", "persons", "person_id"),
        ("outcomes", "person_id", "persons", "person_id"),
    ]
    out = dict(tables)
    problems = []
    for table, col, ref, ref_col in checks:
        df = out[table]
        if df.empty:
            continue
        ok = _isin(df[col], out[ref][ref_col])
        if not ok.all():
            bad = np.flatnonzero(~ok.to_numpy())
            problems.append(pd.DataFrame({
                "file": TABLES[table].filename, "row": np.asarray(df.index[bad]), "field": col,
                "value": df[col].iloc[bad].astype(str).to_numpy(), "reason_code": "orphan",
                "reason": f"引用的{ref}记录不存在（{col}）", "action": "dropped_row"}))
            out[table] = df[ok.to_numpy()]
    return out, problems
