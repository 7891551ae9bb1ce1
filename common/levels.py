"""Risk levels: one order, one set of labels, one rank.

>>> level_rank("orange") > level_rank("yellow")
True
>>> max_level(["yellow", "red", "none"])
'red'
>>> LEVEL_LABELS["red"]
'红色预警'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal, TypeGuard

__all__ = [
    "Level",
    "AlertLevel",
    "LEVELS",
    "ALERT_LEVELS",
    "LEVEL_NAMES",
    "LEVEL_LABELS",
    "LEVEL_COLOURS",
    "level_rank",
    "max_level",
    "is_level",
]

Level = Literal["none", "yellow", "orange", "red"]
AlertLevel = Literal["yellow", "orange", "red"]

#: Every level, lowest first; the index is the rank.
LEVELS: Final[tuple[Level, ...]] = ("none", "yellow", "orange", "red")
#: The levels an alert can carry, most serious first (display order).
ALERT_LEVELS: Final[tuple[AlertLevel, ...]] = ("red", "orange", "yellow")
#: One character, for tables.
LEVEL_NAMES: Final[dict[str, str]] = {"red": "红", "orange": "橙", "yellow": "黄", "none": "无"}
#: The label a reviewer or cadre reads.
LEVEL_LABELS: Final[dict[str, str]] = {"red": "红色预警", "orange": "橙色预警", "yellow": "黄色预警", "none": "无预警"}
LEVEL_COLOURS: Final[dict[str, str]] = {"red": "#d7301f", "orange": "#fc8d59", "yellow": "#fdcc3a", "none": "#bdbdbd"}

_RANK: Final[dict[str, int]] = {level: i for i, level in enumerate(LEVELS)}


def is_level(value: object) -> TypeGuard[Level]:
    return isinstance(value, str) and value in _RANK


def level_rank(level: str | None) -> int:
    """none (or a missing value) = 0 < yellow = 1 < orange = 2 < red = 3; anything else is an error."""
    if level is None or level != level:  # None or NaN
        return 0
    try:
        return _RANK[level]
    except (KeyError, TypeError):
        raise ValueError(f"unknown level {level!r}; allowed: {list(LEVELS)}") from None


def max_level(levels: Iterable[str | None]) -> Level:
    """The most serious of ``levels`` (``none`` when empty)."""
    best = 0
    for level in levels:
        best = max(best, level_rank(level))
    return LEVELS[best]
