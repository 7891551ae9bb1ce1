"""Field reports and tips feed point-in-time features: about a named person, or about everyone at the address;
invisible before they are recorded; the same on the pandas and the DuckDB path."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from features.catalog import CATALOG
from features.store import EventStore


@pytest.fixture(scope="module")
def world_with_channels(small_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("grassroots_world")
    for f in small_world.glob("*.parquet"):
        shutil.copy(f, out / f.name)
    persons = pd.read_parquet(out / "persons.parquet")
    counts = persons["residence_address_code"].value_counts()
    shared = counts[counts >= 2].index[0]                      # an address where several people live
    residents = sorted(persons.loc[persons["residence_address_code"] == shared, "person_id"])
    named = persons.loc[persons["residence_address_code"] != shared, "person_id"].iloc[0]
    named_addr = persons.loc[persons["person_id"] == named, "residence_address_code"].iloc[0]
    t = pd.Timestamp("2024-05-20 10:00")
    obs = {"obs_conflict_rising": True, "obs_threat": False, "obs_violence": None, "obs_emotion": None,
           "obs_harm_risk": None}
    reports = pd.DataFrame([
        {"report_id": "FR1", "time": t, "recorded_at": t, "reporter_id": "W1", "reporter_role": "grid_worker",
         "provenance": "simulated", "person_id": named, "address_code": named_addr, "category": "neighbour",
         "urgency": "urgent", **obs, "obs_threat": True, "note": "扬言报复"},
        {"report_id": "FR2", "time": t - pd.Timedelta(days=40), "recorded_at": t - pd.Timedelta(days=40),
         "reporter_id": "W1", "reporter_role": "cadre", "provenance": "simulated", "person_id": named,
         "address_code": named_addr, "category": "family", "urgency": "routine", **obs, "note": None},
        {"report_id": "FR3", "time": t, "recorded_at": pd.Timestamp("2024-06-05"), "reporter_id": "W1",
         "reporter_role": "cadre", "provenance": "simulated", "person_id": named, "address_code": named_addr,
         "category": "family", "urgency": "routine", **obs, "note": "late"},
    ])
    tips = pd.DataFrame([
        {"tip_id": "T1", "time": t, "recorded_at": t, "address_code": shared, "category": "neighbour",
         "urgency": "soon", **obs, "obs_violence": True, "note": "楼上打架", "linked_person_id": None, "verdict": None},
        {"tip_id": "T2", "time": t, "recorded_at": t, "address_code": shared, "category": "neighbour",
         "urgency": "soon", **obs, "note": "x", "linked_person_id": residents[0], "verdict": "confirmed"},
    ])
    reports.to_parquet(out / "field_reports.parquet", index=False)
    tips.to_parquet(out / "tips.parquet", index=False)
    return out, named, residents


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_reports_and_tips_become_features(world_with_channels, engine):
    out, named, residents = world_with_channels
    store = EventStore.open(out, progress=False, engine=engine)
    f = store.features("2024-06-01", person_ids=[named, *residents]).set_index("person_id")
    me = f.loc[named]
    assert (me.reports_30d, me.reports_90d, me.reports_urgent_90d, me.reports_threat_90d, me.reports_rising_90d,
            me.reports_family_90d) == (1, 2, 1, 1, 2, 1)           # FR3 is recorded after the as-of: invisible
    assert 11 < me.days_since_last_report < 13
    # T1 (address only) reaches every resident; T2 (linked) only its person
    assert f.loc[residents[0], "tips_90d"] == 2 and f.loc[residents[0], "tips_threat_90d"] == 1
    assert (f.loc[residents[1:], "tips_90d"] == 1).all() and f.loc[named, "tips_90d"] == 0
    assert named in set(store.population("2024-06-01"))
    later = store.online_vector(named, "2024-06-10")
    batch = store.features("2024-06-10", [named]).iloc[0]
    assert later["reports_90d"] == 3
    assert all(later[k] == batch[k] or (later[k] is None and pd.isna(batch[k])) for k in later)


def test_the_explanation_phrase():
    assert CATALOG["reports_30d"].phrase(2) == "近30天网格员排查上报2次"
    assert CATALOG["tips_90d"].phrase(3) == "近90天居民匿名反映3次"


def test_a_world_without_the_channels_has_zero_counts(small_store):
    f = small_store.features("2024-06-01")
    assert len(f) and (f[["reports_90d", "tips_90d"]] == 0).all().all()
