"""One jurisdiction rule for every surface: parse, covers, contains and allows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.errors import BadInput
from common.places import Jurisdiction, Place, allows

HOME = Place("hukou", "510107001002-0012", station_id="S510107001")
AWAY = Place("residence", "510824203001-0003", station_id="S510824203")


@pytest.mark.parametrize(("code", "kind", "inside", "outside"), [
    ("510000", "province", HOME, None),
    ("510100", "prefecture", HOME, AWAY),
    ("510107", "county", HOME, AWAY),
    ("510107001", "township", HOME, Place("hukou", "510107002001-0001")),
    ("510107001002", "village", HOME, Place("hukou", "510107001003-0001")),
    ("S510107001", "station", HOME, Place("hukou", "510107001002-0012", station_id="S510107002")),
])
def test_each_kind_covers_its_own_places_only(code, kind, inside, outside):
    j = Jurisdiction.parse(code)
    assert j.kind == kind
    assert j.covers(inside)
    if outside is not None:
        assert not j.covers(outside)


def test_a_station_never_covers_a_place_whose_station_is_unknown():
    assert not Jurisdiction.parse("S510107001").covers(Place("hukou", "510107001002-0012"))


@pytest.mark.parametrize("bad", ["", None, "1234", "520100", "51010", "S51010700", "510107001002-1", "x510107"])
def test_bad_codes_are_bad_input_with_a_chinese_first_message(bad):
    with pytest.raises(BadInput, match="辖区代码无效") as info:
        Jurisdiction.parse(bad)
    assert info.value.field == "jurisdiction" and info.value.http_status == 422


def test_allows_needs_one_of_the_persons_own_places_in_scope():
    county = Jurisdiction.parse("510107")
    assert allows([county], [AWAY, HOME])
    assert not allows([county], [AWAY])
    assert not allows([county], [])
    assert allows([Jurisdiction.parse("510000")], [])  # the province sees people of unknown address
    assert not allows([], [HOME])


villages = st.builds(lambda c, t, v, h: f"5101{c:02d}{t:03d}{v:03d}-{h:04d}",
                     st.integers(4, 8), st.integers(1, 3), st.integers(1, 3), st.integers(1, 20))


@st.composite
def places(draw):
    address = draw(villages)
    station = draw(st.sampled_from([None, "S" + address[:9]]))
    return Place(draw(st.sampled_from(["hukou", "residence"])), address, station_id=station)


@st.composite
def jurisdictions(draw):
    p = draw(places())
    code = draw(st.sampled_from(["510000", "510100", p.county_code, p.township_code, p.village_code,
                                 "S" + p.township_code, "510106", "S510104009"]))
    return Jurisdiction.parse(code)


@given(outer=jurisdictions(), inner=jurisdictions(), place=places())
def test_what_a_jurisdiction_contains_it_also_covers(outer, inner, place):
    if outer.contains(inner) and inner.covers(place):
        assert outer.covers(place)


@given(scopes=st.lists(jurisdictions(), max_size=3), person=st.lists(places(), max_size=2))
def test_allows_is_any_scope_covering_any_place(scopes, person):
    expected = any(j.kind == "province" for j in scopes) or any(j.covers(p) for j in scopes for p in person)
    assert allows(scopes, person) == expected
