"""ConsoleSettings: one typed settings object for the console process.

Cheap to construct, no I/O; unknown keys are rejected. ``from_env`` reads the environment in one
place with the same names as the rest of the project (``WEIMENG_DATABASE_URL``, ``WEIMENG_HOME``):
the world is ``$WEIMENG_HOME/world`` and leadership reports ``$WEIMENG_HOME/reports``.

>>> ConsoleSettings.from_mapping({"session_idle_minutes": 10}).session_idle_minutes
10.0
>>> ConsoleSettings.from_mapping({"idle": 10})
Traceback (most recent call last):
...
serving.operations.console.errors.ConsoleConfigError: unknown console setting(s) ['idle']; known: ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from serving.operations.console.errors import ConsoleConfigError

__all__ = ["ConsoleSettings"]


@dataclass(frozen=True)
class ConsoleSettings:
    #: Operational store (alerts, accounts, audit). None: ``serving.operations.alerts.database_url_from_env()``.
    database_url: str | None = None
    #: The world (EventStore directory) for the incident timeline and jurisdiction of people.
    data_dir: Path | None = None
    #: Folder of leadership reports (HTML) served at ``/reports``.
    reports_dir: Path | None = None
    #: A session ends after this many idle minutes, and at the latest after ``session_max_hours``.
    session_idle_minutes: float = 30.0
    session_max_hours: float = 12.0
    #: Set the cookie's Secure flag (behind HTTPS in production).
    cookie_secure: bool = False
    #: Rows per queue page.
    queue_limit: int = 200
    #: Where the cadre inbox page is mounted (a link in the console's header), or None.
    inbox_url: str | None = None

    def __post_init__(self) -> None:
        if self.session_idle_minutes <= 0 or self.session_max_hours <= 0:
            raise ConsoleConfigError(f"session_idle_minutes={self.session_idle_minutes} and session_max_hours="
                                     f"{self.session_max_hours} must both be > 0.")
        if not 1 <= self.queue_limit <= 5000:
            raise ConsoleConfigError(f"queue_limit={self.queue_limit}; use 1..5000.")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> ConsoleSettings:
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConsoleConfigError(f"unknown console setting(s) {unknown}; known: {sorted(known)}.")
        for key in ("data_dir", "reports_dir"):
            if values.get(key) is not None:
                values[key] = Path(values[key])
        for key in ("session_idle_minutes", "session_max_hours"):
            if key in values:
                values[key] = float(values[key])
        return replace(cls(), **values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> ConsoleSettings:
        from common.settings import Settings

        settings = Settings.from_env(environ)
        base = {"database_url": settings.resolved_database_url, "data_dir": settings.world_dir,
                "reports_dir": settings.reports_dir}
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_mapping(base)
