"""Times on the console: stored aware UTC, shown as Beijing time through one filter.

The case page's 数据截至 used to be 16 hours off: the scoring side handed over Beijing wall time,
the store kept it as if it were UTC, and the page added 8 hours again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from serving.operations.alerts import AlertStore
from serving.operations.console.display import time_text

from .kit import login, people_by_county, scored


def _alert_with_snapshot(engine, world, county: str, snapshot: datetime, which: int) -> int:
    person = people_by_county(world)[county][which]
    # reasons this person has no alert for yet (kit.seed_alerts: repeat_dispute, family_emotion, ...)
    sp = scored(person, categories=(("family_emotion",), ("harm_risk",))[which])
    sp = type(sp)(**{**sp.__dict__, "snapshot_time": snapshot})
    return AlertStore(engine, directory=world.directory()).ingest([sp])[0].alert_id


def test_the_case_page_shows_the_data_snapshot_in_beijing_time(client, seeded, counties):
    engine, world, _ = seeded
    a, _ = counties
    utc_id = _alert_with_snapshot(engine, world, a, datetime(2026, 10, 31, 15, 0, tzinfo=UTC), 0)
    # what the scoring side hands over for data read at 23:00 Beijing time: naive data-contract time
    data_id = _alert_with_snapshot(engine, world, a, datetime(2026, 10, 31, 23, 0), 1)
    login(client, "reviewer-a")
    for alert_id in (utc_id, data_id):
        html = client.get(f"/cases/{alert_id}").text
        assert "数据截至 2026-10-31 23:00" in html
        assert "2026-11-01 07:00" not in html and "2026-10-31 15:00" not in html
        body = client.get(f"/api/cases/{alert_id}").json()
        assert body["alert"]["snapshot_time"] == "2026-10-31T15:00:00+00:00"


def test_every_console_time_goes_through_one_beijing_filter():
    assert time_text(datetime(2026, 12, 31, 16, 30, tzinfo=UTC)) == "2027-01-01 00:30"
    assert time_text("2026-10-31T15:00:00+00:00") == "2026-10-31 23:00"
    assert time_text(datetime(2026, 10, 31, 15, 0)) == "2026-10-31 23:00"     # a naive store value is UTC
    assert time_text(None) == "" and time_text("") == ""
