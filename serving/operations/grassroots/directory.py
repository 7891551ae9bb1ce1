"""Who serves where, for the grassroots loop: addresses, grids, staff and the jurisdiction chain.

Built once from the feature store's validated tables (``addresses``, ``grids``, ``staff``, ``persons``), like
the alert store's routing :class:`~serving.operations.alerts.routing.Directory`. It answers:

* where an address lies (grid, village, and up the chain: township, county, prefecture: :func:`ladder`);
* which grids a staff member serves, in which role (a cadre files reports about those grids; the grid's
  community officer signs for and handles what arrives there; a township fallback desk holds what rose to
  its township);
* a person's two places (household registration, residence), to scope a report about a person.

>>> ladder("510107001002")
(('village', '510107001002'), ('township', '510107001'), ('county', '510107'), ('prefecture', '510100'))
"""

from __future__ import annotations

from dataclasses import dataclass

from common.places import JURISDICTION_LABELS, Place, division_of
from serving.operations.alerts.errors import RoutingError

__all__ = ["GrassrootsDirectory", "StaffMember", "AddressInfo", "ladder", "LEVELS", "LEVEL_LABELS"]

#: The graded-handling ladder (调处分级化), bottom to top.
LEVELS: tuple[str, ...] = ("village", "township", "county", "prefecture")
LEVEL_LABELS: dict[str, str] = {k: JURISDICTION_LABELS[k] for k in LEVELS}


def ladder(village_code: str) -> tuple[tuple[str, str], ...]:
    """(level, jurisdiction code) from the village/community up to the prefecture."""
    p = Place("residence", f"{village_code}-0000")
    return (("village", str(village_code)), ("township", str(p.township_code)), ("county", str(p.county_code)),
            ("prefecture", str(p.prefecture_code)))


@dataclass(frozen=True)
class StaffMember:
    staff_id: str
    role: str
    township_code: str
    grids: frozenset[str]
    display_name: str | None = None


@dataclass(frozen=True)
class AddressInfo:
    address_code: str
    grid_id: str | None
    village_code: str


def _records(frame, columns):
    cols = [c for c in columns if c in frame.columns]
    return frame[cols].astype(object).where(frame[cols].notna(), None).to_dict("records")


class GrassrootsDirectory:
    def __init__(self, addresses: dict[str, str | None], staff: dict[str, StaffMember],
                 persons: dict[str, tuple[str, str]], village_names: dict[str, str] | None = None):
        self._addresses = addresses
        self._staff = staff
        self._persons = persons
        self.village_names = village_names or {}

    @classmethod
    def from_frames(cls, *, addresses, staff, persons=None, grids=None) -> GrassrootsDirectory:
        a = {r["address_code"]: r.get("grid_id") for r in _records(addresses, ["address_code", "grid_id"])}
        by_staff: dict[str, dict] = {}
        for r in _records(staff, ["staff_id", "role", "grid_id", "township_code", "active", "display_name"]):
            if not r.get("active"):
                continue
            cur = by_staff.setdefault(str(r["staff_id"]), {"role": str(r["role"]), "township": str(r["township_code"]),
                                                          "grids": set(), "name": r.get("display_name")})
            if r.get("grid_id"):
                cur["grids"].add(str(r["grid_id"]))
        members = {sid: StaffMember(sid, v["role"], v["township"], frozenset(v["grids"]), v["name"])
                   for sid, v in by_staff.items()}
        p: dict[str, tuple[str, str]] = {}
        if persons is not None:
            p = {r["person_id"]: (r["hukou_address_code"], r["residence_address_code"])
                 for r in _records(persons, ["person_id", "hukou_address_code", "residence_address_code"])}
        names = {}
        if grids is not None:
            names = {str(r["village_code"]): str(r["village_name"])
                     for r in _records(grids, ["village_code", "village_name"]) if r.get("village_code")}
        return cls(a, members, p, names)

    @classmethod
    def from_event_store(cls, store) -> GrassrootsDirectory:
        return cls.from_frames(addresses=store.table("addresses"), staff=store.table("staff"),
                               persons=store.table("persons"), grids=store.table("grids"))

    # -- questions --------------------------------------------------------------------------------
    def address(self, address_code: str) -> AddressInfo | None:
        """The address on the standard-address register, or None when it is not on it."""
        if address_code not in self._addresses:
            return None
        return AddressInfo(address_code, self._addresses[address_code], str(division_of(address_code)))

    def staff(self, staff_id: str | None) -> StaffMember | None:
        return self._staff.get(staff_id) if staff_id else None

    def person_addresses(self, person_id: str) -> tuple[str, ...]:
        """The person's household-registration and residence address codes (empty when unknown)."""
        return tuple(dict.fromkeys(self._persons.get(person_id, ())))

    def require_staff(self, staff_id: str | None) -> StaffMember:
        member = self.staff(staff_id)
        if member is None:
            raise RoutingError(f"该收件箱未关联在岗人员 / inbox staff {staff_id!r} is not an active staff member of "
                               f"the current world; ask the administrator to link the token to a staff id.")
        return member
