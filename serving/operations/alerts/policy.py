"""Alert policy: cooldown, expiry, response deadlines and suggested actions, as configuration.

Numbers live here (and in whatever mapping a deployment passes to :meth:`AlertPolicy.from_mapping`),
never inside an endpoint. Unknown keys are rejected so a typo fails at start-up.

>>> AlertPolicy.from_mapping({"cooldown_days": 7}).cooldown_days
7.0
>>> AlertPolicy.from_mapping({"cooldown": 7})
Traceback (most recent call last):
...
serving.operations.alerts.errors.ConfigurationError: unknown alert policy key(s) ['cooldown']; known keys: ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from typing import Any

from serving.operations.alerts.errors import ConfigurationError

__all__ = ["AlertPolicy", "DEFAULT_ACTIONS"]

DEFAULT_ACTIONS: dict[str, str] = {
    "red": "24小时内上门走访，联系社区民警共同稳控",
    "orange": "3日内上门走访，了解矛盾并组织调解",
    "yellow": "7日内电话或上门回访，关注矛盾动向",
}


def _per_level(red: float, orange: float, yellow: float) -> dict[str, float]:
    return {"red": red, "orange": orange, "yellow": yellow}


@dataclass(frozen=True)
class AlertPolicy:
    #: Same person + same reasons within this many days: no new alert unless the level rises.
    cooldown_days: float = 14.0
    #: An alert not yet answered with an outcome expires this many days after it was created.
    expiry_days: Mapping[str, float] = field(default_factory=lambda: _per_level(5, 10, 20))
    #: The cadre's response deadline, counted from approval.
    deadline_hours: Mapping[str, float] = field(default_factory=lambda: _per_level(24, 72, 168))
    #: ``sweep`` closes alerts this many days after their outcome was reported.
    close_after_outcome_days: float = 7.0
    #: Suggested action per level when the explanation has none.
    default_actions: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    #: Push channels an approval writes outbox rows for (each must have an adapter in the worker).
    channels: tuple[str, ...] = ("inbox",)
    #: Mini-program page (or web path) of one inbox item; ``{alert_id}`` is filled in.
    link_template: str = "pages/inbox/detail?alert={alert_id}"

    def __post_init__(self) -> None:
        for name in ("expiry_days", "deadline_hours", "default_actions"):
            missing = {"red", "orange", "yellow"} - set(getattr(self, name))
            if missing:
                raise ConfigurationError(f"alert policy {name} lacks level(s) {sorted(missing)}; give red, "
                                         f"orange and yellow.")
        if self.cooldown_days < 0:
            raise ConfigurationError(f"cooldown_days={self.cooldown_days} must be >= 0.")
        if not self.channels:
            raise ConfigurationError("alert policy channels is empty; use at least ('inbox',).")
        if "{alert_id}" not in self.link_template:
            raise ConfigurationError(f"link_template={self.link_template!r} must contain '{{alert_id}}'.")

    @property
    def cooldown(self) -> timedelta:
        return timedelta(days=self.cooldown_days)

    def expiry(self, level: str) -> timedelta:
        return timedelta(days=float(self.expiry_days[level]))

    def deadline(self, level: str) -> timedelta:
        return timedelta(hours=float(self.deadline_hours[level]))

    def link(self, alert_id: int) -> str:
        return self.link_template.format(alert_id=alert_id)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> AlertPolicy:
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigurationError(f"unknown alert policy key(s) {unknown}; known keys: {sorted(known)}.")
        base = cls()
        if "channels" in values:
            values["channels"] = tuple(values["channels"])
        for key in ("cooldown_days", "close_after_outcome_days"):
            if key in values:
                values[key] = float(values[key])
        for key in ("expiry_days", "deadline_hours", "default_actions"):
            if key in values:
                values[key] = {**getattr(base, key), **values[key]}
        return replace(base, **values)
