"""The alert-store fixtures (both backends, the small world) for the grassroots tests, plus a directory, an
identity per staff role and the grassroots tables in the metadata (so PostgreSQL runs empty them too)."""

from __future__ import annotations

import pytest

import serving.operations.grassroots.models  # noqa: F401  (the tables in Base.metadata)
from tests.serving.operations.alerts.conftest import (  # noqa: F401  (fixtures)
    alerts_world,
    clock,
    db_url,
    directory,
    engine,
    pg_database,
    sqlite_template,
    store,
    world_tables,
)


@pytest.fixture(scope="session")
def grassroots_directory(world_tables):  # noqa: F811
    from serving.operations.grassroots import GrassrootsDirectory

    return GrassrootsDirectory.from_frames(addresses=world_tables["addresses"], staff=world_tables["staff"],
                                           persons=world_tables["persons"], grids=world_tables["grids"])


@pytest.fixture(scope="session")
def staff_pick(world_tables):  # noqa: F811
    """(community officer id, grid worker id, grid id, an address of that grid, a person living there, an officer of
    another grid and an address of that other grid), from one grid that has both roles."""
    s = world_tables["staff"]
    s = s[s["active"].astype(bool) & s["inbox_id"].notna() & s["grid_id"].notna()]
    a = world_tables["addresses"]
    p = world_tables["persons"]
    grids = [g for g, rows in s.groupby("grid_id") if {"community_officer", "grid_worker"} <= set(rows["role"])]
    with_people = set(a.loc[a["address_code"].isin(p["residence_address_code"]), "grid_id"])
    grids = [g for g in grids if g in with_people]
    assert len(grids) >= 2
    g, other = grids[0], next(x for x in grids[1:] if x[:10] != grids[0][:10])  # another township
    officers = s[(s["grid_id"] == g) & (s["role"] == "community_officer")]
    # officers serving one grid can serve others too: pick the other grid's officer that does not serve g
    served_g = set(s.loc[s["grid_id"] == g, "staff_id"])
    other_officer = s[(s["grid_id"] == other) & (s["role"] == "community_officer") & ~s["staff_id"].isin(served_g)]
    worker = s[(s["grid_id"] == g) & (s["role"] == "grid_worker")].iloc[0]
    addr = a[(a["grid_id"] == g) & a["address_code"].isin(p["residence_address_code"])]["address_code"].iloc[0]
    person = p[p["residence_address_code"] == addr]["person_id"].iloc[0]
    other_addr = a[a["grid_id"] == other]["address_code"].iloc[0]
    return {"officer": officers.iloc[0], "worker": worker, "grid": g, "address": addr, "person": person,
            "other_officer": other_officer.iloc[0], "other_grid": other, "other_address": other_addr}
