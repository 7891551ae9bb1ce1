"""Routing: hukou and residence both reached, one delivery per recipient, fallback and gaps."""

from __future__ import annotations

import pandas as pd
import pytest

from serving.operations.alerts import AlertStore, Directory, RoutingError
from serving.operations.alerts.routing import GRID_ROLES

from .helpers import count_items, person_with_one_place, person_with_two_places, pump, scored


def _grids_of(tables, pid):
    p = tables["persons"].set_index("person_id").loc[pid]
    a = tables["addresses"].set_index("address_code")["grid_id"]
    return a[p.hukou_address_code], a[p.residence_address_code]


def test_hukou_and_residence_each_get_one_delivery_per_person(store, engine, world_tables, directory):
    pid = person_with_two_places(world_tables, directory)
    gh, gr = _grids_of(world_tables, pid)
    [r] = store.ingest([scored(pid)])
    store.approve(r.alert_id, by="r", reason="推送两地")
    sends = store.deliveries(r.alert_id)
    expected = {s.inbox_id for s in directory.grid_staff(gh)} | {s.inbox_id for s in directory.grid_staff(gr)}
    assert {d.inbox_id for d in sends} == expected
    assert len(sends) == len(expected)                       # one per recipient, no duplicates
    by_place = {tuple(d.places) for d in sends}
    assert ("hukou",) in by_place and ("residence",) in by_place
    assert {d.grid_id for d in sends if d.places == ["hukou"]} == {gh}
    assert {d.grid_id for d in sends if d.places == ["residence"]} == {gr}
    assert {d.role for d in sends} <= set(GRID_ROLES)
    # each place's cadres see their own place's address
    hukou_addr = {d.payload["address"] for d in sends if d.places == ["hukou"]}
    res_addr = {d.payload["address"] for d in sends if d.places == ["residence"]}
    assert len(hukou_addr) == len(res_addr) == 1 and hukou_addr != res_addr

    pump(engine)
    items = count_items(engine)
    assert set(items) == {(r.alert_id, i) for i in expected} and set(items.values()) == {1}
    assert store.routing_gaps() == []


def test_same_grid_means_one_place_with_both_labels(store, world_tables, directory):
    pid = person_with_one_place(world_tables, directory)
    [r] = store.ingest([scored(pid)])
    store.approve(r.alert_id, by="r", reason="x")
    sends = store.deliveries(r.alert_id)
    assert {tuple(d.places) for d in sends} == {("hukou", "residence")}
    assert sends[0].payload["places"] == ["户籍地", "居住地"]


def _directory_without(world_tables, grid_id, drop_fallback=False, mode="inactive"):
    staff = world_tables["staff"].copy()
    mask = staff["grid_id"] == grid_id
    if mode == "inactive":
        staff.loc[mask, "active"] = False
    else:
        staff["inbox_id"] = staff["inbox_id"].astype(object)
        staff.loc[mask, "inbox_id"] = None
    if drop_fallback:
        township = world_tables["grids"].set_index("grid_id").loc[grid_id, "township_code"]
        staff = staff[~((staff["role"] == "township_fallback") & (staff["township_code"] == township))]
    return Directory.from_frames(**{**world_tables, "staff": staff})


@pytest.mark.parametrize("mode", ["inactive", "no_inbox_id"])
def test_a_grid_without_reachable_staff_falls_back_to_the_township_and_reports_it(engine, world_tables, directory,
                                                                                   clock, mode):
    pid = person_with_two_places(world_tables, directory)
    gh, gr = _grids_of(world_tables, pid)
    d2 = _directory_without(world_tables, gh, mode=mode)
    store = AlertStore(engine, directory=d2, clock=clock)
    [r] = store.ingest([scored(pid)])
    store.approve(r.alert_id, by="r", reason="x")
    sends = store.deliveries(r.alert_id)
    hukou = [d for d in sends if "hukou" in d.places]
    assert hukou and all(d.role == "township_fallback" and d.fallback for d in hukou)
    assert all("兜底" in d.payload["fallback_note"] for d in hukou)
    assert {d.grid_id for d in sends if d.places == ["residence"]} == {gr}
    [gap] = store.routing_gaps()
    assert (gap.alert_id, gap.place, gap.grid_id, gap.kind) == (r.alert_id, "hukou", gh, "fallback_used")
    assert gh in gap.detail
    assert any(g.grid_id == gh for g in d2.coverage_gaps())


def test_nobody_reachable_refuses_approval_but_records_the_gap(engine, world_tables, directory, clock):
    pid = person_with_one_place(world_tables, directory)
    g, _ = _grids_of(world_tables, pid)
    store = AlertStore(engine, directory=_directory_without(world_tables, g, drop_fallback=True), clock=clock)
    [r] = store.ingest([scored(pid)])
    with pytest.raises(RoutingError, match="nobody can be reached"):
        store.approve(r.alert_id, by="r", reason="x")
    assert store.get(r.alert_id).state == "created"          # nothing half-done
    assert store.deliveries(r.alert_id) == []
    [gap] = store.routing_gaps()
    assert gap.kind == "unreachable" and gap.grid_id == g


def test_unknown_person_and_missing_directory_are_clear_errors(engine, clock, world_tables, directory):
    s = AlertStore(engine, directory=directory, clock=clock)
    [r] = s.ingest([scored("PNOTINWORLD")])
    with pytest.raises(RoutingError, match="'PNOTINWORLD' is not in the directory"):
        s.approve(r.alert_id, by="r", reason="x")
    bare = AlertStore(engine, clock=clock)
    with pytest.raises(RoutingError, match="no Directory to route with"):
        bare.approve(r.alert_id, by="r", reason="x")


def test_staff_serving_both_grids_get_one_delivery(world_tables, directory):
    pid = person_with_two_places(world_tables, directory)
    gh, gr = _grids_of(world_tables, pid)
    staff = world_tables["staff"].copy()
    shared = staff[(staff["grid_id"] == gh)].iloc[0]
    extra = shared.copy()
    extra["grid_id"] = gr
    staff = pd.concat([staff, extra.to_frame().T], ignore_index=True)
    d = Directory.from_frames(**{**world_tables, "staff": staff})
    route = d.route(pid)
    ids = [x.inbox_id for x in route.recipients]
    assert len(ids) == len(set(ids))
    both = [x for x in route.recipients if x.inbox_id == shared["inbox_id"]]
    assert both[0].places == ("hukou", "residence")
