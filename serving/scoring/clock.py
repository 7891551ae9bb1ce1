"""Local time (Asia/Shanghai, naive), the convention of the data contracts: one place to read the clock."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = ["local_now", "TZ"]

TZ = ZoneInfo("Asia/Shanghai")


def local_now() -> datetime:
    """Now in Asia/Shanghai, naive, to the second."""
    return datetime.now(TZ).replace(tzinfo=None, microsecond=0)
