"""The online path: one person's feature vector in about a millisecond, from the batch path's own SQL.

:func:`features.pointintime.feature_sql` (``mode="one"``) is plain SQL over five relations. DuckDB
runs it for the batch, where its fixed cost (parsing, binding and optimising a statement of some sixty
aggregates: tens of milliseconds) is paid once for a whole population. For one person that fixed cost
*is* the cost, and scanning the million-row relations for one id comes on top.

So the online path keeps what a person's vector can read, indexed once per store:

* ``ev`` sorted by (person, time), with the first row of each person: one binary search finds a
  person's rows, and only those before the as-of are handed on (a superset of what the SQL reads:
  the statement applies the point-in-time rule itself);
* ``grid_incidents`` sorted by (grid, time): the person's grid rows in the 90-day window, again a
  superset that the statement filters exactly;
* ``person_static`` and ``grid_population`` by id.

Those few rows go into a small in-memory SQLite database, where the **same statement text** runs
(SQLite prepares it once and keeps it in its statement cache). Features stay declared once, in
:mod:`features.catalog`; the property test ``tests/features/test_pointintime.py`` checks the online
vector against the batch vector on simulated worlds.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence

import numpy as np

from features.catalog import DAY, FEATURE_NAMES
from features.pointintime import GRID_WINDOW_DAYS, feature_sql
from features.prepare import EV_COLUMNS

__all__ = ["OnlineIndex"]

_STATIC = ("person_id", "residence_since_ts", "lives_away", "grid_id")


class _Sorted:
    """Rows of an Arrow table sorted by a key column, with the first row of every key."""

    def __init__(self, table, key: str, time_col: str | None):
        import pyarrow as pa

        table = table.combine_chunks()
        # dictionary (ENUM) columns as plain text: SQLite compares them with the catalog's literals
        self.table = pa.table({f.name: (table[f.name].cast(pa.string()) if pa.types.is_dictionary(f.type)
                                        else table[f.name]) for f in table.schema})
        k = np.asarray(table[key].to_numpy(zero_copy_only=False), dtype=str)
        if len(k) > 1 and not (k[1:] >= k[:-1]).all():  # the engine's order is not code-point order
            order = np.argsort(k, kind="stable")
            self.table, k = self.table.take(order), k[order]
        if len(k):
            first = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1]]))
            self.keys = k[first]
            self.starts = np.append(first, len(k)).astype(np.int64)
        else:
            self.keys = k
            self.starts = np.zeros(1, dtype=np.int64)
        self.times = None if time_col is None else self.table[time_col].to_numpy()

    def span(self, key: str) -> tuple[int, int]:
        i = int(np.searchsorted(self.keys, key))
        if i >= len(self.keys) or self.keys[i] != key:
            return 0, 0
        return int(self.starts[i]), int(self.starts[i + 1])

    def rows(self, lo: int, hi: int) -> list[tuple]:
        """Rows ``lo:hi`` as tuples of Python values (Arrow keeps ints ints and nulls None)."""
        if hi <= lo:
            return []
        part = self.table.slice(lo, hi - lo)
        return list(zip(*(c.to_pylist() for c in part.columns), strict=True))


class OnlineIndex:
    """Per-person and per-grid slices of a store's relations, and the SQLite database that scores them.

    Built from the DuckDB connection of an :class:`~features.store.EventStore` (one export of each
    relation, sorted); thread-safe (one lock around the SQLite connection).
    """

    def __init__(self, con):
        cols = ", ".join(EV_COLUMNS)
        ev = con.execute(f"SELECT {cols} FROM ev ORDER BY person_id, ts").to_arrow_table()
        gi = con.execute("SELECT grid_id, ts, rts FROM grid_incidents WHERE grid_id IS NOT NULL "
                         "ORDER BY grid_id, ts").to_arrow_table()
        ps = con.execute(f"SELECT {', '.join(_STATIC)} FROM person_static ORDER BY person_id").to_arrow_table()
        gp = con.execute("SELECT grid_id, population FROM grid_population ORDER BY grid_id").to_arrow_table()
        self._ev = _Sorted(ev, "person_id", "ts")
        self._gi = _Sorted(gi, "grid_id", "ts")
        self._ps = _Sorted(ps, "person_id", None)
        self._gp = _Sorted(gp, "grid_id", None)
        self._sql = feature_sql("one")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._db.executescript(
            f"CREATE TABLE ev ({', '.join(EV_COLUMNS)});"
            f"CREATE TABLE person_static ({', '.join(_STATIC)});"
            "CREATE TABLE grid_incidents (grid_id, ts, rts);"
            "CREATE TABLE grid_population (grid_id, population);"
            "CREATE TABLE snapshots (as_of_ts);")
        self._insert = {
            "ev": f"INSERT INTO ev VALUES ({', '.join('?' * len(EV_COLUMNS))})",
            "person_static": f"INSERT INTO person_static VALUES ({', '.join('?' * len(_STATIC))})",
            "grid_incidents": "INSERT INTO grid_incidents VALUES (?, ?, ?)",
            "grid_population": "INSERT INTO grid_population VALUES (?, ?)",
            "snapshots": "INSERT INTO snapshots VALUES (?)",
        }

    def vector(self, person_id: str, as_of_ts: int) -> dict[str, float | None]:
        """The feature vector of ``person_id`` as of ``as_of_ts`` (epoch seconds of the data time)."""
        lo, hi = self._ev.span(person_id)
        assert self._ev.times is not None
        hi = lo + int(np.searchsorted(self._ev.times[lo:hi], as_of_ts))  # events at/after as-of are never read
        static = self._ps.rows(*self._ps.span(person_id))
        grid = static[0][3] if static else None
        grid_rows: list[tuple] = []
        pop_rows: list[tuple] = []
        if grid is not None:
            g_lo, g_hi = self._gi.span(grid)
            if g_hi > g_lo:
                assert self._gi.times is not None
                times = self._gi.times[g_lo:g_hi]
                a = int(np.searchsorted(times, as_of_ts - GRID_WINDOW_DAYS * DAY))
                b = int(np.searchsorted(times, as_of_ts))
                grid_rows = self._gi.rows(g_lo + a, g_lo + b)
            pop_rows = self._gp.rows(*self._gp.span(grid))
        rows = {"ev": self._ev.rows(lo, hi), "person_static": static, "grid_incidents": grid_rows,
                "grid_population": pop_rows, "snapshots": [(int(as_of_ts),)]}
        with self._lock:
            cur = self._db.cursor()
            try:
                for name, data in rows.items():
                    cur.execute(f"DELETE FROM {name}")
                    if data:
                        cur.executemany(self._insert[name], data)
                cur.execute(self._sql, [person_id, person_id, person_id])
                names = [d[0] for d in cur.description]
                row = cur.fetchone()
            finally:
                cur.close()
        values = dict(zip(names, row, strict=True))
        return {name: (None if values[name] is None else float(values[name])) for name in FEATURE_NAMES}

    def vectors(self, person_ids: Sequence[str], as_of_ts: int) -> list[dict[str, float | None]]:
        return [self.vector(p, as_of_ts) for p in person_ids]
