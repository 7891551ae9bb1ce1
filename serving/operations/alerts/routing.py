"""Routing: person -> household-registration grid and residence grid -> reachable staff -> inbox ids.

A person has two places (:class:`common.places.Place`): household registration and residence, both
always listed, even when they share an address. Routing serves grids, not addresses: places in the
same grid (or, off the address register, at the same address) are served once, and the recipients
reached there carry the kinds they serve (``Recipient.places = ('hukou', 'residence')``). This
``kinds`` notion lives only here, because a delivery and its payload must say which of the person's
places the cadre is asked about; the places themselves stay the one shared type. A staff member
reached from both places gets one delivery.

A grid's reachable staff are its active grid workers, cadres and community officer that have an inbox
identity. A grid with none falls back to its township's fallback desk (``role == 'township_fallback'``,
same township); either way the gap is reported (``Route.gaps``) and stored by the alert store.

>>> import pandas as pd
>>> d = Directory.from_frames(
...     persons=pd.DataFrame({"person_id": ["P1"], "hukou_address_code": ["510104001001-0001"],
...                           "residence_address_code": ["510104001001-0001"]}),
...     addresses=pd.DataFrame({"address_code": ["510104001001-0001"], "grid_id": ["G51010400100101"],
...                             "village_code": ["510104001001"]}),
...     grids=pd.DataFrame({"grid_id": ["G51010400100101"], "village_name": ["顺永社区"],
...                         "township_code": ["510104001"], "township_name": ["中北街道"]}),
...     staff=pd.DataFrame({"staff_id": ["W1"], "role": ["grid_worker"], "grid_id": ["G51010400100101"],
...                         "township_code": ["510104001"], "inbox_id": ["o-1"], "active": [True]}))
>>> r = d.route("P1")
>>> [(x.inbox_id, x.places) for x in r.recipients], r.gaps
([('o-1', ('hukou', 'residence'))], ())
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from common.places import PLACE_LABELS, Place
from serving.operations.alerts.errors import RoutingError

__all__ = ["Directory", "Recipient", "Gap", "Route", "GRID_ROLES", "FALLBACK_ROLE", "PLACE_LABELS", "served_together"]

GRID_ROLES = ("grid_worker", "cadre", "community_officer")
FALLBACK_ROLE = "township_fallback"


@dataclass(frozen=True)
class Recipient:
    staff_id: str
    inbox_id: str
    role: str
    grid_id: str | None
    township_code: str
    places: tuple[str, ...]
    fallback: bool = False
    display_name: str | None = None


@dataclass(frozen=True)
class Gap:
    place: str                      # "hukou", "residence" or "hukou+residence"
    grid_id: str | None
    township_code: str | None
    kind: str                       # fallback_used | unreachable | unknown_address
    detail: str


@dataclass(frozen=True)
class Route:
    person_id: str
    places: tuple[Place, ...]       # the person's own places: hukou, then residence
    recipients: tuple[Recipient, ...]
    gaps: tuple[Gap, ...]


def served_together(places: Iterable[Place]) -> list[tuple[Place, ...]]:
    """The places grouped as routing serves them: one group per grid (per address when off the register),
    in the order first seen; the residence comes first inside a group, as its address is the one shown."""
    groups: dict[str, list[Place]] = {}
    for p in places:
        groups.setdefault(p.grid_id or f"address:{p.address_code}", []).append(p)
    return [tuple(sorted(g, key=lambda p: p.kind != "residence")) for g in groups.values()]


def _records(frame, columns: Iterable[str]) -> list[dict]:
    cols = [c for c in columns if c in frame.columns]
    out = frame[cols].astype(object).where(frame[cols].notna(), None)
    return out.to_dict("records")


class Directory:
    """Who lives and works where, built once from the feature store's validated tables."""

    def __init__(self, persons: dict, addresses: dict, grids: dict, staff_by_grid: dict, fallback_by_township: dict):
        self._persons = persons
        self._addresses = addresses
        self._grids = grids
        self._staff_by_grid = staff_by_grid
        self._fallback = fallback_by_township

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_frames(cls, *, persons, addresses, grids, staff) -> Directory:
        p = {r["person_id"]: (r["hukou_address_code"], r["residence_address_code"])
             for r in _records(persons, ["person_id", "hukou_address_code", "residence_address_code"])}
        a = {r["address_code"]: r for r in _records(addresses, ["address_code", "grid_id", "village_code"])}
        g = {r["grid_id"]: r for r in _records(grids, ["grid_id", "village_name", "township_code", "township_name",
                                                      "station_id"])}
        by_grid: dict[str, list[Recipient]] = {}
        fallback: dict[str, list[Recipient]] = {}
        for r in _records(staff, ["staff_id", "role", "grid_id", "township_code", "inbox_id", "active",
                                  "display_name"]):
            if not r.get("active") or not r.get("inbox_id"):
                continue
            rec = Recipient(staff_id=str(r["staff_id"]), inbox_id=str(r["inbox_id"]), role=str(r["role"]),
                            grid_id=r.get("grid_id"), township_code=str(r["township_code"]), places=(),
                            fallback=r["role"] == FALLBACK_ROLE, display_name=r.get("display_name"))
            if r["role"] == FALLBACK_ROLE:
                fallback.setdefault(rec.township_code, []).append(rec)
            elif r["role"] in GRID_ROLES and r.get("grid_id"):
                by_grid.setdefault(str(r["grid_id"]), []).append(rec)
        return cls(p, a, g, by_grid, fallback)

    @classmethod
    def from_event_store(cls, store) -> Directory:
        """From a ``features.store.EventStore`` (validated tables)."""
        return cls.from_frames(persons=store.table("persons"), addresses=store.table("addresses"),
                               grids=store.table("grids"), staff=store.table("staff"))

    # -- queries ---------------------------------------------------------------------------------
    def knows(self, person_id: str) -> bool:
        return person_id in self._persons

    def place(self, kind: str, address_code: str) -> Place:
        addr = self._addresses.get(address_code)
        grid_id = addr["grid_id"] if addr else None
        grid = (self._grids.get(grid_id) if grid_id else None) or {}
        return Place(kind, address_code, station_id=grid.get("station_id"), grid_id=grid_id,
                     village_name=grid.get("village_name"), township_name=grid.get("township_name"))

    def township_of(self, place: Place) -> str | None:
        """The township whose fallback desk serves the place: its grid's, else the address's own."""
        grid = self._grids.get(place.grid_id) if place.grid_id else None
        return str(grid["township_code"]) if grid and grid.get("township_code") else place.township_code

    def places(self, person_id: str) -> tuple[Place, ...]:
        """The person's household-registration and residence places (two, even at one address)."""
        try:
            hukou, residence = self._persons[person_id]
        except KeyError:
            raise RoutingError(f"人员不在目录中 / person {person_id!r} is not in the directory; reload the "
                               f"directory from the current world (Directory.from_event_store).") from None
        return (self.place("hukou", hukou), self.place("residence", residence))

    def grid_staff(self, grid_id: str | None) -> list[Recipient]:
        return list(self._staff_by_grid.get(grid_id, ())) if grid_id else []

    def route(self, person_id: str) -> Route:
        places = self.places(person_id)
        chosen: dict[str, Recipient] = {}
        gaps: list[Gap] = []
        for group in served_together(places):
            place = group[0]
            served = tuple(k for k in ("hukou", "residence") if any(p.kind == k for p in group))
            label = "+".join(served)
            staff = self.grid_staff(place.grid_id)
            if not staff:
                township = self.township_of(place)
                desks = self._fallback.get(township, []) if township else []
                kind = "fallback_used" if desks else "unreachable"
                if place.grid_id is None:
                    kind = "unknown_address" if not desks else "fallback_used"
                why = ("地址不在标准地址库" if place.grid_id is None else f"网格 {place.grid_id} 无可达人员")
                then = "已转乡镇（街道）兜底值班" if desks else "且乡镇无兜底值班，无法送达"
                gaps.append(Gap(place=label, grid_id=place.grid_id, township_code=township, kind=kind,
                                detail=f"{why}，{then}"))
                staff = desks
            for rec in staff:
                prev = chosen.get(rec.inbox_id)
                kinds = tuple(dict.fromkeys((prev.places if prev else ()) + served))
                chosen[rec.inbox_id] = Recipient(rec.staff_id, rec.inbox_id, rec.role, rec.grid_id, rec.township_code,
                                                 kinds, rec.fallback, rec.display_name)
        return Route(person_id=person_id, places=places, recipients=tuple(chosen.values()), gaps=tuple(gaps))

    def coverage_gaps(self) -> list[Gap]:
        """Every grid that has no reachable staff (independent of alerts), for a coverage report."""
        out = []
        for grid_id, grid in self._grids.items():
            if self._staff_by_grid.get(grid_id):
                continue
            desks = self._fallback.get(grid["township_code"], [])
            out.append(Gap(place="grid", grid_id=grid_id, township_code=grid["township_code"],
                           kind="fallback_used" if desks else "unreachable",
                           detail=f"网格 {grid_id}（{grid['village_name']}）无可达人员"))
        return out
