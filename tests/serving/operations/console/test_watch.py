"""The watch list (关注名单) and the budget line: kept current by scoring hand-overs, scoped per
jurisdiction in the console, never pushed, and the queue header states volume against the budget."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa

from serving.operations.alerts import AlertStore
from serving.operations.alerts.models import CountyBudget, WatchEntry
from serving.operations.alerts.watch import budget_status, record_scores
from serving.operations.sink import AlertStoreSink

from .kit import login, people_by_county, scored


def budgeted(sp, county: str, watch: bool, budget: int = 3, as_of: datetime | None = None):
    """A score as a budgeted policy hands it over: the county, the watch flag and the bars used."""
    extra = {"county": county, "watch": watch, "over_budget": watch,
             "thresholds": {"version": "th-1", "county": county, "budget_per_run": budget}}
    sp = replace(sp, extra=extra)
    return replace(sp, as_of=as_of) if as_of is not None else sp


def _watched(engine) -> dict[str, float]:
    with engine.connect() as conn:
        return {r.person_id: r.probability for r in conn.execute(sa.select(WatchEntry))}


def test_record_scores_lists_updates_and_clears(engine):
    a = budgeted(scored("P1", level="none", probability=0.04), "510104", watch=True)
    b = budgeted(scored("P2", level="none", probability=0.03), "510104", watch=True)
    low = budgeted(scored("P3", level="none", probability=0.001), "510104", watch=False)
    r = record_scores(engine, [a, b, low])
    assert (r.listed, r.removed, r.budgets) == (2, 0, 1)
    assert _watched(engine) == {"P1": 0.04, "P2": 0.03}
    # P1 rises into the budget (an alert now): off the list; P2 re-scored: updated, not duplicated
    later = datetime(2026, 11, 30, 23, 0, 0)
    r = record_scores(engine, [budgeted(scored("P1", level="orange", probability=0.2), "510104", False, as_of=later),
                               budgeted(scored("P2", level="none", probability=0.035), "510104", True, as_of=later)])
    assert (r.listed, r.removed) == (1, 1)
    assert _watched(engine) == {"P2": 0.035}
    # an older replay never clears a newer listing
    old = budgeted(scored("P2", level="none", probability=0.001), "510104", False, as_of=datetime(2026, 1, 1))
    assert record_scores(engine, [old]).removed == 0 and "P2" in _watched(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(CountyBudget.county_code, CountyBudget.budget_per_run)).all() == [("510104", 3)]


def test_scores_without_a_budget_change_nothing(engine):
    assert record_scores(engine, [scored("P1", level="none", probability=0.5)]).listed == 0
    assert _watched(engine) == {}


def test_the_sink_updates_the_watch_list_and_files_only_alerts(engine, console_world):
    sink = AlertStoreSink(store=AlertStore(engine, directory=console_world.directory()))
    report = sink([budgeted(scored("P9", level="none", probability=0.05), "510104", True),
                   budgeted(scored("P8", level="red", probability=0.4), "510104", False)])
    assert report.filed == 1 and report.unchanged == 1
    assert _watched(engine) == {"P9": 0.05}
    with engine.connect() as conn:
        assert conn.scalar(sa.text("select count(*) from alerts where person_id = 'P9'")) == 0  # never an alert


def test_budget_status_counts_non_urgent_people_against_the_budget(seeded, counties):
    engine, world, alerts = seeded
    a, b = counties
    record_scores(engine, [budgeted(scored("X1", level="none"), a, True, budget=3),
                           budgeted(scored("X2", level="none"), b, True, budget=5)])
    s = budget_status(engine, [a], None, days=3650)
    assert s.budget == 3 and s.counties == 1
    # seed_alerts: 4 alerts per county, the first urgent -> 3 + 3 non-urgent, 2 urgent in all
    assert (s.alerts, s.urgent, s.watch) == (6, 2, 2)


def test_console_watch_page_and_queue_header_are_scoped(client, seeded, counties):
    engine, world, _ = seeded
    a, b = counties
    pa, pb = people_by_county(world)[a][10], people_by_county(world)[b][10]
    record_scores(engine, [budgeted(scored(pa, level="none", probability=0.06), a, True, budget=3),
                           budgeted(scored(pb, level="none", probability=0.07), b, True, budget=5)])
    login(client, "reviewer-a")
    page = client.get("/watch")
    assert page.status_code == 200 and "关注名单" in page.text
    assert "6.0%" in page.text and "7.0%" not in page.text          # only county A's person
    assert "关注名单 1 人" in page.text and "预算 3 条" in page.text
    queue = client.get("/queue")
    assert "近30天非紧急预警 3 条 / 预算 3 条" in queue.text and "紧急预警 1 条不占预算" in queue.text
    api = client.get("/api/watch").json()
    assert [i["probability"] for i in api["items"]] == [0.06] and api["budget"]["budget"] == 3
    client.post("/logout", data={})
    client.cookies.clear()
    login(client, "reviewer-prov")
    api = client.get("/api/watch").json()
    assert sorted(i["probability"] for i in api["items"]) == [0.06, 0.07] and api["budget"]["budget"] == 8
