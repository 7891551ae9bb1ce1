"""The station scorecard (派出所一网考): each alert counted at the stations of the person's places, review and
acknowledgement judged against their deadlines, ranks within a county; the console's /reports shows it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from serving.operations.alerts import AlertStore
from serving.operations.alerts.models import Alert, AlertOutcome, InboxItem
from serving.operations.alerts.scorecard import ScorecardRules, StationIndex, last_month, station_scorecard

from .kit import login, people_by_county, scored

AS_OF = datetime(2024, 12, 20)        # data time (Beijing), inside the small world's last month


def _seed(engine, world, county):
    """Three alerts: urgent red reviewed in 1 h, acknowledged in time, visited; orange reviewed after 30 h and
    acknowledged late; yellow never reviewed."""
    people = people_by_county(world)[county][:3]
    store = AlertStore(engine, directory=world.directory())
    res = store.ingest([replace(scored(p, level=lv, urgent=(lv == "red")), as_of=AS_OF, snapshot_time=AS_OF)
                        for p, lv in zip(people, ("red", "orange", "yellow"), strict=True)])
    ids = [r.alert_id for r in res]
    t0 = datetime(2024, 12, 20, 2, 0, tzinfo=UTC)
    with engine.begin() as conn:
        for aid, review_h, ack_h in ((ids[0], 1, 5), (ids[1], 30, 120)):
            reviewed = t0 + timedelta(hours=review_h)
            conn.execute(sa.update(Alert).where(Alert.id == aid).values(
                created_at=t0, reviewed_at=reviewed, review_decision="approve", state="acknowledged",
                deadline_at=reviewed + timedelta(hours=72)))
            conn.execute(sa.insert(InboxItem).values(
                inbox_id=f"inbox-{aid}", alert_id=aid, delivery_key=f"k{aid}", staff_id="S1", payload={},
                status="acknowledged", created_at=reviewed, acknowledged_at=reviewed + timedelta(hours=ack_h)))
        conn.execute(sa.update(Alert).where(Alert.id == ids[2]).values(created_at=t0))
        conn.execute(sa.insert(AlertOutcome).values(
            alert_id=ids[0], person_id=people[0], inbox_id=f"inbox-{ids[0]}", staff_id="S1", kind="visited",
            kind_label="已走访", reported_at=t0 + timedelta(hours=10), alert_level="red", alert_score=0.3,
            alert_categories=["repeat_dispute"], alert_as_of=t0, ruleset_version="r", model_version="7",
            snapshot_time=t0))
    return people


def test_scorecard_counts_each_alert_at_its_stations_against_the_deadlines(engine, console_world, counties):
    people = _seed(engine, console_world, counties[0])
    index = StationIndex.from_event_store(console_world.store())
    card = station_scorecard(engine, index, "2024-12-01", "2025-01-01")
    t = card.table.set_index("station_id")
    expected: dict[str, dict[str, int]] = {}
    for i, pid in enumerate(people):
        for sid in index.person_stations[pid]:
            e = expected.setdefault(sid, {"received": 0, "reviewed_on_time": 0, "pushed": 0, "acked_on_time": 0,
                                          "visits": 0})
            e["received"] += 1
            e["reviewed_on_time"] += i == 0           # urgent: 1 h of 2 h; orange: 30 h of 24 h is late
            e["pushed"] += i in (0, 1)
            e["acked_on_time"] += i == 0              # 120 h after approval is past the 72 h deadline
            e["visits"] += i == 0
    assert expected
    for sid, e in expected.items():
        assert {k: int(t.at[sid, k]) for k in e} == e, sid
    # a stricter urgent deadline makes the first review late too
    strict = station_scorecard(engine, index, "2024-12-01", "2025-01-01",
                               rules=ScorecardRules(urgent_review_hours=0.5)).table.set_index("station_id")
    assert int(strict["reviewed_on_time"].sum()) == 0
    # the yellow alert still waiting is not late yet an hour after filing (72 h): out of the review rate
    for sid in index.person_stations[people[2]]:
        assert int(t.at[sid, "review_due"]) == int(t.at[sid, "received"])
    early = station_scorecard(engine, index, "2024-12-01", "2025-01-01",
                              now=datetime(2024, 12, 20, 3, 0, tzinfo=UTC)).table.set_index("station_id")
    for sid in index.person_stations[people[2]]:
        assert int(early.at[sid, "review_due"]) == int(t.at[sid, "received"]) - 1
    # another period holds none of these alerts
    later = station_scorecard(engine, index, "2025-01-01", "2025-02-01").table
    assert int(later["received"].sum()) == 0
    # ranks: 1..n within each county, by the score
    for _, g in card.table.dropna(subset=["score"]).groupby("county_code"):
        assert g["rank"].min() == 1 and list(g.sort_values("rank")["score"]) == sorted(g["score"], reverse=True)
    assert card.table["score"].dropna().between(0, 100).all()


def test_console_reports_page_shows_the_scorecard_of_the_viewers_jurisdiction(seeded, tmp_path):
    from fastapi.testclient import TestClient

    from serving.operations.console import ConsoleSettings, create_app

    engine, world, _ = seeded
    county = sorted(people_by_county(world), key=lambda c: -len(people_by_county(world)[c]))[0]
    _seed(engine, world, county)
    app = create_app(ConsoleSettings(reports_dir=tmp_path), engine=engine, world=world)
    start, end = last_month(world.store())
    card = station_scorecard(engine, world.station_index(), start, end).table
    with TestClient(app) as client:
        login(client, "leader")
        page = client.get("/reports").text
    assert "派出所一网考" in page and "统计方法" in page and "县内排名" in page
    assert f"数据期间 {start.date()} 至 {(end - pd.Timedelta(days=1)).date()}" in page
    busiest = card.sort_values("received", ascending=False).iloc[0]
    assert busiest.received > 0 and f"<td>{busiest.station}</td>" in page
