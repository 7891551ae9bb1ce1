"""Point-in-time correctness, online/batch parity and exact feature values."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.catalog import CATALOG, FEATURE_NAMES
from features.store import EventStore
from tests.features.factories import base_tables, incident, with_rows

AS_OF = pd.Timestamp("2024-06-01")


def _store(incidents, parties, **extra) -> EventStore:
    t = with_rows(base_tables(), "incidents", incidents)
    t = with_rows(t, "incident_parties", parties)
    for name, rows in extra.items():
        t = with_rows(t, name, rows)
    return EventStore.from_tables(t)


def _vec(store, pid="P1", as_of=AS_OF) -> dict:
    frame = store.features(as_of, person_ids=[pid])
    return frame.iloc[0][list(FEATURE_NAMES)].to_dict()


def test_exact_counts_for_a_hand_made_history():
    inc = [
        incident("J1", "2024-05-29 21:00", threat=True, note="一方扬言要报复对方"),
        incident("J2", "2024-05-30 23:30", violence=True),
        incident("J3", "2024-05-31 10:00"),
        incident("J4", "2024-02-01 10:00", category="family", note="称不想活了"),
        incident("J5", "2024-06-01 00:00"),                               # at as-of: invisible
        incident("J6", "2024-05-20 10:00", recorded="2024-06-03 10:00"),  # recorded later: invisible
    ]
    parties = [{"incident_id": i, "person_id": "P1", "role": "caller"} for i in ("J1", "J2", "J3", "J4", "J5", "J6")]
    parties += [{"incident_id": "J2", "person_id": "P2", "role": "suspect"}]
    v = _vec(_store(inc, parties))
    assert v["calls_7d"] == 3 and v["calls_30d"] == 3 and v["calls_365d"] == 4
    assert v["calls_family_365d"] == 1 and v["calls_neighbour_365d"] == 3
    assert v["threat_30d"] == 1 and v["kw_retaliation_90d"] == 1 and v["kw_emotion_90d"] == 0
    assert v["violence_90d"] == 1 and v["night_calls_90d"] == 1  # 23:30 only
    assert v["max_calls_same_dispute_7d"] == 3
    assert v["distinct_counterparties_365d"] == 1
    assert v["days_since_last_call"] == pytest.approx(14 / 24)
    assert v["grid_calls_90d_per_1k"] == pytest.approx(1000 * 3 / 500)
    assert v["lives_away_from_hukou"] == 0


def test_person_without_records_gets_zero_counts_and_missing_recency():
    v = _vec(_store([], []), pid="P3")
    assert v["calls_365d"] == 0 and math.isnan(v["days_since_last_call"])


def test_duplicate_calls_are_counted_once():
    inc = [incident("J1", "2024-05-20 10:00"), incident("K1", "2024-05-20 10:12")]
    parties = [{"incident_id": i, "person_id": "P1", "role": "caller"} for i in ("J1", "K1")]
    assert _vec(_store(inc, parties))["calls_30d"] == 1


def test_duplicate_rule_only_uses_calls_recorded_no_later():
    # The first call arrived late: the second is not its duplicate, so while only the second is
    # visible it counts, and once both are visible both count (neither was recorded first).
    late = [incident("J1", "2024-05-20 10:00", recorded="2024-05-28 10:00"),
            incident("K1", "2024-05-20 10:10", recorded="2024-05-20 11:00")]
    parties = [{"incident_id": i, "person_id": "P1", "role": "caller"} for i in ("J1", "K1")]
    store = _store(late, parties)
    assert _vec(store, as_of=pd.Timestamp("2024-05-25"))["calls_30d"] == 1
    assert _vec(store)["calls_30d"] == 2
    # Recorded in order: the second is a duplicate at every as-of.
    ordered = [incident("J1", "2024-05-20 10:00"), incident("K1", "2024-05-20 10:10")]
    assert _vec(_store(ordered, parties))["calls_30d"] == 1


def test_mediation_and_outcome_features():
    med = [{"mediation_id": "M1", "dispute_id": "D1", "time": pd.Timestamp("2024-05-01"),
            "recorded_at": pd.Timestamp("2024-05-02"), "result": "failed", "mediator": "committee"},
           {"mediation_id": "M2", "dispute_id": "D1", "time": pd.Timestamp("2024-05-20"),
            "recorded_at": pd.Timestamp("2024-06-05"), "result": "success", "mediator": "police"}]
    out = [{"outcome_id": "O1", "person_id": "P1", "time": pd.Timestamp("2021-01-01"),
            "recorded_at": pd.Timestamp("2021-01-03"), "kind": "violent_case", "source": "case_system"}]
    v = _vec(_store([], [], mediations=med, outcomes=out))
    assert v["failed_mediations_90d"] == 1 and v["successful_mediations_90d"] == 0  # M2 recorded after as-of
    assert v["prior_outcomes"] == 1  # outcomes are read beyond the look-back window


# --- property: events at or after as-of (by event or recording time) never change a feature ----------

_times = st.integers(min_value=-400 * 24, max_value=-1).map(lambda h: AS_OF + pd.Timedelta(hours=h))
_future = st.integers(min_value=0, max_value=200 * 24).map(lambda h: AS_OF + pd.Timedelta(hours=h))


@st.composite
def _incident_rows(draw, prefix, when):
    n = draw(st.integers(0, 6))
    rows, parties = [], []
    for i in range(n):
        t = draw(when)
        late = draw(st.booleans())
        rec = t + pd.Timedelta(minutes=draw(st.integers(0, 60 * 24 * 40 if late else 90)))
        rows.append(incident(f"{prefix}{i}", t, rec, category=draw(st.sampled_from(["family", "neighbour", "debt"])),
                             violence=draw(st.booleans()), threat=draw(st.booleans()),
                             note=draw(st.sampled_from(["纠纷", "扬言要报复对方", "称不想活了", "报复社会"])),
                             dispute_id=draw(st.sampled_from(["D1", None]))))
        for pid in draw(st.sets(st.sampled_from(["P1", "P2", "P3"]), min_size=1, max_size=2)):
            parties.append({"incident_id": f"{prefix}{i}", "person_id": pid,
                            "role": draw(st.sampled_from(["caller", "party", "victim", "suspect"]))})
    return rows, parties


@st.composite
def _invisible(draw):
    """Events invisible at AS_OF: happened at/after it, or happened before but recorded at/after it."""
    rows, parties = draw(_incident_rows("F", _future))
    past, past_parties = draw(_incident_rows("L", _times))
    for r in past:
        r["recorded_at"] = AS_OF + pd.Timedelta(minutes=draw(st.integers(0, 60 * 24 * 30)))
    return rows + past, parties + past_parties


def _frame(store):
    return store.features(AS_OF, person_ids=["P1", "P2", "P3"]).set_index("person_id")[list(FEATURE_NAMES)]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_incident_rows("J", _times), _invisible())
def test_invisible_events_never_change_features(history, invisible):
    inc, parties = history
    extra_inc, extra_parties = invisible
    before = _frame(_store(inc, parties))
    after = _frame(_store(inc + extra_inc, parties + extra_parties))
    pd.testing.assert_frame_equal(before, after)


# --- online vector equals the batch vector -----------------------------------------------------------

def test_online_vector_equals_batch_on_a_simulated_world(small_store):
    as_of = "2024-10-01"
    batch = small_store.features(as_of).set_index("person_id")
    assert len(batch) > 50
    for pid in batch.sample(40, random_state=0).index:
        online = small_store.online_vector(pid, as_of)
        for name in FEATURE_NAMES:
            b, o = batch.at[pid, name], online[name]
            assert (o is None and math.isnan(b)) or o == pytest.approx(b), (pid, name, o, b)


def test_population_has_recent_records_only(small_store):
    pop = set(small_store.population("2024-10-01", lookback_days=30))
    feats = small_store.features("2024-10-01").set_index("person_id")
    assert pop and pop <= set(feats.index)
    recent = feats.loc[sorted(pop), ["calls_30d", "mediations_365d", "care_records_365d", "reports_30d"]]
    assert (recent.sum(axis=1) > 0).all()


def test_every_catalog_feature_has_label_template_and_is_produced(small_store):
    frame = small_store.features("2024-10-01")
    assert list(frame.columns[2:]) == list(FEATURE_NAMES)
    for f in CATALOG.values():
        assert f.label and "{v}" in f.template or f.kind == "flag"
        assert f.phrase(3)
