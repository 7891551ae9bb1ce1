"""Invariants of the station scorecard's tally over random alert histories (no store needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.operations.alerts.scorecard import StationIndex, tally

T0 = datetime(2025, 6, 1, tzinfo=UTC)
STATIONS = pd.DataFrame({"station_id": ["S510104001", "S510104002", "S510105001", "S510105002"],
                         "name": ["甲所", "乙所", "丙所", "丁所"],
                         "township_code": ["510104001", "510104002", "510105001", "510105002"],
                         "county_code": ["510104", "510104", "510105", "510105"],
                         "county": ["锦江区", "锦江区", "青羊区", "青羊区"]})
PLACES = {f"P{i}": tuple(STATIONS["station_id"].iloc[[i % 4, (i * 3 + 1) % 4]].drop_duplicates()) for i in range(10)}

hours = st.one_of(st.none(), st.floats(0, 400))
alert = st.fixed_dictionaries({
    "person": st.sampled_from(sorted(PLACES)), "level": st.sampled_from(["red", "orange", "yellow"]),
    "urgent": st.booleans(), "review": hours, "decision": st.sampled_from(["approve", "dismiss", "escalate"]),
    "deliver": st.booleans(), "ack": hours, "visit": hours})
mediation = st.tuples(st.sampled_from(list(STATIONS["station_id"])), st.sampled_from(["success", "partial", "failed"]))


def _frame(items) -> pd.DataFrame:
    rows = []
    for i, x in enumerate(items):
        created = T0 + timedelta(hours=i)
        reviewed = None if x["review"] is None else created + timedelta(hours=x["review"])
        approved = reviewed is not None and x["decision"] == "approve"
        delivered = reviewed if approved and x["deliver"] else None
        acked = None if delivered is None or x["ack"] is None else delivered + timedelta(hours=x["ack"])
        visit = None if acked is None or x["visit"] is None else acked + timedelta(hours=x["visit"])
        rows.append({"id": i + 1, "person_id": x["person"], "level": x["level"], "urgent": x["urgent"],
                     "created_at": created, "reviewed_at": reviewed,
                     "review_decision": x["decision"] if reviewed is not None else None,
                     "deadline_at": reviewed + timedelta(hours=72) if approved else None, "delivered_at": delivered,
                     "acknowledged_at": acked, "visit_at": visit})
    df = pd.DataFrame(rows, columns=["id", "person_id", "level", "urgent", "created_at", "reviewed_at",
                                     "review_decision", "deadline_at", "delivered_at", "acknowledged_at", "visit_at"])
    for c in ("created_at", "reviewed_at", "deadline_at", "delivered_at", "acknowledged_at", "visit_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    return df


@settings(max_examples=40, deadline=None)
@given(st.lists(alert, max_size=30), st.lists(mediation, max_size=12), st.floats(0, 800))
def test_counts_nest_scores_stay_in_range_and_ranks_follow_scores(items, meds, now_h):
    med = pd.DataFrame({"mediation_id": [f"M{i}" for i in range(len(meds))],
                        "time": [datetime(2025, 6, 2)] * len(meds), "result": [r for _, r in meds],
                        "station_id": [s for s, _ in meds]})
    index = StationIndex(PLACES, STATIONS, {}, med, pd.DataFrame({"person_id": [], "time": []}))
    card = tally(_frame(items), index, "2025-06-01", "2025-07-01", now=T0 + timedelta(hours=now_h))
    t = card.table
    assert int(t["received"].sum()) == sum(len(PLACES[x["person"]]) for x in items)
    assert (t["reviewed_on_time"] <= t["review_due"]).all() and (t["review_due"] <= t["received"]).all()
    assert (t["acked_on_time"] <= t["ack_due"]).all() and (t["ack_due"] <= t["pushed"]).all()
    assert (t["pushed"] <= t["received"]).all() and (t["visits"] <= t["pushed"]).all()
    assert (t["mediation_success"] <= t["mediations"]).all() and int(t["mediations"].sum()) == len(meds)
    scored = t.dropna(subset=["score"])
    assert scored["score"].between(0, 100).all()
    for _, g in scored.groupby("county_code"):
        assert g["rank"].min() == 1 and (g["rank"] <= g["county_stations"]).all()
        by_rank = g.sort_values(["rank", "score"], ascending=[True, False])
        assert list(by_rank["score"]) == sorted(g["score"], reverse=True)
    shown = card.display()
    assert list(shown["派出所"]) == list(t["station"]) and "县内排名" in shown


def test_an_outcome_counts_against_a_visit_only_when_it_came_after_it():
    items = [{"person": p, "level": "red", "urgent": False, "review": 1.0, "decision": "approve", "deliver": True,
              "ack": 2.0, "visit": 5.0} for p in ("P0", "P1", "P2")]
    frame = _frame(items)
    visit = frame.set_index("person_id")["visit_at"]
    # outcomes in data time (Beijing wall time): P0 a day after its visit, P1 a day before, P2 none
    outcomes = pd.DataFrame({"person_id": ["P0", "P1"],
                             "time": [(visit["P0"] + timedelta(days=1)).tz_convert("Asia/Shanghai").tz_localize(None),
                                      (visit["P1"] - timedelta(days=1)).tz_convert("Asia/Shanghai").tz_localize(None)]})
    index = StationIndex(PLACES, STATIONS, {}, pd.DataFrame(columns=["mediation_id", "time", "result", "station_id"]),
                         outcomes)
    t = tally(frame, index, "2025-06-01", "2025-07-01", now=T0 + timedelta(days=30)).table.set_index("station_id")
    for sid in STATIONS["station_id"]:
        expected = int(sid in PLACES["P0"])
        got = int(t.at[sid, "outcomes_after_visit"]) if sid in t.index else 0
        assert got == expected, sid
