"""The point-in-time feature query, built once from the catalog.

One SQL statement computes every feature in :data:`features.catalog.CATALOG` for a set of
(person, as-of) targets. It is plain SQL over five relations (``ev``, ``snapshots``, ``targets``,
``person_static``, ``grid_incidents``/``grid_population``) with integer epoch arithmetic, so DuckDB
runs it here and a distributed SQL engine could run the same text. The online path runs the very
same statement with the targets narrowed to one person.

Point-in-time rule: an event is visible at as-of T only if ``ts < T`` and ``rts < T``.
"""

from __future__ import annotations

from functools import lru_cache

from features.catalog import CATALOG, DAY

__all__ = ["feature_sql", "LOOKBACK_DAYS", "GRID_WINDOW_DAYS"]

LOOKBACK_DAYS = 730        # events older than this are not read (outcomes: all history)
GRID_WINDOW_DAYS = 90


def _visible(alias: str, lookback: bool = True) -> str:
    cond = f"{alias}.ts < s.as_of_ts AND {alias}.rts < s.as_of_ts"
    if lookback:
        cond += f" AND ({alias}.ts >= s.as_of_ts - {LOOKBACK_DAYS * DAY} OR {alias}.src = 'outcome')"
    return cond


_TARGETS = {
    # everyone with a visible event at each snapshot: the groups of ``agg`` (one per person and snapshot
    # with a visible event), not a second DISTINCT over the events
    "population": "SELECT person_id, as_of_ts FROM agg",
    # the persons of the ``targets`` relation at every snapshot (no events -> zero counts)
    "targets": "SELECT targets.person_id, s.as_of_ts FROM targets CROSS JOIN snapshots AS s",
    # one person (the second ``?``)
    "one": "SELECT CAST(? AS VARCHAR) AS person_id, s.as_of_ts FROM snapshots AS s",
}


@lru_cache(maxsize=8)
def feature_sql(mode: str = "population") -> str:
    """The feature statement for ``mode`` in ``population``, ``targets`` or ``one``.

    ``one`` takes three ``?`` parameters, each the person id (the online path).
    """
    one_person = mode == "one"
    # The visible events of each snapshot, written out in each block that reads them rather than as one
    # shared CTE: a CTE read three times is materialized (40 million rows at province scale, spilled past
    # the memory bound), while each inline copy scans ``ev`` with its own filter and only its columns.
    base = "pev" if one_person else "ev"

    def visible_events(where: str = "") -> str:
        return (f"(SELECT ev.*, s.as_of_ts, s.as_of_ts - ev.ts AS age FROM {base} AS ev "
                f"JOIN snapshots AS s ON {_visible('ev')}{' WHERE ' + where if where else ''}) AS ev")

    events = [f for f in CATALOG.values() if f.block == "events"]
    dispute = [f for f in CATALOG.values() if f.block == "dispute"]
    counterparty = [f for f in CATALOG.values() if f.block == "counterparty"]

    def outer(f) -> str:
        if f.kind == "days":
            return f"agg.{f.name}"
        return f"COALESCE(agg.{f.name}, 0)"

    select = [outer(f) + f" AS {f.name}" for f in events]
    select += [f"COALESCE(disp.{f.name}, 0) AS {f.name}" for f in dispute]
    select += [f"COALESCE(cp.{f.name}, 0) AS {f.name}" for f in counterparty]
    select += [
        "CASE WHEN gp.population IS NULL THEN NULL "
        "ELSE 1000.0 * COALESCE(grid.n_calls, 0) / gp.population END AS grid_calls_90d_per_1k",
        "CASE WHEN ps.residence_since_ts IS NULL OR ps.residence_since_ts > t.as_of_ts THEN NULL "
        f"ELSE (t.as_of_ts - ps.residence_since_ts) / {DAY}.0 END AS days_at_residence",
        "ps.lives_away AS lives_away_from_hukou",
    ]
    expected = {f.name for f in CATALOG.values()}
    produced = {s.rsplit(" AS ", 1)[1] for s in select}
    assert produced == expected, sorted(expected ^ produced)

    return f"""
WITH {"pev AS (SELECT * FROM ev WHERE ev.person_id = ?)," if one_person else ""}
agg AS (
    SELECT ev.person_id, ev.as_of_ts,
        {(','+chr(10)+'        ').join(f'{f.sql} AS {f.name}' for f in events)}
    FROM {visible_events()}
    GROUP BY ev.person_id, ev.as_of_ts
),
per_dispute AS (
    SELECT ev.person_id, ev.as_of_ts, ev.dispute_id,
        {(','+chr(10)+'        ').join(f'{f.sql} AS {f.name}' for f in dispute)}
    FROM {visible_events("ev.src = 'incident' AND ev.dispute_id IS NOT NULL")}
    GROUP BY ev.person_id, ev.as_of_ts, ev.dispute_id
),
disp AS (
    SELECT person_id, as_of_ts, {', '.join(f.outer.format(x=f.name) + f' AS {f.name}' for f in dispute)}
    FROM per_dispute
    GROUP BY person_id, as_of_ts
),
per_counterparty AS (
    SELECT ev.person_id, ev.as_of_ts, ev.other_id,
        {(','+chr(10)+'        ').join(f'{f.sql} AS {f.name}' for f in counterparty)}
    FROM {visible_events("ev.src = 'contact'")}
    GROUP BY ev.person_id, ev.as_of_ts, ev.other_id
),
cp AS (
    SELECT person_id, as_of_ts, {', '.join(f.outer.format(x=f.name) + f' AS {f.name}' for f in counterparty)}
    FROM per_counterparty
    GROUP BY person_id, as_of_ts
),
t AS (
    {_TARGETS[mode]}
),
grid AS (
    SELECT g.grid_id, s.as_of_ts, COUNT(*) AS n_calls
    FROM grid_incidents AS g
    JOIN snapshots AS s ON g.ts < s.as_of_ts AND g.rts < s.as_of_ts AND g.ts >= s.as_of_ts - {GRID_WINDOW_DAYS * DAY}
    {"WHERE g.grid_id IN (SELECT grid_id FROM person_static WHERE person_id = ?)" if one_person else ""}
    GROUP BY g.grid_id, s.as_of_ts
)
SELECT t.person_id, t.as_of_ts,
    {(','+chr(10)+'    ').join(select)}
FROM t
LEFT JOIN agg ON agg.person_id = t.person_id AND agg.as_of_ts = t.as_of_ts
LEFT JOIN disp ON disp.person_id = t.person_id AND disp.as_of_ts = t.as_of_ts
LEFT JOIN cp ON cp.person_id = t.person_id AND cp.as_of_ts = t.as_of_ts
LEFT JOIN person_static AS ps ON ps.person_id = t.person_id
LEFT JOIN grid_population AS gp ON gp.grid_id = ps.grid_id
LEFT JOIN grid ON grid.grid_id = ps.grid_id AND grid.as_of_ts = t.as_of_ts
ORDER BY t.as_of_ts, t.person_id
"""
