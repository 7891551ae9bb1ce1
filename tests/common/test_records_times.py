"""ScoredPerson carries aware UTC: a naive time is a data-contract (Beijing wall) time and is converted once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd

from common.records import ScoredPerson
from rules.model import to_timestamp


def _person(as_of, snapshot) -> ScoredPerson:
    return ScoredPerson(person_id="P1", as_of=as_of, probability=0.4, level="orange", categories=("harm_risk",),
                        explanation=None, ruleset_version="r1", model_version=None, catalog_version="c1",
                        snapshot_time=snapshot)


def test_naive_times_are_beijing_data_time_and_come_out_aware_utc():
    sp = _person(datetime(2024, 12, 1), pd.Timestamp("2024-12-01 09:30:00"))
    assert sp.as_of == datetime(2024, 11, 30, 16, 0, tzinfo=UTC) and sp.as_of.tzinfo is UTC
    assert sp.snapshot_time == datetime(2024, 12, 1, 1, 30, tzinfo=UTC) and type(sp.snapshot_time) is datetime


def test_aware_times_keep_their_instant_in_utc():
    plus8 = timezone(timedelta(hours=8))
    sp = _person(datetime(2024, 12, 1, 8, 0, tzinfo=plus8), datetime(2024, 12, 1, 0, 0, tzinfo=UTC))
    assert sp.as_of == datetime(2024, 12, 1, 0, 0, tzinfo=UTC) and sp.as_of.tzinfo is UTC


def test_the_json_form_has_offsets_and_round_trips():
    sp = _person(datetime(2024, 12, 1), datetime(2024, 12, 1, 2, 0, tzinfo=UTC))
    d = sp.to_dict()
    assert d["as_of"] == "2024-11-30T16:00:00+00:00" and d["snapshot_time"] == "2024-12-01T02:00:00+00:00"
    assert ScoredPerson.from_dict(d) == sp


def test_the_rule_engine_keeps_naive_beijing_time():
    assert to_timestamp("2024-11-30T16:00:00Z") == pd.Timestamp("2024-12-01 00:00:00")
    assert to_timestamp("2024-12-01 00:00:00.000000001") == pd.Timestamp("2024-12-01 00:00:00.000000001")
    assert to_timestamp("2024-12-01").tzinfo is None
