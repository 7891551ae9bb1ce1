"""API keys scoped to a township, a village or a police station on score and explain; scope is decided by
the person's own places only, never by an address the caller sends (the event path)."""

from __future__ import annotations

import pytest

from common.places import Jurisdiction, allows
from serving.scoring.auth import Account, parse_scopes, permits
from serving.scoring.errors import ScoringInputError
from tests.serving.scoring.conftest import AS_OF


@pytest.fixture(scope="module")
def places_of(app, population):
    return {pid: app.source.places(pid) for pid in population["person_id"]}


def _scoped_case(places_of, kind: str):
    """(code, a person inside, a person outside) for a jurisdiction of ``kind`` around someone's residence."""
    for pid, ps in places_of.items():
        res = next(p for p in ps if p.kind == "residence")
        if not res.address_code or not res.station_id:
            continue
        code = {"township": res.township_code, "village": res.village_code, "station": res.station_id}[kind]
        j = Jurisdiction.parse(code)
        outside = next((o for o, ops in places_of.items() if not allows([j], ops)), None)
        if outside is not None:
            return code, pid, outside
    raise AssertionError(f"no person to build a {kind} case from")


def test_the_feature_source_knows_each_persons_own_places_with_stations(app, places_of):
    ps = next(iter(places_of.values()))
    assert [p.kind for p in ps] == ["hukou", "residence"]
    stations = app.source.store.table("grids")["station_id"]
    with_station = [p for ps in places_of.values() for p in ps if p.station_id]
    assert with_station and {p.station_id for p in with_station} <= set(stations)
    assert all(p.station_id == "S" + p.township_code for p in with_station)  # the world: one station a township


@pytest.mark.parametrize("kind", ["township", "village", "station"])
def test_a_key_scoped_below_the_county_scores_and_explains_only_its_people(app, places_of, kind):
    code, inside, outside = _scoped_case(places_of, kind)
    key = app.keys.create(f"{kind} 平台", [code])
    status, body = app.score_ids(key, [inside, outside], AS_OF)
    assert status == 200
    assert [it["status"] for it in body["items"]] == ["ok", "out_of_scope"]
    status, body = app.explain_person(key, inside, AS_OF, 2)
    assert status == 200 and body["person"]["person_id"] == inside
    status, body = app.explain_person(key, outside, AS_OF, 2)
    assert status == 403 and body["error"]["kind"] == "forbidden"


def test_an_event_address_in_scope_does_not_open_a_person_outside_it(app, keys, split_ids):
    """A 成都 key posting an event at a 成都 address for a person of another prefecture is refused: the
    incident's address is the caller's word, the person's places are the data's."""
    outside = split_ids[1][0]
    event = {"incident_id": "I-SCOPE-1", "person_id": outside, "role": "party",
             "event_time": "2024-11-30T10:00:00", "category": "debt", "address_code": "510104001001-0001",
             "features": None}
    status, body = app.ingest_event(keys["chengdu"], event)
    assert status == 403 and body["error"]["kind"] == "forbidden", body
    status, body = app.ingest_event(keys["province"], event)
    assert status == 200 and body["person_id"] == outside


def test_an_event_for_a_person_the_data_lacks_is_placed_by_the_incident_address(app, keys):
    event = {"incident_id": "I-SCOPE-2", "person_id": "NEW-EVENT-PERSON", "role": "party",
             "event_time": "2024-11-30T10:00:00", "category": "debt", "address_code": "510104001001-0001",
             "features": None}
    status, body = app.ingest_event(keys["chengdu"], event)
    assert status == 200, body
    status, body = app.ingest_event(keys["chengdu"], {**event, "address_code": "510704001001-0001"})
    assert status == 403
    status, body = app.ingest_event(keys["chengdu"], {**event, "address_code": None})
    assert status == 404


def test_key_scopes_are_jurisdictions_of_any_kind_and_bad_codes_are_refused(app):
    scopes = parse_scopes(["510000", "510100", "510107", "510107001", "510107001002", "s510107001"])
    assert [j.kind for j in scopes] == ["province", "prefecture", "county", "township", "village", "station"]
    key = app.keys.create("派出所", ["s510107001"])
    assert next(e for e in app.keys.list() if key.startswith(f"wm_{e['key_id']}_"))["scopes"] == ["S510107001"]
    for bad in ("4401", "51010700", "S51010700", ""):
        with pytest.raises(ScoringInputError) as exc:
            app.keys.create("坏", [bad])
        assert exc.value.reason.startswith("辖区代码无效 / jurisdiction") and exc.value.field == "scopes"
    with pytest.raises(ScoringInputError, match="at least one jurisdiction"):
        app.keys.create("空", [])


def test_permits_is_allows_on_the_keys_scopes(places_of):
    acct = Account("k", "n", parse_scopes(["510100", "S510704001"]))
    for ps in list(places_of.values())[:300]:
        assert permits(acct, ps) == allows(acct.scopes, ps)
