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


def test_the_channels_see_hidden_tension_and_leave_the_rest_of_the_world_alone(tmp_path):
    import hashlib

    from features.simulate import oracle_scores, simulate

    on = simulate(people=8000, days=240, seed=5, out=tmp_path / "on", progress=False)
    off = simulate(people=8000, days=240, seed=5, out=tmp_path / "off", progress=False, grassroots=False)
    assert on["tables"]["field_reports"] > 50 and on["tables"]["tips"] > 20
    assert "field_reports" not in off["tables"] and not (tmp_path / "off" / "tips.parquet").exists()
    for name in ("incidents", "persons", "outcomes", "mediations"):
        digest = [hashlib.sha256(pd.read_parquet(tmp_path / w / f"{name}.parquet").to_csv().encode()).hexdigest()
                  for w in ("on", "off")]
        assert digest[0] == digest[1], f"{name} changed with the channels on"
    # reported people carry more hidden tension than the rest of the people in disputes
    as_of = pd.Timestamp(on["end_date"]) - pd.Timedelta(days=30)
    o = oracle_scores(tmp_path / "on", as_of).set_index("person_id")
    o = o[o["oracle_records"] > o["oracle_records"].min()]
    hidden = (o["oracle_full"] / o["oracle_records"]).rename("hidden")
    rep = pd.read_parquet(tmp_path / "on" / "field_reports.parquet")
    recent = rep[(rep["time"] < as_of) & (rep["time"] >= as_of - pd.Timedelta(days=60))]
    reported = hidden.index.isin(recent["person_id"].dropna())
    assert reported.sum() >= 10 and hidden[reported].median() > hidden[~reported].median()
    f = EventStore.open(tmp_path / "off", progress=False).features(as_of)
    assert len(f) and (f[["reports_90d", "tips_90d"]] == 0).all().all()
