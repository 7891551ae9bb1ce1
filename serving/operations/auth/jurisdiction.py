"""Jurisdiction: the part of Sichuan a console user may see and decide.

A jurisdiction is a GB/T 2260 code or a police-station id:

* ``510000`` — the province (everything, including people whose address is unknown);
* ``510100`` — a prefecture (6 digits ending in ``00``): every county ``5101xx``;
* ``510107`` — a county;
* ``S510107001`` — one police station: the grids that station serves.

A case is in scope when either of the person's places (household registration, residence) is: the
alert goes to both places, so both places' officers may review it.

>>> Jurisdiction.parse("510100").covers(county_code="510107", station_id="S510107001")
True
>>> Jurisdiction.parse("510107").covers(county_code="510104", station_id=None)
False
>>> Jurisdiction.parse("510107").label_level
'区县'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from serving.operations.auth.errors import InvalidAccount

__all__ = ["Jurisdiction", "LEVEL_LABELS"]

Level = Literal["province", "prefecture", "county", "station"]
LEVEL_LABELS = {"province": "全省", "prefecture": "市州", "county": "区县", "station": "派出所"}
_STATION = re.compile(r"^S\d{9}$")
PROVINCE_PREFIX = "51"


@dataclass(frozen=True)
class Jurisdiction:
    code: str
    level: Level

    @classmethod
    def parse(cls, code: str) -> Jurisdiction:
        c = str(code or "").strip().upper()
        if _STATION.match(c):
            return cls(c, "station")
        if re.fullmatch(r"\d{6}", c) and c.startswith(PROVINCE_PREFIX):
            if c == "510000":
                return cls(c, "province")
            if c.endswith("00"):
                return cls(c, "prefecture")
            return cls(c, "county")
        raise InvalidAccount(
            f"辖区代码无效 / jurisdiction {code!r} is not allowed; use 510000 (全省), a prefecture such as 510100, a "
            f"county such as 510107, or a police-station id such as S510107001.")

    @property
    def prefix(self) -> str | None:
        """The county-code prefix this jurisdiction covers (None for a station)."""
        return {"province": PROVINCE_PREFIX, "prefecture": self.code[:4], "county": self.code}.get(self.level)

    @property
    def label_level(self) -> str:
        return LEVEL_LABELS[self.level]

    @property
    def rank(self) -> int:
        """province 3 > prefecture 2 > county 1 > station 0."""
        return {"province": 3, "prefecture": 2, "county": 1, "station": 0}[self.level]

    def covers(self, *, county_code: str | None, station_id: str | None) -> bool:
        if self.level == "province":
            return True
        if self.level == "station":
            return station_id == self.code
        return bool(county_code) and str(county_code).startswith(self.prefix)

    def contains(self, other: Jurisdiction) -> bool:
        """Whether ``other`` lies inside this jurisdiction (used for region filters)."""
        if self.level == "province":
            return True
        if self.level == "station":
            return other == self
        if other.level == "station":
            return other.code[1:7].startswith(self.prefix)
        return other.code.startswith(self.prefix) and other.rank <= self.rank
