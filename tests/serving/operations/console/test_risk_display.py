"""Reviewers read risk in their terms: beside the probability, the multiple of the average and the place in
the county, on the case page and in the queue (what scoring attached to the alert; nothing recomputed)."""

from __future__ import annotations

from dataclasses import replace

from serving.operations.alerts import AlertStore

from .kit import login, people_by_county, scored

RISK = {"multiple": 5.3, "percentile": 98.4, "county": None, "base_rate": 0.0057, "reference": "v7"}


def test_case_page_and_queue_show_the_multiple_and_the_county_percentile(seeded, tmp_path):
    from fastapi.testclient import TestClient

    from serving.operations.console import ConsoleSettings, create_app

    engine, world, alerts = seeded
    groups = people_by_county(world)
    taken = {p for c in alerts for p in groups[c][:4]}                # the seeded alerts' people
    people = [p for p in world.store().table("incident_parties")["person_id"].drop_duplicates() if p not in taken]
    store = AlertStore(engine, directory=world.directory())
    with_terms, without = store.ingest([replace(scored(people[0], level="red", probability=0.031),
                                                extra={"risk": RISK}),
                                        scored(people[1], level="yellow", probability=0.02)])
    app = create_app(ConsoleSettings(reports_dir=tmp_path), engine=engine, world=world)
    with TestClient(app) as client:
        login(client, "reviewer-prov")
        queue = client.get("/queue?status=all").text
        case = client.get(f"/cases/{with_terms.alert_id}").text
        plain = client.get(f"/cases/{without.alert_id}").text
        api = client.get(f"/api/cases/{with_terms.alert_id}").json()
    assert "平均的 5 倍 · 县内前 2%" in queue
    assert "3.1%" in case and "约为平均水平的 5 倍，高于本区县 98% 的有记录人员" in case
    assert api["risk"] == "约为平均水平的 5 倍，高于本区县 98% 的有记录人员"
    assert 'id="risk-terms"' not in plain           # a model version without a reference says nothing more
