"""ingest(): what is stored, and dedup / cooldown / level-rise / score-update rules."""

from __future__ import annotations

import pytest

import serving.operations.alerts
from common.records import ScoredPerson
from serving.operations.alerts import InvalidInput, ingest

from .helpers import person_with_one_place, scored


@pytest.fixture
def pid(world_tables, directory):
    return person_with_one_place(world_tables, directory)


def test_ingest_entry_point_stores_everything_the_alert_must_keep(store, pid):
    sp = scored(pid, level="red", categories=("retaliation", "repeat_dispute"), probability=0.42, source="event",
                urgent=True)
    [res] = ingest(store, [sp])
    a = store.get(res.alert_id)
    assert (a.level, a.score, a.source, a.urgent) == ("red", 0.42, "event", True)
    assert a.categories == ["retaliation", "repeat_dispute"] and a.reason_key == "repeat_dispute|retaliation"
    assert (a.ruleset_version, a.model_version, a.catalog_version) == ("rules-2026.11.1", "7", "2026.11.1")
    assert a.snapshot_time == sp.snapshot_time and a.as_of == sp.as_of
    assert a.explanation["rule_hits"][0]["rule_id"] == "R-repeat-calls"
    assert a.explanation["factors"][0]["phrase"] == "近30天报警4次，风险上升"
    assert a.expires_at > a.created_at
    assert serving.operations.alerts.ingest is ingest


def test_level_none_and_bad_records_are_rejected_before_anything_is_written(store, pid, world_tables, directory):
    other = person_with_one_place(world_tables, directory, 1)
    with pytest.raises(InvalidInput, match="level='none' is not an alert"):
        store.ingest([scored(other), scored(pid, level="none")])
    assert store.list() == []
    with pytest.raises(InvalidInput, match="probability=1.5 is outside"):
        store.ingest([scored(pid, probability=1.5)])
    with pytest.raises(InvalidInput, match="expects common.records.ScoredPerson"):
        store.ingest([{"person_id": pid}])


def test_same_reasons_within_cooldown_are_suppressed(store, pid, clock):
    first = store.ingest([scored(pid, probability=0.3)])[0]
    clock.advance(days=2)
    again = store.ingest([scored(pid, probability=0.3)])[0]
    assert again.action == "suppressed" and again.alert_id == first.alert_id
    assert len(store.list()) == 1


def test_a_dismissed_alert_still_suppresses_within_cooldown_but_not_after(store, pid, clock):
    first = store.ingest([scored(pid)])[0]
    store.dismiss(first.alert_id, by="r", reason="已核实")
    clock.advance(days=3)
    assert store.ingest([scored(pid)])[0].action == "suppressed"
    clock.advance(days=store.policy.cooldown_days)
    later = store.ingest([scored(pid)])[0]
    assert later.action == "created" and later.alert_id != first.alert_id


def test_an_open_alert_suppresses_even_after_the_cooldown(store, pid, clock):
    first = store.ingest([scored(pid)])[0]
    clock.advance(days=store.policy.cooldown_days + 1)
    assert store.ingest([scored(pid)])[0].alert_id == first.alert_id


def test_rising_score_updates_the_open_alert(store, pid, clock):
    first = store.ingest([scored(pid, probability=0.30)])[0]
    clock.advance(hours=6)
    up = store.ingest([scored(pid, probability=0.55)])[0]
    assert up.action == "updated" and up.alert_id == first.alert_id
    assert store.get(first.alert_id).score == 0.55
    down = store.ingest([scored(pid, probability=0.20)])[0]
    assert down.action == "suppressed" and store.get(first.alert_id).score == 0.55
    assert any(h["action"] == "score_updated" and h["detail"]["new_score"] == 0.55
               for h in store.history(first.alert_id))


def test_rising_level_re_alerts_and_withdraws_the_unreviewed_one(store, pid):
    first = store.ingest([scored(pid, level="yellow")])[0]
    raised = store.ingest([scored(pid, level="red")])[0]
    assert raised.action == "raised" and raised.supersedes == first.alert_id
    assert store.get(first.alert_id).state == "withdrawn"
    assert store.get(raised.alert_id).supersedes_id == first.alert_id
    assert [a.id for a in store.review_queue()] == [raised.alert_id]


def test_rising_level_keeps_an_already_pushed_alert(store, pid):
    first = store.ingest([scored(pid, level="yellow")])[0]
    store.approve(first.alert_id, by="r", reason="推送")
    raised = store.ingest([scored(pid, level="orange")])[0]
    assert raised.action == "raised"
    assert store.get(first.alert_id).state == "queued"


def test_different_reasons_are_a_different_alert(store, pid):
    a = store.ingest([scored(pid, categories=("repeat_dispute",))])[0]
    b = store.ingest([scored(pid, categories=("family_emotion",))])[0]
    assert a.action == b.action == "created" and a.alert_id != b.alert_id
    c = store.ingest([scored(pid, categories=("family_emotion",))])[0]
    assert c.action == "suppressed"


def test_many_people_in_one_call_are_chunked(store, world_tables, monkeypatch):
    import serving.operations.alerts.store as store_mod

    monkeypatch.setattr(store_mod, "INGEST_CHUNK", 7)
    people = list(world_tables["persons"]["person_id"][:30])
    res = store.ingest([scored(p) for p in people])
    assert [r.action for r in res] == ["created"] * 30
    assert len(store.list()) == 30


def test_scored_person_round_trip_through_dict_is_accepted(store, pid):
    sp = ScoredPerson.from_dict(scored(pid).to_dict())
    assert store.ingest([sp])[0].action == "created"
