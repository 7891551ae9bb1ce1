"""The one jurisdiction rule: every kind (province .. village, police station) against places inside and
outside it, the fail-closed cases, and how a person's two places combine."""

from __future__ import annotations

import pytest

from common.errors import BadInput
from common.places import Jurisdiction, Place, allows

WUHOU_HOME = Place("residence", "510107001002-0012", station_id="S510107001")  # 武侯区, township 001, village 002

# (jurisdiction, place, expected): for each kind a place inside and places just outside it.
CASES = [
    ("510000", WUHOU_HOME, True),
    ("510000", Place("hukou", "510704001001-0001"), True),
    ("510000", Place("unknown", None), True),                      # the province sees even unknown addresses
    ("510100", WUHOU_HOME, True),
    ("510100", Place("hukou", "510104001001-0001"), True),
    ("510100", Place("hukou", "510704001001-0001"), False),        # 绵阳, another prefecture
    ("510100", Place("hukou", "511001001001-0001"), False),        # 5110 does not start with 5101's prefix
    ("510107", WUHOU_HOME, True),
    ("510107", Place("hukou", "510104001001-0001", station_id="S510107001"), False),  # a division ignores stations
    ("510107", Place("hukou", "510170001001-0001"), False),
    ("510107001", WUHOU_HOME, True),
    ("510107001", Place("hukou", "510107001001-0001"), True),
    ("510107001", Place("hukou", "510107002002-0012"), False),     # the next township of the same county
    ("510107001002", WUHOU_HOME, True),
    ("510107001002", Place("residence", "510107001002-0001"), True),
    ("510107001002", Place("residence", "510107001003-0012"), False),  # the neighbouring village
    ("510107001002", Place("residence", "510107001"), False),      # a township-level code is not inside a village
    ("S510107001", WUHOU_HOME, True),
    ("S510107001", Place("hukou", "510104001001-0001", station_id="S510107001"), True),  # served, wherever it is
    ("S510107001", Place("hukou", "510107001002-0012"), False),    # station unknown: not served, fail closed
    ("S510107001", Place("hukou", "510107001002-0012", station_id="S510107002"), False),
]


@pytest.mark.parametrize("code, place, expected", CASES, ids=[f"{c}-{p.address_code}-{e}" for c, p, e in CASES])
def test_allows_by_kind_inside_and_outside(code, place, expected):
    j = Jurisdiction.parse(code)
    assert allows([j], [place]) is expected
    assert j.covers(place) is expected


@pytest.mark.parametrize("code", ["510100", "510107", "510107001", "510107001002", "S510107001"])
def test_below_the_province_unknown_places_and_empty_lists_fail_closed(code):
    j = Jurisdiction.parse(code)
    assert not allows([j], [Place("unknown", None)])
    assert not allows([j], [Place("hukou", "")])
    assert not allows([j], [])
    assert not allows([], [WUHOU_HOME])


def test_either_place_of_a_person_is_enough_and_any_scope_is_enough():
    away = Place("hukou", "510704001001-0001")
    county, mianyang = Jurisdiction.parse("510107"), Jurisdiction.parse("510704001")
    assert allows([county], [away, WUHOU_HOME]) and allows([mianyang], [away, WUHOU_HOME])
    assert allows([Jurisdiction.parse("510104"), county], [WUHOU_HOME])
    assert not allows([Jurisdiction.parse("510104"), Jurisdiction.parse("S510104001")], [away, WUHOU_HOME])


@pytest.mark.parametrize("code, kind, rank", [("510000", "province", 5), ("510100", "prefecture", 4),
                                              ("510107", "county", 3), ("510107001", "township", 2),
                                              ("s510107001", "station", 2), ("510107001002", "village", 1)])
def test_parse_kinds_and_ranks(code, kind, rank):
    j = Jurisdiction.parse(code)
    assert (j.kind, j.rank, j.code) == (kind, rank, code.strip().upper())


@pytest.mark.parametrize("code", ["4401", "440100", "51010", "5101070", "5101070010", "S51010700", "X510107001",
                                  "", None, "510107001002-0012"])
def test_invalid_codes_are_bad_input_chinese_first(code):
    with pytest.raises(BadInput) as exc:
        Jurisdiction.parse(code)
    assert exc.value.message.startswith("辖区代码无效 / jurisdiction") and exc.value.field == "jurisdiction"


def test_contains_for_region_filters():
    prov, pref, county, town, village, station = (Jurisdiction.parse(c) for c in (
        "510000", "510100", "510107", "510107001", "510107001002", "S510107001"))
    assert prov.contains(station) and pref.contains(town) and county.contains(village) and town.contains(village)
    assert county.contains(station) and not town.contains(station)  # a station serves a township's grids
    assert not village.contains(town) and not town.contains(county) and not station.contains(town)
    assert not Jurisdiction.parse("510104").contains(village)
