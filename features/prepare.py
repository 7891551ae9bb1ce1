"""Validated tables -> the prepared relations the feature SQL reads.

``ev`` is one long relation of everything that happened to a person, one row per (person, event):

=========  ===============================================================================
column     meaning
=========  ===============================================================================
person_id  the person
ts, rts    event time and recording time, epoch seconds (point-in-time: both must be < as-of)
src        incident | contact | mediation | care | outcome | report | tip
cat        incident category; role, disp: the person's role and the disposition
violence … 0/1 flags (a missing flag counts as 0); kw_*: keyword hits in the note
night      0/1, call between 22:00 and 05:00
dispute_id the dispute an incident or mediation belongs to
other_id   for ``contact`` rows: the other party of the same incident
med_result, care_kind
gr_*       for ``report`` (a cadre's field report) and ``tip`` (an anonymous tip) rows: 0/1 urgent,
           conflict rising, emotion, harm risk (their threat / violence observations go to
           ``threat`` / ``violence``; ``cat`` is the category)
=========  ===============================================================================

A field report or a tip about a named person (``person_id``; a tip's ``linked_person_id``) is one row for
that person; one about an address only is one row for each person whose residence is that address.

Duplicate calls are dropped here with a rule that is safe for point-in-time use: a call is a
duplicate if the same person had a call of the same category in the 30 minutes before it that was
recorded no later than it. Whenever the duplicate is visible at some as-of time, so is its
original, so the rule never depends on records that arrive later.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.catalog import NOTE_KEYWORDS
from features.contracts import INCIDENT_CATEGORIES

__all__ = ["build_event_relation", "prepare_person_static", "prepare_grid_incidents", "EV_COLUMNS",
           "DUPLICATE_WINDOW_S", "prepare_in_duckdb", "epoch_s_sql"]

DUPLICATE_WINDOW_S = 1800
EV_COLUMNS = ["person_id", "ts", "rts", "src", "cat", "role", "disp", "violence", "weapon", "alcohol", "minor",
              "threat", "kw_retaliation", "kw_society", "kw_emotion", "kw_harm", "night", "dispute_id",
              "other_id", "med_result", "care_kind", "gr_urgent", "gr_rising", "gr_emotion", "gr_harm"]
_EV_FLAGS = ["violence", "weapon", "alcohol", "minor", "threat", *NOTE_KEYWORDS, "night"]
_FLAG_MAP = {"violence": "flag_violence", "weapon": "flag_weapon", "alcohol": "flag_alcohol",
             "minor": "flag_minor_present", "threat": "flag_threat"}


# Low-cardinality text as ENUMs: comparisons against the catalog's string literals stay valid SQL and run
# on small integers; cast as early as the party rows, so the joins and the duplicate rule move bytes.
_ENUMS = {
    "src": ["incident", "contact", "mediation", "care", "outcome", "report", "tip"],
    "cat": list(INCIDENT_CATEGORIES),
    "role": ["caller", "party", "victim", "suspect"],
    "disp": ["mediated", "referred", "case_filed", "unresolved"],
    "med_result": ["success", "partial", "failed"],
    "care_kind": ["followup", "missed_followup", "medication_stopped", "crisis"],
}


def _enum(column: str) -> str:
    return f"ENUM({', '.join(_sql_str(v) for v in _ENUMS[column])})"


def epoch_s(values) -> np.ndarray:
    """Naive timestamps (China Standard Time as recorded) -> int64 epoch seconds."""
    return pd.to_datetime(values).to_numpy(dtype="datetime64[s]").astype(np.int64)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_REGEX_META = set("\\.^$*+?()[]{}")


def _contains_any(text: str, pattern: str) -> str:
    """``regexp_matches(text, pattern)``, as plain substring tests when the pattern is an alternation of
    literals (several times faster than the regex on long notes; same result)."""
    words = pattern.split("|")
    if all(w and not (set(w) & _REGEX_META) for w in words):
        return "(" + " OR ".join(f"contains({text}, {_sql_str(w)})" for w in words) + ")"
    return f"regexp_matches({text}, {_sql_str(pattern)})"


def _keyword_sql(column: str = "i.note") -> str:
    parts = []
    text = f"COALESCE({column}, '')"
    for name, kw in NOTE_KEYWORDS.items():
        hit = _contains_any(text, kw["pattern"])
        if kw["exclude"]:
            # Removing the excluded phrase copies the note; only a note that contains it needs the copy
            # (on any other note the removal changes nothing, so the test on the note itself is the same).
            removed = f"replace({text}, {_sql_str(kw['exclude'])}, '')"
            hit = (f"CASE WHEN contains({text}, {_sql_str(kw['exclude'])}) "
                   f"THEN {_contains_any(removed, kw['pattern'])} ELSE {hit} END")
        parts.append(f"CAST({hit} AS TINYINT) AS {name}")
    return ",\n        ".join(parts)


def _arrow(df: pd.DataFrame, time_cols: tuple[str, ...] = ()):
    """A frame as an Arrow table, with the given timestamps added as epoch seconds (``<col>_s``)."""
    import pyarrow as pa

    df = df.reset_index(drop=True)
    extra = {f"{c}_s": epoch_s(df[c]) for c in time_cols}
    return pa.Table.from_pandas(df.assign(**extra), preserve_index=False)


def epoch_s_sql(expr: str) -> str:
    """SQL for :func:`epoch_s`: whole epoch seconds, rounded down (exact integer arithmetic, as numpy does)."""
    n = f"epoch_ns({expr})"
    return f"(({n} - (({n} % 1000000000) + 1000000000) % 1000000000) // 1000000000)"


_SOURCES = {"_inc": ("incidents", ("event_time", "recorded_at")), "_par": ("incident_parties", ()),
            "_med": ("mediations", ("time", "recorded_at")), "_dp": ("dispute_parties", ()),
            "_care": ("care_records", ("time", "recorded_at")), "_out": ("outcomes", ("time", "recorded_at")),
            "_rep": ("field_reports", ("time", "recorded_at")), "_tip": ("tips", ("time", "recorded_at")),
            "_per": ("persons", ())}


def build_event_relation(con, tables: dict[str, pd.DataFrame]) -> int:
    """Create the ``ev`` table in a DuckDB connection from validated frames; return its row count.

    Runs in DuckDB (joins, keyword search and the duplicate rule in SQL), clustered by person (not sorted:
    see :func:`_build_ev`) so that the online path's per-person filter reads few row groups.
    """
    for view, (table, times) in _SOURCES.items():
        con.register(view, _arrow(tables[table], times))
    try:
        return _build_ev(con)
    finally:
        for view in _SOURCES:
            con.unregister(view)


def prepare_in_duckdb(con) -> int:
    """Everything :class:`~features.store.EventStore` prepares, from validated tables already in ``con``
    (as :mod:`features.validate_sql` leaves them: one table per contract, ordered by ``source_row``).

    Creates ``ev``, ``person_static``, ``grid_incidents`` and ``grid_population`` without a round trip
    through pandas; returns the row count of ``ev``.
    """
    for view, (table, times) in _SOURCES.items():
        extra = "".join(f", {epoch_s_sql(c)} AS {c}_s" for c in times)
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT *{extra} FROM {table}")
    try:
        n = _build_ev(con)
    finally:
        for view in _SOURCES:
            con.execute(f"DROP VIEW {view}")
    con.execute(f"""
    CREATE TABLE person_static AS
    SELECT p.person_id, {epoch_s_sql("p.residence_since")} AS residence_since_ts,
        CAST(p.hukou_address_code <> p.residence_address_code AS TINYINT) AS lives_away, a.grid_id
    FROM persons AS p LEFT JOIN addresses AS a ON a.address_code = p.residence_address_code
    ORDER BY p.source_row
    """)
    con.execute(f"""
    CREATE TABLE grid_incidents AS
    SELECT a.grid_id, {epoch_s_sql("i.event_time")} AS ts, {epoch_s_sql("i.recorded_at")} AS rts
    FROM incidents AS i JOIN addresses AS a ON a.address_code = i.address_code
    """)
    con.execute("CREATE TABLE grid_population AS SELECT grid_id, CAST(population AS BIGINT) AS population FROM grids "
                "ORDER BY source_row")
    return n


def _build_ev(con) -> int:
    """``ev`` from the source views, clustered by person without sorting it.

    Sorting 40 million wide rows was the most expensive step of a large load. Instead the narrow party
    rows are sorted by person once; the joins that follow keep that order (DuckDB preserves the probe
    side's order), so the incident and contact blocks of ``ev`` each run through the persons in order,
    and the small mediation, care and outcome blocks are sorted on their own. A person's rows sit in a
    few row groups, which the online path's per-person filter reads.
    """
    flags = ",\n        ".join(f"CAST(COALESCE(i.{v}, FALSE) AS TINYINT) AS {k}" for k, v in _FLAG_MAP.items())
    # The role as an ENUM from here on: the sort and the join below move one byte instead of a 16-byte string.
    con.execute(f"CREATE TEMP TABLE _sp AS SELECT person_id, incident_id, CAST(role AS {_enum('role')}) AS role "
                "FROM _par ORDER BY person_id")
    # Incident attributes once per incident (keywords in the note), joined to each party row.
    con.execute(f"""
    CREATE TEMP TABLE _ip AS
    SELECT p.person_id, p.incident_id, p.role, i.cat, i.disp, i.ts, i.rts,
        CAST(floor(i.ts / {DUPLICATE_WINDOW_S}.0) AS INTEGER) AS bucket, i.dispute_id,
        i.violence, i.weapon, i.alcohol, i.minor, i.threat, {", ".join(f"i.{k}" for k in NOTE_KEYWORDS)}, i.night
    FROM _sp AS p JOIN (
        SELECT i.incident_id, CAST(i.category AS {_enum('cat')}) AS cat,
            CAST(i.disposition AS {_enum('disp')}) AS disp, i.event_time_s AS ts,
            i.recorded_at_s AS rts, i.dispute_id,
            {flags},
            {_keyword_sql()},
            CAST(extract(hour FROM i.event_time) >= 22 OR extract(hour FROM i.event_time) < 5 AS TINYINT) AS night
        FROM _inc AS i) AS i ON i.incident_id = p.incident_id
    """)
    con.execute("DROP TABLE _sp")
    # Duplicate rule (module docstring): an earlier call of the same person and category, within the
    # window, recorded no later. Ties are ordered by (time, recorded time, incident id). The window is
    # one bucket wide, so the earlier call lies in the same bucket or the one before: an equi-join on
    # (person, category, bucket) with the candidates offered under both buckets, not a join over every
    # pair of a person's calls of one category.
    con.execute(f"""
    CREATE TEMP TABLE _dup AS
    SELECT DISTINCT y.incident_id, y.person_id
    FROM _ip AS y JOIN (
        SELECT person_id, cat, ts, rts, incident_id, bucket AS b FROM _ip
        UNION ALL
        SELECT person_id, cat, ts, rts, incident_id, bucket + 1 AS b FROM _ip) AS z
      ON z.person_id = y.person_id AND z.cat = y.cat AND z.b = y.bucket
     AND z.ts <= y.ts AND y.ts - z.ts <= {DUPLICATE_WINDOW_S} AND z.rts <= y.rts
     AND (z.ts < y.ts OR z.rts < y.rts OR z.incident_id < y.incident_id)
    """)
    # The duplicates leave the call rows in place (a delete of the few, not a copy of the many).
    if con.execute("SELECT COUNT(*) FROM _dup").fetchone()[0]:
        con.execute("""
        DELETE FROM _ip USING _dup AS d WHERE d.incident_id = _ip.incident_id AND d.person_id = _ip.person_id
        """)
    con.execute("ALTER TABLE _ip RENAME TO _calls")
    _obs = {"threat": "obs_threat", "violence": "obs_violence", "gr_rising": "obs_conflict_rising",
            "gr_emotion": "obs_emotion", "gr_harm": "obs_harm_risk"}

    def gr(alias: str, src: str, person: str) -> str:
        flags = ", ".join(f"CAST(COALESCE({alias}.{v}, FALSE) AS TINYINT) AS {k}" for k, v in _obs.items())
        return (f"SELECT '{src}' AS src, {alias}.{person} AS pid, {alias}.address_code, {alias}.category AS cat, "
                f"CAST({alias}.urgency = 'urgent' AS TINYINT) AS gr_urgent, {flags}, {alias}.time_s AS ts, "
                f"{alias}.recorded_at_s AS rts FROM {alias} AS {alias}")

    # Reports and tips: about a named person, or about everyone living at the address.
    con.execute(f"""
    CREATE TEMP TABLE _gr AS
    WITH g AS ({gr('_rep', 'report', 'person_id')} UNION ALL {gr('_tip', 'tip', 'linked_person_id')})
    SELECT COALESCE(g.pid, p.person_id) AS person_id, g.* EXCLUDE (pid, address_code)
    FROM g LEFT JOIN _per AS p ON g.pid IS NULL AND p.residence_address_code = g.address_code
    WHERE COALESCE(g.pid, p.person_id) IS NOT NULL
    """)
    zero_gr = ", 0 AS gr_urgent, 0 AS gr_rising, 0 AS gr_emotion, 0 AS gr_harm"
    zero_flags = ", ".join(f"0 AS {c}" for c in _EV_FLAGS)
    # Incident and contact rows from one join of each call row with every party row of its incident: the
    # party itself gives the incident row, each other party a contact row. The probe side (a, in person
    # order) keeps its order, so both kinds of row come out interleaved by person.
    own = "b.person_id = a.person_id"
    flag_sql = ", ".join(f"CASE WHEN {own} THEN a.{c} ELSE 0 END AS {c}" for c in _EV_FLAGS)
    # Every column is already of its final type (cat, role and disp are ENUMs in _calls, src an ENUM
    # constant): no cast of 40 million text values to an ENUM.
    src = {v: f"CAST({_sql_str(v)} AS {_enum('src')})" for v in ("incident", "contact")}
    con.execute(f"""
    CREATE TABLE ev AS
    SELECT a.person_id, a.ts, a.rts, CASE WHEN {own} THEN {src['incident']} ELSE {src['contact']} END AS src,
        CASE WHEN {own} THEN a.cat END AS cat, CASE WHEN {own} THEN a.role END AS role,
        CASE WHEN {own} THEN a.disp END AS disp, {flag_sql},
        CASE WHEN {own} THEN a.dispute_id END AS dispute_id,
        CASE WHEN {own} THEN NULL ELSE b.person_id END AS other_id,
        CAST(NULL AS {_enum('med_result')}) AS med_result, CAST(NULL AS {_enum('care_kind')}) AS care_kind{zero_gr}
    FROM _calls AS a JOIN (SELECT incident_id, person_id FROM _calls) AS b ON a.incident_id = b.incident_id
    """)
    # The other sources are small: one block, sorted by person.
    con.execute(f"""
    INSERT INTO ev
    SELECT * FROM (
        SELECT dp.person_id, m.time_s AS ts, m.recorded_at_s AS rts, 'mediation' AS src, NULL, NULL, NULL,
            {zero_flags}, m.dispute_id, NULL, m.result, NULL{zero_gr}
        FROM _med AS m JOIN _dp AS dp ON dp.dispute_id = m.dispute_id
        UNION ALL
        SELECT c.person_id, c.time_s, c.recorded_at_s, 'care', NULL, NULL, NULL, {zero_flags},
            NULL, NULL, NULL, c.kind{zero_gr}
        FROM _care AS c
        UNION ALL
        SELECT o.person_id, o.time_s, o.recorded_at_s, 'outcome', NULL, NULL, NULL, {zero_flags},
            NULL, NULL, NULL, NULL{zero_gr}
        FROM _out AS o
        UNION ALL
        SELECT person_id, ts, rts, src, cat, NULL, NULL, violence, 0, 0, 0, threat,
            {", ".join("0" for _ in NOTE_KEYWORDS)}, 0, NULL, NULL, NULL, NULL,
            gr_urgent, gr_rising, gr_emotion, gr_harm
        FROM _gr)
    ORDER BY person_id, ts
    """)
    for name in ("_dup", "_calls", "_gr"):
        con.execute(f"DROP TABLE {name}")
    return con.execute("SELECT COUNT(*) FROM ev").fetchone()[0]


def prepare_person_static(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    p = tables["persons"]
    addr = tables["addresses"].set_index("address_code")["grid_id"]
    since = p["residence_since"]
    return pd.DataFrame({
        "person_id": p["person_id"].astype("string[pyarrow]"),
        "residence_since_ts": pd.array(np.where(since.isna(), np.nan, epoch_s(since.fillna(pd.Timestamp(0))))
                                       , dtype="Int64"),
        "lives_away": (p["hukou_address_code"] != p["residence_address_code"]).astype(np.int8).to_numpy(),
        "grid_id": p["residence_address_code"].map(addr).astype("string[pyarrow]"),
    })


def prepare_grid_incidents(tables: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(incident_id, grid_id, ts, rts) for incidents with a known address, and grid populations."""
    inc = tables["incidents"]
    addr = tables["addresses"].set_index("address_code")["grid_id"]
    grid = inc["address_code"].map(addr)
    keep = grid.notna().to_numpy()
    gi = pd.DataFrame({"grid_id": grid[keep].astype("string[pyarrow]").to_numpy(),
                       "ts": epoch_s(inc.loc[keep, "event_time"]), "rts": epoch_s(inc.loc[keep, "recorded_at"])})
    gp = tables["grids"][["grid_id", "population"]].copy()
    gp["grid_id"] = gp["grid_id"].astype("string[pyarrow]")
    gp["population"] = gp["population"].astype("int64")
    return gi, gp
