"""The world behind the console: the EventStore of the configured data directory, opened once.

It answers three questions: where a person belongs (household registration and residence as
:class:`common.places.Place`, with grid, village, township and police station: this decides
jurisdiction), what happened to a person (the incident timeline), and who to route to (the alert
store's :class:`~serving.operations.alerts.Directory`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from common.places import Place

__all__ = ["World", "TimelineEntry"]


@dataclass(frozen=True)
class TimelineEntry:
    time: object
    kind: str                 # incident | mediation
    record_id: str
    role: str
    category: str
    disposition: str | None   # incident disposition, or mediation result
    flags: tuple[str, ...]
    note: str | None
    recorded_at: object


_FLAG_LABELS = {"flag_violence": "有暴力", "flag_weapon": "持械", "flag_alcohol": "酒后",
                "flag_minor_present": "未成年人在场",
                "flag_threat": "有威胁言语"}


class World:
    """Lazy: nothing is read until the first question. Pass ``event_store`` to reuse an open one."""

    def __init__(self, data_dir: str | Path | None = None, *, event_store=None):
        self.data_dir = Path(data_dir) if data_dir else None
        self._es = event_store
        self._lock = threading.Lock()
        self._directory = None
        self._grids: dict[str, dict] | None = None
        self._addresses: dict[str, str] | None = None
        self._persons: dict[str, tuple[str, str]] | None = None
        self._county_names: dict[str, str] | None = None
        self._stations = None

    @property
    def available(self) -> bool:
        return self._es is not None or (self.data_dir is not None and self.data_dir.is_dir())

    def store(self):
        with self._lock:
            if self._es is None:
                if not self.available:
                    return None
                from features.store import EventStore

                self._es = EventStore.open(self.data_dir, progress=False)
            return self._es

    def _indexes(self) -> bool:
        es = self.store()
        if es is None:
            return False
        with self._lock:
            if self._grids is None:
                g = es.table("grids")
                self._grids = {r["grid_id"]: r for r in g.astype(object).where(g.notna(), None).to_dict("records")}
                a = es.table("addresses")
                self._addresses = dict(zip(a["address_code"], a["grid_id"], strict=True))
                p = es.table("persons")
                self._persons = {pid: (h, r) for pid, h, r in
                                 zip(p["person_id"], p["hukou_address_code"], p["residence_address_code"], strict=True)}
        return True

    def directory(self):
        """The routing directory (``None`` without a world: approvals then fail with a RoutingError)."""
        es = self.store()
        if es is None:
            return None
        with self._lock:
            if self._directory is None:
                from serving.operations.alerts import Directory

                self._directory = Directory.from_event_store(es)
            return self._directory

    def station_index(self):
        """Who belongs to which police station (for the station scorecard), built once; None without a world."""
        es = self.store()
        if es is None:
            return None
        with self._lock:
            if self._stations is None:
                from serving.operations.alerts.scorecard import StationIndex

                self._stations = StationIndex.from_event_store(es)
            return self._stations

    def _place(self, kind: str, code: str | None) -> Place:
        grid_id = (self._addresses or {}).get(code) if code else None
        g = ((self._grids or {}).get(grid_id) if grid_id else None) or {}
        return Place(kind, code or None, station_id=g.get("station_id"), grid_id=grid_id,
                     village_name=g.get("village_name"), township_name=g.get("township_name"))

    def places(self, person_id: str) -> list[Place]:
        """Household-registration and residence places; ``[Place('unknown', None)]`` if not in the world."""
        if not self._indexes() or self._persons is None or person_id not in self._persons:
            return [Place("unknown", None)]
        hukou, residence = self._persons[person_id]
        return [self._place("hukou", hukou), self._place("residence", residence)]

    def county_name(self, code: str | None) -> str:
        if not code:
            return "未知"
        if self._county_names is None:
            from features.divisions import load_divisions

            d = load_divisions()
            self._county_names = dict(zip(d["code"].astype(str), d["name"], strict=True))
        return self._county_names.get(str(code), str(code))

    def timeline(self, person_id: str, *, with_notes: bool, limit: int = 200) -> list[TimelineEntry]:
        """The person's recorded incidents and mediation attempts, newest first.

        Incident notes only when ``with_notes`` (police roles); mediations carry no free text.
        """
        es = self.store()
        if es is None:
            return []
        out: list[TimelineEntry] = []
        parties = es.table("incident_parties")
        mine = parties[parties["person_id"] == person_id]
        if not mine.empty:
            inc = es.table("incidents")
            rows = inc[inc["incident_id"].isin(mine["incident_id"])].merge(
                mine[["incident_id", "role"]], on="incident_id", how="left")
            for r in rows.to_dict("records"):
                flags = tuple(label for col, label in _FLAG_LABELS.items() if bool(r.get(col)) is True)
                out.append(TimelineEntry(r["event_time"], "incident", r["incident_id"], r.get("role") or "",
                                         r.get("category") or "", r.get("disposition"), flags,
                                         r.get("note") if with_notes else None, r.get("recorded_at")))
        dparties = es.table("dispute_parties")
        disputes = dparties.loc[dparties["person_id"] == person_id, "dispute_id"]
        if len(disputes):
            med = es.table("mediations")
            cats = es.table("disputes").set_index("dispute_id")["category"]
            for r in med[med["dispute_id"].isin(disputes)].to_dict("records"):
                out.append(TimelineEntry(r["time"], "mediation", r["mediation_id"], r.get("mediator") or "",
                                         cats.get(r["dispute_id"], "") or "", r.get("result"), (), None,
                                         r.get("recorded_at")))
        out.sort(key=lambda t: cast(Any, t.time), reverse=True)  # pandas timestamps, all of one kind
        return out[:limit]
