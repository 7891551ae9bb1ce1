"""The console's SQL scope agrees with ``common.places.allows`` (the rule of every surface) on random
people, places and jurisdictions of every kind, in SQLite."""

from __future__ import annotations

import shutil
from datetime import datetime

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.places import Jurisdiction, Place, allows
from serving.operations.alerts import AlertStore
from serving.operations.alerts.db import make_engine
from serving.operations.alerts.models import Alert
from serving.operations.console.models import person_places
from serving.operations.console.scope import in_scope, place_filter, scope_clause

from .kit import scored

PEOPLE = [f"P{i}" for i in range(8)]

# A few codes of each level so that random places and jurisdictions often meet.
_PREFECTURES = ["5101", "5107"]
_COUNTIES = ["04", "07"]
_TOWNSHIPS = ["001", "002"]
_VILLAGES = ["001", "002"]


@st.composite
def village_codes(draw) -> str:
    return (draw(st.sampled_from(_PREFECTURES)) + draw(st.sampled_from(_COUNTIES))
            + draw(st.sampled_from(_TOWNSHIPS)) + draw(st.sampled_from(_VILLAGES)))


@st.composite
def places(draw, kind: str) -> Place:
    if draw(st.integers(0, 9)) == 0:
        return Place(kind, None)
    village = draw(village_codes())
    address = f"{village}-{draw(st.integers(1, 20)):04d}"
    station = draw(st.sampled_from([None, f"S{village[:9]}", f"S{draw(village_codes())[:9]}"]))
    return Place(kind, address, station_id=station, grid_id=f"G{village}01")


@st.composite
def jurisdictions(draw) -> Jurisdiction:
    v = draw(village_codes())
    code = draw(st.sampled_from(["510000", v[:4] + "00", v[:6], v[:9], v, "S" + v[:9]]))
    return Jurisdiction.parse(code)


@st.composite
def people(draw) -> dict[str, list[Place]]:
    """person -> cached places: none (never placed), unknown, or hukou and residence (maybe one address)."""
    out = {}
    for pid in PEOPLE:
        shape = draw(st.sampled_from(["none", "unknown", "two", "same"]))
        if shape == "unknown":
            out[pid] = [Place("unknown", None)]
        elif shape == "two":
            out[pid] = [draw(places("hukou")), draw(places("residence"))]
        elif shape == "same":
            p = draw(places("hukou"))
            out[pid] = [p, Place("residence", p.address_code, p.station_id, p.grid_id)]
        else:
            out[pid] = []
    return out


@pytest.fixture(scope="module")
def scope_engine(db_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("scope_db") / "scope.db"
    shutil.copy(db_template, path)
    eng = make_engine(f"sqlite:///{path}")
    AlertStore(eng).ingest([scored(pid) for pid in PEOPLE])
    yield eng
    eng.dispose()


def _store_places(engine, world: dict[str, list[Place]]) -> None:
    now = datetime(2026, 12, 1, 12, 0, 0)
    with engine.begin() as conn:
        conn.execute(sa.delete(person_places))
        rows = [{"person_id": pid, "kind": p.kind, "address_code": p.address_code, "grid_id": p.grid_id,
                 "village_name": None, "township_name": None, "county_code": p.county_code,
                 "prefecture_code": p.prefecture_code, "station_id": p.station_id, "synced_at": now}
                for pid, ps in world.items() for p in ps]
        if rows:
            conn.execute(sa.insert(person_places), rows)


def _listed(engine, clause) -> set[str]:
    with engine.connect() as conn:
        q = sa.select(Alert.person_id)
        return set(conn.scalars(q.where(clause) if clause is not None else q))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=people(), j=jurisdictions(), region=st.one_of(st.none(), jurisdictions()))
def test_sql_scope_agrees_with_allows(scope_engine, world, j, region):
    _store_places(scope_engine, world)
    # what the console's case page decides for one person: cached places, or "unknown" when not placed
    placed = {pid: ps or [Place("unknown", None)] for pid, ps in world.items()}
    expected = {pid for pid, ps in placed.items()
                if allows([j], ps) and (region is None or allows([region], ps))}
    assert _listed(scope_engine, scope_clause(j, region)) == expected
    assert {pid for pid, ps in placed.items() if in_scope(j, ps)} == {pid for pid, ps in placed.items()
                                                                      if allows([j], ps)}
    with scope_engine.connect() as conn:
        rows = conn.execute(sa.select(person_places).where(place_filter(j))).all()
    assert {(r.person_id, r.kind) for r in rows} == {(pid, p.kind) for pid, ps in world.items() for p in ps
                                                     if allows([j], [p])}


@pytest.mark.parametrize("code", ["510107001", "510107001002", "S510107001"])
def test_township_village_and_station_scopes_filter_in_sql(scope_engine, code):
    world = {pid: [] for pid in PEOPLE}
    world["P0"] = [Place("hukou", "510704001001-0001"), Place("residence", "510107001002-0012", "S510107001")]
    world["P1"] = [Place("hukou", "510107002001-0001", "S510107002"), Place("residence", "510107002001-0001")]
    world["P2"] = [Place("unknown", None)]
    _store_places(scope_engine, world)
    assert _listed(scope_engine, scope_clause(Jurisdiction.parse(code))) == {"P0"}
    assert _listed(scope_engine, scope_clause(Jurisdiction.parse("510000"))) == set(PEOPLE)
