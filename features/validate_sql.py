"""Contract validation as vectorised SQL in DuckDB, straight over the Parquet files.

Same contracts (:mod:`features.contracts`), same checks, same quarantine entries (file, row, field, value,
Chinese reason, action) and the same accepted rows as the pandas validator
(:func:`features.contracts.validate`); ``tests/features/test_validate_sql.py`` holds the two to each other.

How each check becomes SQL (one pass over the file, one code per field):

* text: trimmed (the same whitespace set as the pandas path), empty -> NULL, synonyms and allowed codes
  looked up case-insensitively with a ``CASE`` expression;
* allowed values -> ``IN (...)``, patterns -> ``regexp_full_match`` (RE2, as pandas' Arrow strings use);
* numbers: integers from float columns with a fraction are a type error, NaN counts as missing; ranges;
* time zones: aware timestamps are converted to Beijing time and made naive, as in the pandas path;
* recording before the event (10 minutes of skew tolerated), duplicate keys (window ``ROW_NUMBER`` over
  every row, dropped rows included, as ``DataFrame.duplicated`` does) and orphan references (anti joins).

Only the few flagged rows are read back into Python, to format the quarantined value exactly as the
pandas path formats it. A column whose Parquet type the SQL path does not know (a dictionary or
category column, say), and any CSV file, goes through the pandas validator instead: the result is the
same by construction, only slower.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.contracts import (
    QUARANTINE_COLUMNS,
    Column,
    TableContract,
    ValidationResult,
    _reason,
    read_table,
    validate,
)
from features.errors import ContractError

__all__ = ["SqlTable", "validate_parquet", "frame_from_duckdb", "empty_table", "drop_orphans_sql", "ORPHAN_CHECKS",
           "WHITESPACE"]

#: The characters Python's ``str.strip`` (and Arrow's ``utf8_trim_whitespace``) remove.
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
              "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_WS_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in WHITESPACE) + "]"

#: (table, column, referenced table, referenced column), checked in this order.
ORPHAN_CHECKS = [
    ("incident_parties", "incident_id", "incidents", "incident_id"),
    ("incident_parties", "person_id", "persons", "person_id"),
    ("dispute_parties", "dispute_id", "disputes", "dispute_id"),
    ("mediations", "dispute_id", "disputes", "dispute_id"),
    ("care_records", "person_id", "persons", "person_id"),
    ("outcomes", "person_id", "persons", "person_id"),
]

_CODES = {1: "type", 2: "allowed", 3: "pattern", 4: "range", 5: "missing"}
_PANDAS_DTYPES = {"str": "string[pyarrow]", "int": "Int64", "float": "Float64", "bool": "boolean",
                  "datetime": "datetime64[ns]"}


def _q(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class SqlTable:
    """A validated table living in a DuckDB connection (``name``), plus its quarantine entries."""

    con: Any  # a duckdb connection
    name: str
    contract: TableContract
    quarantine: pd.DataFrame
    rows_read: int

    @property
    def n_dropped_rows(self) -> int:
        q = self.quarantine
        return int(q.loc[q["action"] == "dropped_row", "row"].nunique()) if len(q) else 0

    def __len__(self) -> int:
        return int(self.con.execute(f"SELECT COUNT(*) FROM {_ident(self.name)}").fetchone()[0])

    def to_frame(self) -> pd.DataFrame:
        """The accepted rows as the pandas validator returns them (canonical dtypes, index = file row)."""
        return frame_from_duckdb(self.con, self.name, self.contract)


def frame_from_duckdb(con, name: str, contract: TableContract) -> pd.DataFrame:
    """A validated table in ``con`` as the frame the pandas validator returns (dtypes, index = file row)."""
    cols = ", ".join(_ident(c.name) for c in contract.columns)
    arrow = con.execute(f"SELECT source_row, {cols} FROM {_ident(name)} ORDER BY source_row").to_arrow_table()
    df = arrow.to_pandas()
    del arrow
    out = {}
    for c in contract.columns:
        s = df.pop(c.name)
        if c.kind == "datetime":
            out[c.name] = pd.to_datetime(s).astype("datetime64[ns]")
        else:
            out[c.name] = s.astype(_PANDAS_DTYPES[c.kind])
    frame = pd.DataFrame(out)
    frame.index = pd.Index(df["source_row"].to_numpy(dtype=np.int64), name="source_row")
    return frame


# -------------------------------------------------------------------------------------------------------
def _arrow_schema(path: Path, contract: TableContract):
    import pyarrow.parquet as pq

    try:
        return pq.read_schema(path)
    except Exception as exc:  # same single message as the pandas reader
        raise ContractError(
            f"{path}: 无法读取 / cannot be read as Parquet ({type(exc).__name__}: {str(exc)[:200]}). "
            f"Expected the '{contract.name}' table."
        ) from None


def _supported(col: Column, typ) -> bool:
    import pyarrow as pa

    if pa.types.is_null(typ):
        return True
    if col.kind == "str":
        return pa.types.is_string(typ) or pa.types.is_large_string(typ)
    if col.kind == "datetime":
        return pa.types.is_timestamp(typ)
    if col.kind == "bool":
        return pa.types.is_boolean(typ)
    if col.kind in ("int", "float"):
        return (pa.types.is_integer(typ) and not pa.types.is_uint64(typ)) or pa.types.is_floating(typ)
    return False


def _lookup_case(col: Column, text: str) -> str | None:
    lookup = {k.lower(): v for k, v in col.synonyms.items()}
    if col.allowed:
        lookup.update({a.lower(): a for a in col.allowed})
    if not lookup:
        return None
    whens = " ".join(f"WHEN {_q(k)} THEN {_q(v)}" for k, v in sorted(lookup.items()))
    return f"COALESCE(CASE lower({text}) {whens} END, {text})"


#: Regex constructs that could match whitespace (or anything) at the ends of a value: a pattern without
#: them proves, when the raw value matches it, that trimming and lookups would change nothing.
_WS_CAPABLE = re.compile(r"\.|\\[sSWDpPxuUbB]|\[\^|\s")


def _fast_check(col: Column, typ) -> str | None:
    """A cheap test that proves a raw text value is already canonical and valid (code 0), or None.

    Most values of a large file are clean; for them one regex (a patterned column) or one ``IN`` (a
    column of allowed codes) replaces trimming, case-insensitive lookup and the checks. Only when the
    test fails does the value take the full path, so the result is the same as without it.
    """
    import pyarrow as pa

    if col.kind != "str" or pa.types.is_null(typ):
        return None
    r = f"CAST({_ident(col.name)} AS VARCHAR)"
    if col.allowed is not None and not col.pattern:
        allowed = sorted(col.allowed)
        lowered = [a.lower() for a in allowed]
        canonical = all(a.isascii() and a and a == a.strip(WHITESPACE) for a in allowed)
        if canonical and len(set(lowered)) == len(lowered):
            return f"{r} IN ({', '.join(_q(a) for a in allowed)})"
        return None
    if col.pattern and not col.allowed and not col.synonyms and not _WS_CAPABLE.search(col.pattern) \
            and re.fullmatch(col.pattern, "") is None:
        return f"regexp_full_match({r}, {_q(col.pattern)})"
    return None


def _column_sql(col: Column, typ) -> tuple[str, str]:
    """(coerced value expression, code expression) for one column; raw column ``r``."""
    import pyarrow as pa

    r = _ident(col.name)
    invalid = "FALSE"
    if pa.types.is_null(typ):
        value = {"str": "CAST(NULL AS VARCHAR)", "datetime": "CAST(NULL AS TIMESTAMP_NS)",
                 "bool": "CAST(NULL AS BOOLEAN)", "int": "CAST(NULL AS BIGINT)", "float": "CAST(NULL AS DOUBLE)"
                 }[col.kind]
    elif col.kind == "str":
        text = f"CAST({r} AS VARCHAR)"
        # trim() with a character list is slow; most values need no trimming, so test first (RE2 class).
        value = (f"NULLIF(CASE WHEN regexp_matches({text}, {_q('^' + _WS_CLASS + '|' + _WS_CLASS + '$')}) "
                 f"THEN trim({text}, {_q(WHITESPACE)}) ELSE {text} END, '')")
        value = _lookup_case(col, value) or value
    elif col.kind == "datetime":
        if typ.tz is not None:
            value = f"CAST(timezone('Asia/Shanghai', CAST({r} AS TIMESTAMPTZ)) AS TIMESTAMP_NS)"
        else:
            value = f"CAST({r} AS TIMESTAMP_NS)"
    elif col.kind == "bool":
        value = f"CAST({r} AS BOOLEAN)"
    elif pa.types.is_integer(typ):
        value = f"CAST({r} AS BIGINT)" if col.kind == "int" else f"CAST({r} AS DOUBLE)"
    else:  # floating source
        clean = f"CASE WHEN isnan({r}) THEN NULL ELSE CAST({r} AS DOUBLE) END"
        if col.kind == "int":
            invalid = f"(NOT isnan({r}) AND {r} <> floor({r}))"
            value = f"CASE WHEN {invalid} THEN NULL ELSE CAST({clean} AS BIGINT) END"
        else:
            value = clean
    return value, invalid


def _code_sql(col: Column, v: str, invalid: str) -> str:
    whens = [f"WHEN {invalid} THEN 1"]
    if col.allowed is not None:
        whens.append(f"WHEN {v} IS NOT NULL AND {v} NOT IN ({', '.join(_q(a) for a in sorted(col.allowed))}) THEN 2")
    if col.pattern is not None:
        whens.append(f"WHEN {v} IS NOT NULL AND NOT regexp_full_match({v}, {_q(col.pattern)}) THEN 3")
    if col.min is not None or col.max is not None:
        lo = "-'inf'::DOUBLE" if col.min is None else repr(float(col.min))
        hi = "'inf'::DOUBLE" if col.max is None else repr(float(col.max))
        whens.append(f"WHEN {v} IS NOT NULL AND NOT (CAST({v} AS DOUBLE) BETWEEN {lo} AND {hi}) THEN 4")
    if not col.nullable:
        whens.append(f"WHEN {v} IS NULL THEN 5")
    return f"CASE {' '.join(whens)} ELSE 0 END"


def _format(values: pd.Series) -> np.ndarray:
    """The quarantined value as the pandas path writes it (same conversion on the same subset)."""
    return values.astype("string").fillna("<空>").str.slice(0, 80).to_numpy()


def _entries(source: str, rows: np.ndarray, field: str, values: pd.Series, code: str, action: str) -> pd.DataFrame:
    return pd.DataFrame({"file": source, "row": rows.astype(np.int64), "field": field, "value": _format(values),
                         "reason_code": code, "reason": f"{_reason(code)}（{field}）", "action": action})


class _RawReader:
    """Reads raw values of a few rows of one Parquet column with the dtype pandas would give them.

    Only the row groups that hold the rows are read (a flagged row in a 10-million-row file costs one
    row group of one column, not the column).
    """

    def __init__(self, path: Path):
        import pyarrow.parquet as pq

        self.path = path
        meta = pq.ParquetFile(path).metadata
        self._starts = np.cumsum([0] + [meta.row_group(i).num_rows for i in range(meta.num_row_groups)])

    def values(self, column: str, rows: np.ndarray) -> pd.Series:
        import pyarrow as pa
        import pyarrow.parquet as pq

        index = rows.astype(np.int64) - 1
        groups = np.unique(np.searchsorted(self._starts, index, side="right") - 1)
        pf = pq.ParquetFile(self.path)
        parts = [pf.read_row_group(int(g), columns=[column]) for g in groups]
        offsets = np.cumsum([0] + [p.num_rows for p in parts])
        where = np.searchsorted(self._starts, index, side="right") - 1
        local = offsets[np.searchsorted(groups, where)] + (index - self._starts[where])
        taken = pa.concat_tables(parts).take(local)
        s = taken.to_pandas()[column]
        return s.reset_index(drop=True)


def _fallback(con, path: Path, contract: TableContract, name: str) -> SqlTable:
    res: ValidationResult = read_table(path, contract)
    return _register_pandas(con, res, contract, name, len(res.valid) + res.n_dropped_rows)


def _register_pandas(con, res: ValidationResult, contract: TableContract, name: str, rows_read: int) -> SqlTable:
    import pyarrow as pa

    df = res.valid.reset_index()
    con.register("_fallback_df", pa.Table.from_pandas(df, preserve_index=False))
    con.execute(f"CREATE OR REPLACE TABLE {_ident(name)} AS SELECT * FROM _fallback_df")
    con.unregister("_fallback_df")
    return SqlTable(con, name, contract, res.quarantine, rows_read)


def empty_table(con, contract: TableContract, name: str | None = None) -> SqlTable:
    """An absent optional table: no rows, no quarantine."""
    empty = pd.DataFrame({c.name: pd.Series(dtype="object") for c in contract.columns})
    return _register_pandas(con, validate(empty, contract), contract, name or contract.name, 0)


def validate_parquet(con, path: str | Path, contract: TableContract, name: str | None = None) -> SqlTable:
    """Validate one Parquet (or CSV) file into table ``name`` (default: the contract's name) of ``con``."""
    path = Path(path)
    name = name or contract.name
    source = path.name
    if not path.exists():
        raise ContractError(f"{path}: 文件不存在 / file not found (expected the '{contract.name}' table).")
    if path.suffix.lower() == ".csv":
        return _fallback(con, path, contract, name)
    schema = _arrow_schema(path, contract)
    missing = [c for c in contract.column_names if c not in schema.names]
    if missing:
        raise ContractError(
            f"{source}: 不是有效的 {contract.name} 表 / not a valid '{contract.name}' table: "
            f"missing columns {missing}; expected columns {contract.column_names}. "
            f"Check that the right file was given."
        )
    types = {c.name: schema.field(c.name).type for c in contract.columns}
    if not all(_supported(c, types[c.name]) for c in contract.columns):
        return _fallback(con, path, contract, name)

    parts = []
    fast_sql = []
    for i, col in enumerate(contract.columns):
        value, invalid = _column_sql(col, types[col.name])
        flag = f"x{i}" if invalid != "FALSE" else "FALSE"  # most columns cannot be of the wrong type
        code = _code_sql(col, f"v{i}", flag)
        fast = _fast_check(col, types[col.name])
        if fast is not None:
            fast_sql.append(f"{fast} AS f{i}")
            value = f"CASE WHEN f{i} THEN CAST({_ident(col.name)} AS VARCHAR) ELSE {value} END"
            code = f"CASE WHEN f{i} THEN 0 ELSE {code} END"
        parts.append((f"v{i}", value, flag, invalid, f"k{i}", code))
    stage = f"_stage_{name}"
    raw_cols = ", ".join(_ident(c) for c in contract.column_names)  # only the contract's columns (a file may
    # carry a column named like ours, e.g. "row"; extra columns are never read)
    values_sql = ", ".join(f"{value} AS {v}" + (f", {invalid} AS {x}" if x != "FALSE" else "")
                           for v, value, x, invalid, _, _ in parts)
    codes_sql = ", ".join(f"CAST({code} AS UTINYINT) AS {k}" for *_, k, code in parts)
    drop_terms = [f"k{i} > 0" for i, c in enumerate(contract.columns) if not c.nullable]
    drop_sql = " OR ".join(drop_terms) or "FALSE"
    # A nullable field with a bad value loses the value (codes 1-4), not the row.
    nulls = [f"CASE WHEN k{i} BETWEEN 1 AND 4 THEN NULL ELSE v{i} END AS v{i}"
             for i, c in enumerate(contract.columns) if c.nullable]
    nulled_sql = f"REPLACE ({', '.join(nulls)})" if nulls else ""
    names = contract.column_names
    time_col = "event_time" if "event_time" in names else ("time" if "time" in names else None)
    if "recorded_at" in names and time_col:
        rv, tv = f"v{names.index('recorded_at')}", f"v{names.index(time_col)}"
        early = f"COALESCE(NOT ({drop_sql}) AND epoch_ns({rv}) < epoch_ns({tv}) - 600000000000, FALSE)"
    else:
        early = "FALSE"
    fast_cols = "".join(", " + f for f in fast_sql)
    fast_names = "".join(", " + f.rsplit(" AS ", 1)[1] for f in fast_sql)
    # The stage keeps the file's row order (DuckDB preserves insertion order), so no step below sorts it.
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE {_ident(stage)} AS
    WITH raw AS (SELECT file_row_number + 1 AS row, {raw_cols}{fast_cols}
                 FROM read_parquet({_q(str(path))}, file_row_number = true)),
    coerced AS (SELECT row, {values_sql}{fast_names} FROM raw),
    coded AS (SELECT row, {", ".join(v for v, *_ in parts)}, {codes_sql} FROM coerced),
    nulled AS (SELECT * {nulled_sql} FROM coded)
    SELECT *, ({drop_sql}) AS dropped, {early} AS early, FALSE AS dup FROM nulled
    """)
    st = _ident(stage)
    rows_read = int(con.execute(f"SELECT COUNT(*) FROM {st}").fetchone()[0])
    _mark_duplicates(con, st, [f"v{names.index(k)}" for k in contract.key])

    reader = _RawReader(path)
    problems: list[pd.DataFrame] = []
    for i, col in enumerate(contract.columns):
        flagged = con.execute(f"SELECT row, k{i} FROM {st} WHERE k{i} > 0 ORDER BY row").fetchnumpy()
        if not len(flagged["row"]):
            continue
        rows, codes = np.asarray(flagged["row"]), np.asarray(flagged["k" + str(i)])
        raw = reader.values(col.name, rows)
        action = "nulled_field" if col.nullable else "dropped_row"
        for n in (1, 2, 3, 4, 5):
            sel = codes == n
            if sel.any():
                problems.append(_entries(source, rows[sel], col.name, raw[sel].reset_index(drop=True),
                                         _CODES[n], "dropped_row" if n == 5 else action))
    early_rows = np.asarray(con.execute(f"SELECT row FROM {st} WHERE early ORDER BY row").fetchnumpy()["row"])
    if len(early_rows):
        problems.append(_entries(source, early_rows, "recorded_at", reader.values("recorded_at", early_rows),
                                 "time_order", "dropped_row"))
    k0 = f"v{names.index(contract.key[0])}"
    dup = con.execute(f"SELECT row, {k0} AS k FROM {st} WHERE dup ORDER BY row").to_arrow_table()
    if dup.num_rows:
        keys = pd.Series(dup.column("k").to_pylist(), dtype="string[pyarrow]")
        problems.append(_entries(source, dup.column("row").to_numpy(), ",".join(contract.key), keys,
                                 "duplicate_key", "dropped_row"))

    if problems:
        quarantine = pd.concat(problems, ignore_index=True)
    else:
        quarantine = pd.DataFrame({c: pd.Series(dtype="object") for c in QUARANTINE_COLUMNS})
    quarantine = quarantine.sort_values(["row", "field"], kind="stable").reset_index(drop=True)

    # The stage becomes the validated table in place (deleting the few rejected rows, dropping the codes):
    # copying ten million rows into a new table cost more than validating them.
    if con.execute(f"SELECT COUNT(*) FROM {st} WHERE dropped OR early OR dup").fetchone()[0]:
        con.execute(f"DELETE FROM {st} WHERE dropped OR early OR dup")
    for extra in [f"k{i}" for i in range(len(contract.columns))] + ["dropped", "early", "dup"]:
        con.execute(f"ALTER TABLE {st} DROP COLUMN {extra}")
    con.execute(f"ALTER TABLE {st} RENAME COLUMN row TO source_row")
    for i, c in enumerate(contract.columns):
        con.execute(f"ALTER TABLE {st} RENAME COLUMN v{i} TO {_ident(c.name)}")
    con.execute(f"DROP TABLE IF EXISTS {_ident(name)}")
    con.execute(f"ALTER TABLE {st} RENAME TO {_ident(name)}")
    return SqlTable(con, name, contract, quarantine, rows_read)


def _mark_duplicates(con, stage: str, key: list[str]) -> None:
    """Set ``dup`` on every row whose key appeared on an earlier row (first row wins; earlier rows count
    even when they were dropped, as ``DataFrame.duplicated`` counts them), unless the row is dropped or
    recorded before its event anyway.

    One hash aggregate over a 64-bit hash of the key finds the candidates (NULL keys hash alike, and
    count as equal as in pandas); only the rows of a repeated hash are then ranked on the real key, so a
    hash collision costs a few rows of work, never a wrong answer.
    """
    keys = ", ".join(key)
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE _dup_hashes AS
    SELECT hash({keys}) AS h FROM {stage} GROUP BY ALL HAVING COUNT(*) > 1
    """)
    if con.execute("SELECT COUNT(*) FROM _dup_hashes").fetchone()[0]:
        con.execute(f"""
        UPDATE {stage} SET dup = TRUE WHERE NOT dropped AND NOT early AND row IN (
            SELECT row FROM (
                SELECT s.row, row_number() OVER (PARTITION BY {", ".join("s." + k for k in key)} ORDER BY s.row) AS n
                FROM {stage} AS s SEMI JOIN _dup_hashes AS d ON d.h = hash({", ".join("s." + k for k in key)}))
            WHERE n > 1)
        """)
    con.execute("DROP TABLE _dup_hashes")


def drop_orphans_sql(tables: dict[str, SqlTable]) -> list[pd.DataFrame]:
    """Quarantine and delete rows that point to a record that does not exist (same order as the pandas path)."""
    from features.contracts import TABLES

    problems = []
    for table, col, ref, ref_col in ORPHAN_CHECKS:
        t, r = tables[table], tables[ref]
        con = t.con
        tn, rn, c = _ident(t.name), _ident(r.name), _ident(col)
        # One anti join per check: the orphans are kept, and the delete finds them by file row (unique in a
        # validated table), a semi join on a few integers instead of a second anti join against the table.
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _orphans AS SELECT source_row, {c} AS v FROM {tn} AS t
            WHERE NOT EXISTS (SELECT 1 FROM {rn} AS r WHERE r.{_ident(ref_col)} = t.{c})""")
        bad = con.execute("SELECT source_row, v FROM _orphans ORDER BY source_row").to_arrow_table()
        if not bad.num_rows:
            con.execute("DROP TABLE _orphans")
            continue
        values = np.asarray([str(v) for v in bad.column("v").to_pylist()], dtype=object)
        problems.append(pd.DataFrame({
            "file": TABLES[table].filename, "row": bad.column("source_row").to_numpy().astype(np.int64),
            "field": col, "value": values, "reason_code": "orphan",
            "reason": f"引用的{ref}记录不存在（{col}）", "action": "dropped_row"}))
        con.execute(f"DELETE FROM {tn} WHERE source_row IN (SELECT source_row FROM _orphans)")
        con.execute("DROP TABLE _orphans")
    return problems

