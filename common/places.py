"""Places and jurisdictions: one type from province to village plus police station, one ``allows``.

Codes are GB/T 2260 administrative divisions (6 digits province/prefecture/county, 9 township,
12 village/community), police-station ids (``S`` + the 9-digit township code of the station's seat)
and standard address codes (a 12-digit village code, ``-`` and a house number).

A jurisdiction covers a place when the place's address lies inside it (divisions) or the place is
served by it (station). A person is in a jurisdiction when any of their own places is: the
household-registration place (户籍地) or the residence (居住地). The scoring API, the console, the
inbox and the reports all decide through :func:`allows`.

>>> allows([Jurisdiction.parse("510100")], [Place("residence", "510107001002-0012")])
True
>>> Jurisdiction.parse("510107001").covers(Place("hukou", "510107002001-0001"))
False
>>> Jurisdiction.parse("S510107001").covers(Place("hukou", "510107001001-0001", station_id="S510107001"))
True
>>> Jurisdiction.parse("510107").label
'区县'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from common.errors import BadInput

__all__ = [
    "JurisdictionKind",
    "Jurisdiction",
    "Place",
    "PlaceKind",
    "PLACE_LABELS",
    "JURISDICTION_LABELS",
    "PROVINCE",
    "allows",
    "division_of",
]

JurisdictionKind = Literal["province", "prefecture", "county", "township", "village", "station"]
PlaceKind = Literal["hukou", "residence", "unknown"]

PROVINCE: Final = "510000"
_PROVINCE_PREFIX: Final = "51"
PLACE_LABELS: Final[dict[str, str]] = {"hukou": "户籍地", "residence": "居住地", "unknown": "未知"}
JURISDICTION_LABELS: Final[dict[str, str]] = {
    "province": "全省",
    "prefecture": "市州",
    "county": "区县",
    "township": "乡镇（街道）",
    "village": "村（社区）",
    "station": "派出所",
}
_RANK: Final[dict[str, int]] = {"province": 5, "prefecture": 4, "county": 3, "township": 2, "station": 2,
                                "village": 1}
_STATION = re.compile(r"^S(\d{9})$")
_DIVISION = re.compile(r"^(\d{6}|\d{9}|\d{12})$")


def division_of(address_code: str | None) -> str | None:
    """The 12-digit village code of a standard address code (``510107001002-0012`` -> ``510107001002``)."""
    if not address_code:
        return None
    return str(address_code).split("-", 1)[0]


@dataclass(frozen=True)
class Place:
    """One of a person's places. ``station_id`` is the police station that serves it, when known."""

    kind: str
    address_code: str | None
    station_id: str | None = None
    grid_id: str | None = None
    village_name: str | None = None
    township_name: str | None = None

    @property
    def village_code(self) -> str | None:
        return division_of(self.address_code)

    @property
    def township_code(self) -> str | None:
        v = self.village_code
        return v[:9] if v and len(v) >= 9 else None

    @property
    def county_code(self) -> str | None:
        v = self.village_code
        return v[:6] if v and len(v) >= 6 else None

    @property
    def prefecture_code(self) -> str | None:
        c = self.county_code
        return c[:4] + "00" if c else None

    @property
    def house_number(self) -> str:
        return self.address_code.split("-", 1)[1] if self.address_code and "-" in self.address_code else ""


@dataclass(frozen=True)
class Jurisdiction:
    """A part of Sichuan that an account may see and act in."""

    code: str
    kind: JurisdictionKind

    @classmethod
    def parse(cls, code: object) -> Jurisdiction:
        c = str(code if code is not None else "").strip().upper()
        if _STATION.match(c):
            return cls(c, "station")
        if _DIVISION.match(c) and c.startswith(_PROVINCE_PREFIX):
            if len(c) == 12:
                return cls(c, "village")
            if len(c) == 9:
                return cls(c, "township")
            if c == PROVINCE:
                return cls(c, "province")
            if c.endswith("00"):
                return cls(c, "prefecture")
            return cls(c, "county")
        raise BadInput(
            f"辖区代码无效 / jurisdiction {code!r} is not valid; use 510000 (全省), a prefecture such as 510100, "
            f"a county such as 510107, a township (9 digits), a village (12 digits), or a police-station id "
            f"such as S510107001.",
            field="jurisdiction",
        )

    @property
    def prefix(self) -> str | None:
        """The address-code prefix this jurisdiction covers (None for a station)."""
        if self.kind == "station":
            return None
        if self.kind == "province":
            return _PROVINCE_PREFIX
        if self.kind == "prefecture":
            return self.code[:4]
        return self.code

    @property
    def label(self) -> str:
        return JURISDICTION_LABELS[self.kind]

    @property
    def rank(self) -> int:
        """province 5 > prefecture 4 > county 3 > township = station 2 > village 1."""
        return _RANK[self.kind]

    def covers(self, place: Place) -> bool:
        if self.kind == "province":
            return True
        if self.kind == "station":
            return place.station_id is not None and place.station_id == self.code
        v = place.village_code
        return v is not None and v != "" and v.startswith(self.prefix or "\0")

    def contains(self, other: Jurisdiction) -> bool:
        """Whether ``other`` lies inside this jurisdiction (for region filters)."""
        if self.kind == "province":
            return True
        if self.kind == "station":
            return other == self
        prefix = self.prefix or "\0"
        if other.kind == "station":
            return other.code[1:].startswith(prefix) and self.rank > other.rank
        return other.code.startswith(prefix) and other.rank <= self.rank


def allows(scopes: Iterable[Jurisdiction], places: Iterable[Place]) -> bool:
    """True when any of the person's own places lies in any of the scopes. Fails closed: no places,
    no scopes, or places of unknown address are allowed only to the province."""
    scopes = tuple(scopes)
    places = tuple(places)
    if any(j.kind == "province" for j in scopes):
        return True
    return any(j.covers(p) for j in scopes for p in places)
