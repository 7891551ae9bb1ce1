"""Where the service gets feature vectors: an EventStore opened once at start-up, plus a cache.

A point-in-time feature query costs about 0.1 s however few people it is for (one large SQL
statement), far over a 20 ms request budget. So the first request for an as-of date computes the
whole population of that date in one query and keeps it (a few dates, least recently used);
further requests for that date are dictionary look-ups. People who are in the data but have no
recent records are computed on demand and added. The event path, which needs the exact vector at
an arbitrary time, uses :meth:`FeatureSource.vector_at` (the store's online path).

The cache is safe under threads: one lock per date being computed, so a burst of requests for a new
date runs the query once.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from common.clock import to_data_time, utcnow
from common.places import Place
from features.catalog import FEATURE_NAMES
from serving.scoring.errors import ScoringInputError

__all__ = ["FeatureSource", "normalise_as_of"]


def normalise_as_of(value, field: str = "as_of") -> pd.Timestamp:
    """A data-contract time (naive Beijing wall time, :func:`common.clock.to_data_time`) from a date or
    date-time; an aware value is converted. 4xx naming the field if bad."""
    if isinstance(value, pd.Timestamp):
        ts = value
    else:
        try:
            ts = pd.Timestamp(value)
        except (ValueError, TypeError):
            raise ScoringInputError(f"{value!r} 不是有效日期 / is not a date or date-time (use YYYY-MM-DD or "
                                    f"ISO 8601).", field=field) from None
    if ts is pd.NaT:
        raise ScoringInputError(f"{value!r} 不是有效日期 / is not a date (use YYYY-MM-DD).", field=field)
    try:  # pandas parses years like 0000 in a coarser unit; the data and the code work in nanoseconds
        ts = ts.as_unit("ns")
        if ts.tzinfo is not None:
            ts = pd.Timestamp(to_data_time(ts)).as_unit("ns")
    except (ValueError, OverflowError, NotImplementedError):
        raise ScoringInputError(f"{str(value)[:40]!r} 超出可用日期范围 / is outside the supported dates "
                                f"({pd.Timestamp.min.year + 1}..{pd.Timestamp.max.year - 1}).", field=field) from None
    return ts


def _column(frame: pd.DataFrame, name: str) -> list:
    return frame[name].astype("string").astype(object).where(frame[name].notna(), None).tolist()


def _lookup(store, name: str, key: str, value: str) -> dict:
    try:
        t = store.table(name)
    except KeyError:
        return {}
    return dict(zip(_column(t, key), _column(t, value), strict=True))


def _person_places(store) -> dict[str, tuple[Place, ...]]:
    """person id -> (household-registration place, residence place), each with the grid and the police
    station that serves it (standard address -> grid -> station) where the tables know them."""
    persons = store.table("persons")
    grid_of = _lookup(store, "addresses", "address_code", "grid_id")
    station_of = _lookup(store, "grids", "grid_id", "station_id")
    try:
        known_stations = set(_column(store.table("stations"), "station_id"))
    except KeyError:
        known_stations = None

    def place(kind: str, code: str | None) -> Place:
        grid = grid_of.get(code) if code else None
        station = station_of.get(grid) if grid else None
        if station is not None and known_stations is not None and station not in known_stations:
            station = None  # a grid pointing at a station the stations table does not list: not trusted
        return Place(kind, code or None, station_id=station, grid_id=grid)

    return {pid: (place("hukou", h), place("residence", r))
            for pid, h, r in zip(persons["person_id"].astype(str).tolist(), _column(persons, "hukou_address_code"),
                                 _column(persons, "residence_address_code"), strict=True)}


class _Snapshot:
    """One as-of date: the frame, a catalog-ordered float matrix of it, and person id -> row."""

    def __init__(self, frame: pd.DataFrame, population: int | None = None):
        self.lock = threading.Lock()
        self.set(frame)
        #: the first ``population`` rows are the scoring population (records in the look-back year, as
        #: in training); rows after them (other people with older records, people looked up on demand)
        #: answer lookups but never join the population a budget is shared over.
        self.population = len(frame) if population is None else int(population)

    def set(self, frame: pd.DataFrame) -> None:
        frame = frame.reset_index(drop=True)
        matrix = frame.reindex(columns=list(FEATURE_NAMES)).to_numpy(dtype=np.float64, na_value=np.nan)
        pos = {pid: i for i, pid in enumerate(frame["person_id"].tolist())}
        # readers take (matrix, pos) together; replace both in one assignment
        self.frame, self.state = frame, (matrix, pos)

    @property
    def pos(self) -> dict:
        return self.state[1]


class FeatureSource:
    """Feature vectors, places and the data window of one data directory."""

    def __init__(self, store, data_dir: Path | None = None, cache_dates: int = 4):
        self.store = store
        self.data_dir = data_dir
        self.opened_at = pd.Timestamp(utcnow()).floor("s")     # aware UTC: the snapshot time of every score
        self._places = _person_places(store)
        self.n_grids = int(len(store.table("grids")))
        self.start, self.end = self._window()
        self._cache: OrderedDict[pd.Timestamp, _Snapshot] = OrderedDict()
        self._cache_dates = cache_dates
        self._lock = threading.Lock()
        self._building: dict[pd.Timestamp, threading.Lock] = {}

    @classmethod
    def open(cls, data_dir: str | Path) -> FeatureSource:
        from features.errors import FeaturesError
        from features.store import EventStore

        try:
            store = EventStore.open(data_dir, progress=False)
        except FeaturesError as exc:
            from serving.scoring.errors import ServingConfigError

            raise ServingConfigError(f"数据目录无法打开 / cannot open data dir {str(data_dir)!r}: {exc}",
                                     field="data_dir") from None
        return cls(store, Path(data_dir))

    def _window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        info = {}
        if self.data_dir is not None and (self.data_dir / "world.json").exists():
            info = json.loads((self.data_dir / "world.json").read_text(encoding="utf-8"))
        inc = self.store.table("incidents")
        start = info.get("start_date") or (inc["event_time"].min() if len(inc) else "2000-01-01")
        ends = [pd.Timestamp(info["end_date"])] if info.get("end_date") else []
        if len(inc):
            ends.append(pd.Timestamp(inc["recorded_at"].max()))  # late records arrive after the last event day
        end = max(ends) if ends else pd.Timestamp("2000-01-01")
        return pd.Timestamp(start).normalize(), end.normalize()

    @property
    def default_as_of(self) -> pd.Timestamp:
        """The day after the last day of data: "today" for a static data directory."""
        return self.end + pd.Timedelta(days=1)

    # -- places ------------------------------------------------------------------------------------
    def places(self, person_id: str) -> tuple[Place, ...] | None:
        """The person's own places (household registration, residence) with grid and police station where
        the world's tables know them; ``None`` for a person not in the data. They alone decide scope."""
        return self._places.get(person_id)

    def known(self, person_id: str) -> bool:
        return person_id in self._places

    # -- feature vectors ---------------------------------------------------------------------------
    def check_as_of(self, ts: pd.Timestamp, field: str = "as_of") -> pd.Timestamp:
        if ts < self.start or ts > self.end + pd.Timedelta(days=1):
            raise ScoringInputError(
                f"{ts.date()} 超出数据时间范围 / is outside the data window {self.start.date()} .. "
                f"{(self.end + pd.Timedelta(days=1)).date()}: features after the last record would be stale.",
                field=field)
        return ts

    def _snapshot(self, ts: pd.Timestamp) -> _Snapshot:
        with self._lock:
            snap = self._cache.get(ts)
            if snap is not None:
                self._cache.move_to_end(ts)
                return snap
            build = self._building.setdefault(ts, threading.Lock())
        with build:
            with self._lock:
                snap = self._cache.get(ts)
            if snap is None:
                f = self.store.features(ts, progress=False)
                inside = f["person_id"].astype(str).isin(set(self.store.population(ts))).to_numpy()
                snap = _Snapshot(pd.concat([f[inside], f[~inside]], ignore_index=True), int(inside.sum()))
                with self._lock:
                    self._cache[ts] = snap
                    self._cache.move_to_end(ts)
                    while len(self._cache) > self._cache_dates:
                        self._cache.popitem(last=False)
                    self._building.pop(ts, None)
        return snap

    def is_cached(self, ts: pd.Timestamp) -> bool:
        return ts in self._cache

    def _extend(self, snap: _Snapshot, person_ids: Sequence[str], ts: pd.Timestamp) -> None:
        """Add known people without recent records (computed on demand, once)."""
        missing = [p for p in dict.fromkeys(person_ids) if p not in snap.pos and p in self._places]
        if missing:
            with snap.lock:
                missing = [p for p in missing if p not in snap.pos]
                if missing:
                    extra = self.store.features(ts, person_ids=missing, progress=False)
                    snap.set(pd.concat([snap.frame, extra], ignore_index=True))

    def rows_for(self, person_ids: Sequence[str], ts: pd.Timestamp) -> tuple[list[str], np.ndarray]:
        """(ids found, catalog-ordered feature matrix) for known ``person_ids`` at ``ts``, in order given."""
        snap = self._snapshot(ts)
        self._extend(snap, person_ids, ts)
        matrix, pos = snap.state
        found = [p for p in person_ids if p in pos]
        return found, matrix[[pos[p] for p in found]]

    def frame_for(self, person_ids: Sequence[str], ts: pd.Timestamp) -> pd.DataFrame:
        """Feature rows for known ``person_ids`` at ``ts``, in the order given (unknown ids skipped)."""
        snap = self._snapshot(ts)
        self._extend(snap, person_ids, ts)
        pos = snap.pos
        rows = [pos[p] for p in person_ids if p in pos]
        return snap.frame.iloc[rows].reset_index(drop=True)

    def population_frame(self, ts: pd.Timestamp) -> pd.DataFrame:
        """The scoring population at ``ts`` (cached): people with an incident, mediation or care record
        in the look-back year (``EventStore.population``, the training population), never widened by
        people looked up on demand, so a budget is always shared over the same people."""
        snap = self._snapshot(ts)
        return snap.frame.iloc[:snap.population]

    def history(self, person_id: str, dates: Sequence[pd.Timestamp]) -> pd.DataFrame:
        """One row per date for one person (one query for all dates)."""
        return self.store.features(list(dates), person_ids=[person_id], progress=False)

    def vector_at(self, person_id: str, ts: pd.Timestamp) -> dict[str, float | None]:
        """The exact feature vector at an arbitrary time (events strictly before ``ts``)."""
        return self.store.online_vector(person_id, ts)

    def warm(self, ts: pd.Timestamp) -> float:
        t0 = time.perf_counter()
        self._snapshot(ts)
        return time.perf_counter() - t0


def empty_feature_frame() -> pd.DataFrame:
    return pd.DataFrame(columns=["person_id", "as_of", *FEATURE_NAMES])


def records_frame(records: Sequence[dict]) -> pd.DataFrame:
    """A feature frame from supplied records (``person_id``, ``as_of``, ``features`` dict)."""
    n = len(records)
    data = {name: np.full(n, np.nan) for name in FEATURE_NAMES}
    for i, r in enumerate(records):
        for k, v in r["features"].items():
            data[k][i] = np.nan if v is None else float(v)
    frame = pd.DataFrame({"person_id": [r["person_id"] for r in records],
                          "as_of": pd.to_datetime([normalise_as_of(r["as_of"], f"records[{i}].as_of")
                                                   for i, r in enumerate(records)]), **data})
    return frame
