import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.config import load_config
from training.errors import TrainingDataError
from training.snapshots import hash_fraction, label_snapshots, recent_outcome_mask, snapshot_dates, time_split


def _outcomes(rows):
    return pd.DataFrame(rows, columns=["person_id", "time", "recorded_at"]).assign(
        time=lambda d: pd.to_datetime(d["time"]), recorded_at=lambda d: pd.to_datetime(d["recorded_at"]))


def test_label_window_is_open_at_as_of_and_closed_at_horizon():
    as_of = pd.Timestamp("2025-01-01")
    frame = pd.DataFrame({"person_id": ["a", "b", "c", "d", "e"], "as_of": as_of})
    oc = _outcomes([
        ("a", "2024-12-31 23:00", "2025-01-02"),   # before as_of -> not a label
        ("b", "2025-01-01 00:00", "2025-01-02"),   # exactly as_of -> not in (as_of, ...]
        ("c", "2025-01-01 00:01", "2025-01-02"),   # just after -> label
        ("d", "2025-04-01 00:00", "2025-04-02"),   # as_of + 90 days exactly -> label
        ("e", "2025-04-01 00:01", "2025-04-02"),   # after the horizon -> not a label
    ])
    y = label_snapshots(frame, oc, 90)
    assert y.tolist() == [0, 0, 1, 1, 0]


def test_recent_outcome_exclusion_uses_only_what_was_recorded_before_as_of():
    as_of = pd.Timestamp("2025-01-31")
    frame = pd.DataFrame({"person_id": ["a", "b", "c", "d"], "as_of": as_of})
    oc = _outcomes([
        ("a", "2025-01-20", "2025-01-21"),   # 11 days ago, recorded -> excluded
        ("b", "2025-01-20", "2025-02-05"),   # happened but recorded after as_of: invisible -> kept
        ("c", "2024-12-01", "2024-12-02"),   # 61 days ago -> kept (history is a feature)
    ])
    mask = recent_outcome_mask(frame, oc, 30)
    assert mask.tolist() == [True, False, False, False]
    assert not recent_outcome_mask(frame, oc, 0).any()


def test_snapshot_dates_leave_room_for_the_last_label_window():
    cfg = load_config(None)
    dates = snapshot_dates("2024-01-01", "2025-12-31", cfg)
    assert dates[-1] + pd.Timedelta(days=90) <= pd.Timestamp("2025-12-31")
    assert dates[0] >= pd.Timestamp("2024-01-01") + pd.Timedelta(days=cfg.snapshots.warmup_days)
    assert all((b - a).days == 30 for a, b in itertools.pairwise(dates))


def test_too_short_a_window_is_a_clear_error():
    with pytest.raises(TrainingDataError, match="too short"):
        snapshot_dates("2024-01-01", "2024-06-01", load_config(None))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(8, 40), freq=st.sampled_from([7, 14, 30, 31]), test_n=st.integers(1, 3),
       val_n=st.integers(1, 3), gap=st.sampled_from([30, 60, 90]))
def test_time_split_never_overlaps_label_windows(n, freq, test_n, val_n, gap):
    dates = pd.date_range("2024-01-01", periods=n, freq=f"{freq}D")
    try:
        s = time_split(dates, test_n, val_n, gap)
    except TrainingDataError:
        return
    assert len(s.test) == test_n and len(s.validation) == val_n and s.train
    assert max(s.train) + pd.Timedelta(days=gap) <= min(s.validation)
    assert max(s.validation) + pd.Timedelta(days=gap) <= min(s.test)
    assert set(s.train).isdisjoint(s.validation) and set(s.validation).isdisjoint(s.test)


def test_hash_fraction_is_stable_and_spread():
    ids = pd.Series([f"P{i}" for i in range(5000)])
    a, b = hash_fraction(ids, 1), hash_fraction(ids, 1)
    assert np.array_equal(a, b)
    assert 0.45 < (a < 0.5).mean() < 0.55
