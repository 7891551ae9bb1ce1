"""Jurisdiction in SQL: which alerts a user may list, open and decide.

A person's places are cached in ``console_person_places`` (filled from the world on first sight);
an alert is in scope when any of its person's places is: :func:`common.places.allows`, the rule of
every surface. :func:`place_filter` is the same rule written in SQL, derived from the same
:class:`~common.places.Jurisdiction`: a prefix match on the cached address code for divisions
(province, prefecture, county, township, village), equality on the station id for a police station.
Every console page and JSON endpoint goes through :func:`scope_clause` (lists) or :func:`require`
(one case), so URL guessing and API calls meet the same check.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from common.clock import utcnow
from common.places import Jurisdiction, Place, allows
from serving.operations.alerts.models import Alert
from serving.operations.auth.errors import OutOfScope
from serving.operations.console.models import person_places
from serving.operations.console.world import World

__all__ = ["sync_places", "place_filter", "scope_clause", "places_of", "require", "in_scope"]


def sync_places(engine: Engine, world: World, person_ids=None) -> int:
    """Cache the places of people with alerts that are not cached yet; returns how many people were added.

    Without a world nothing is cached (and only province scope sees anyone): fail closed, and do not
    pin people to "unknown" once the world is configured.
    """
    if not world.available:
        return 0
    with engine.connect() as conn:
        if person_ids is None:
            known = sa.select(person_places.c.person_id)
            missing = list(conn.scalars(sa.select(Alert.person_id).distinct()
                                        .where(Alert.person_id.not_in(known))))
        else:
            have = set(conn.scalars(sa.select(person_places.c.person_id)
                                    .where(person_places.c.person_id.in_(list(person_ids)))))
            missing = [p for p in dict.fromkeys(person_ids) if p not in have]
    if not missing:
        return 0
    now = utcnow()
    rows = []
    for pid in missing:
        for p in world.places(pid):  # county and prefecture are kept for the region lists and reports
            rows.append({"person_id": pid, "kind": p.kind, "address_code": p.address_code, "grid_id": p.grid_id,
                         "village_name": p.village_name, "township_name": p.township_name,
                         "county_code": p.county_code, "prefecture_code": p.prefecture_code,
                         "station_id": p.station_id, "synced_at": now})
    with engine.begin() as conn:
        have = set(conn.scalars(sa.select(person_places.c.person_id).where(person_places.c.person_id.in_(missing))))
        rows = [r for r in rows if r["person_id"] not in have]  # another request got there first
        for start in range(0, len(rows), 500):
            conn.execute(sa.insert(person_places), rows[start:start + 500])
    return len(missing)


def place_filter(j: Jurisdiction):
    """A WHERE clause on ``console_person_places`` rows: the cached places ``j`` covers (``Jurisdiction.covers``)."""
    if j.kind == "province":
        return sa.true()
    if j.kind == "station":
        return person_places.c.station_id == j.code
    # the address code starts with its 12-digit village code, so a division prefix matches either alike
    return person_places.c.address_code.like(f"{j.prefix}%")


def scope_clause(j: Jurisdiction, region: Jurisdiction | None = None):
    """A WHERE clause on ``alerts`` (None: no restriction, province scope without a region filter)."""
    clauses = []
    for k in (j, region):
        if k is None or k.kind == "province":
            continue
        clauses.append(Alert.person_id.in_(sa.select(person_places.c.person_id).where(place_filter(k))))
    return sa.and_(*clauses) if clauses else None


def _place(row) -> Place:
    return Place(row.kind, row.address_code, station_id=row.station_id, grid_id=row.grid_id,
                 village_name=row.village_name, township_name=row.township_name)


def places_of(engine: Engine, world: World, person_id: str) -> list[Place]:
    """The person's cached places (``[Place('unknown', None)]`` when they cannot be placed)."""
    sync_places(engine, world, [person_id])
    with engine.connect() as conn:
        rows = [_place(r) for r in conn.execute(
            sa.select(person_places).where(person_places.c.person_id == person_id).order_by(person_places.c.kind))]
    return rows or [Place("unknown", None)]


def in_scope(j: Jurisdiction, places: list[Place]) -> bool:
    return allows([j], places)


def require(engine: Engine, world: World, j: Jurisdiction, alert_id: int, person_id: str) -> list[Place]:
    """The person's places, or :class:`OutOfScope` (reported as "not found": nothing leaks)."""
    places = places_of(engine, world, person_id)
    if not in_scope(j, places):
        raise OutOfScope(f"预警不存在或不在您的辖区 / alert {alert_id} was not found in your jurisdiction.")
    return places
