"""Time: timezone-aware UTC in storage and APIs; Beijing time only where a person reads it.

The data contracts (incident and record times in the source tables) are Beijing wall-clock times
without an offset, as the police systems record them. They are converted at two edges only: an
``as_of`` or event time that reaches the feature engine becomes naive Beijing wall time
(:func:`to_data_time`), and everything the operational store, the APIs and the records between them
keep is aware UTC (:func:`to_utc`). Display goes through :func:`format_beijing`.

>>> to_utc("2025-06-01T08:00:00+08:00").isoformat()
'2025-06-01T00:00:00+00:00'
>>> to_data_time("2025-06-01T00:00:00Z").isoformat()
'2025-06-01T08:00:00'
>>> format_beijing(to_utc("2025-06-01T00:00:00Z"))
'2025-06-01 08:00'
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "UTC",
    "BEIJING",
    "utcnow",
    "to_utc",
    "to_data_time",
    "from_data_time",
    "to_beijing",
    "format_beijing",
    "beijing_today",
    "beijing_week",
]

UTC = UTC
BEIJING = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """Now, aware UTC, to the microsecond."""
    return datetime.now(UTC)


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp, without importing pandas here
        return value.to_pydatetime()  # type: ignore[no-any-return]
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        return datetime.fromisoformat(text)
    raise TypeError(f"{value!r} is not a date or time")


def to_utc(value: Any, *, naive: str = "utc") -> datetime:
    """Aware UTC from a datetime, date, ISO string or pandas Timestamp.

    A naive value is read as UTC (``naive="utc"``, the store's legacy rows) or as Beijing wall time
    (``naive="beijing"``, values from the data contracts).
    """
    dt = _as_datetime(value)
    if dt.tzinfo is None:
        if naive == "beijing":
            dt = dt.replace(tzinfo=BEIJING)
        elif naive == "utc":
            dt = dt.replace(tzinfo=UTC)
        else:
            raise ValueError(f"naive must be 'utc' or 'beijing', not {naive!r}")
    return dt.astimezone(UTC)


def to_data_time(value: Any) -> datetime:
    """Naive Beijing wall time, the convention of the data contracts (an aware value is converted;
    a naive one is taken to be Beijing wall time already)."""
    dt = _as_datetime(value)
    if dt.tzinfo is not None:
        dt = dt.astimezone(BEIJING).replace(tzinfo=None)
    return dt


def from_data_time(value: Any) -> datetime:
    """Aware UTC from a naive Beijing wall time of the data contracts."""
    return to_utc(value, naive="beijing")


def to_beijing(value: Any) -> datetime:
    """Aware Beijing time for display (naive input is read as UTC)."""
    return to_utc(value).astimezone(BEIJING)


def format_beijing(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time as a person in Sichuan reads it; empty for a missing value."""
    if value is None or value != value:
        return ""
    return to_beijing(value).strftime(fmt)


def beijing_today() -> date:
    return utcnow().astimezone(BEIJING).date()


def beijing_week(value: Any) -> date:
    """The Monday (Beijing calendar) of the week ``value`` falls in: the weekly lists' week.

    >>> beijing_week("2026-11-29T16:30:00Z").isoformat()   # Monday 00:30 in Beijing
    '2026-11-30'
    """
    day = to_beijing(value).date()
    return day - timedelta(days=day.weekday())
