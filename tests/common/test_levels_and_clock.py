"""Levels have one order; times are aware UTC inside and Beijing time only at display."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.clock import format_beijing, from_data_time, to_data_time, to_utc
from common.levels import ALERT_LEVELS, LEVEL_LABELS, LEVELS, level_rank, max_level


def test_levels_order_and_labels():
    assert [level_rank(lv) for lv in LEVELS] == [0, 1, 2, 3]
    assert list(ALERT_LEVELS) == sorted(ALERT_LEVELS, key=level_rank, reverse=True)
    assert level_rank(None) == 0 and level_rank(float("nan")) == 0
    assert max_level(["yellow", "orange"]) == "orange" and max_level([]) == "none"
    assert set(LEVEL_LABELS) == set(LEVELS)
    with pytest.raises(ValueError, match="unknown level"):
        level_rank("purple")


def test_a_date_means_midnight_beijing():
    assert from_data_time(date(2025, 6, 1)) == datetime(2025, 5, 31, 16, tzinfo=UTC)
    assert to_data_time("2025-06-01T00:00:00Z") == datetime(2025, 6, 1, 8)
    assert format_beijing(datetime(2025, 5, 31, 16, tzinfo=UTC)) == "2025-06-01 00:00"
    assert format_beijing(None) == ""


def test_naive_values_need_a_declared_meaning():
    assert to_utc(datetime(2025, 1, 1, 8)) == datetime(2025, 1, 1, 8, tzinfo=UTC)
    assert to_utc(datetime(2025, 1, 1, 8), naive="beijing") == datetime(2025, 1, 1, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        to_utc(datetime(2025, 1, 1), naive="local")


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)))
def test_data_time_round_trips_through_utc(wall):
    aware = from_data_time(wall)
    assert aware.tzinfo is not None and aware.utcoffset().total_seconds() == 0
    assert to_data_time(aware) == wall
