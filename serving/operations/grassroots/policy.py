"""Numbers of the grassroots loop, as configuration: handling deadlines, tip quotas and client limits.

>>> GrassrootsPolicy().handle_deadline("urgent").total_seconds() / 3600
24.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

__all__ = ["GrassrootsPolicy"]


@dataclass(frozen=True)
class GrassrootsPolicy:
    #: hours the community officer has to sign for and handle a report or a tip, by urgency; every
    #: escalation step gives the next holder the same time again
    handle_hours: dict[str, float] = field(default_factory=lambda: {"urgent": 24.0, "soon": 72.0, "routine": 168.0})
    #: tips accepted per address code and Beijing day (beyond it: 429, nothing stored)
    tips_per_code_per_day: int = 20
    #: tips one client may send in ``client_window_seconds`` (counted under a keyed hash held in memory only)
    tips_per_client_window: int = 3
    client_window_seconds: float = 600.0
    #: tips one client may send per day, over all codes
    tips_per_client_per_day: int = 10
    #: a tip with the same address, category and note as one in this many hours is marked a duplicate
    duplicate_hours: float = 24.0
    max_note_chars: int = 500

    def handle_deadline(self, urgency: str) -> timedelta:
        return timedelta(hours=float(self.handle_hours[urgency]))
