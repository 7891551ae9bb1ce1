"""Alert policy: cooldown, expiry, response deadlines and suggested actions, as configuration.

Numbers live here (and in whatever mapping a deployment passes to :meth:`AlertPolicy.from_mapping`),
never inside an endpoint. The policy is a frozen pydantic model: unknown keys, levels other than red /
orange / yellow and negative durations are rejected, so a typo fails at start-up.

>>> AlertPolicy.from_mapping({"cooldown_days": 7}).cooldown_days
7.0
>>> AlertPolicy.from_mapping({"cooldown": 7})
Traceback (most recent call last):
...
serving.operations.alerts.errors.ConfigurationError: alert policy: 未知的配置项 / unknown key(s) ['cooldown']. ...
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from common.levels import ALERT_LEVELS
from common.settings import ConfigModel, load_config
from serving.operations.alerts.errors import ConfigurationError

__all__ = ["AlertPolicy", "DEFAULT_ACTIONS"]

DEFAULT_ACTIONS: dict[str, str] = {
    "red": "24小时内上门走访，联系社区民警共同稳控",
    "orange": "3日内上门走访，了解矛盾并组织调解",
    "yellow": "7日内电话或上门回访，关注矛盾动向",
}


def _per_level(red: float, orange: float, yellow: float) -> dict[str, float]:
    return {"red": red, "orange": orange, "yellow": yellow}


class AlertPolicy(ConfigModel):
    config_error_class: ClassVar[type[Exception]] = ConfigurationError

    #: Same person + same reasons within this many days: no new alert unless the level rises.
    cooldown_days: float = Field(default=14.0, ge=0)
    #: An alert not yet answered with an outcome expires this many days after it was created.
    expiry_days: dict[str, float] = Field(default_factory=lambda: _per_level(5, 10, 20))
    #: The cadre's response deadline, counted from approval.
    deadline_hours: dict[str, float] = Field(default_factory=lambda: _per_level(24, 72, 168))
    #: ``sweep`` closes alerts this many days after their outcome was reported.
    close_after_outcome_days: float = 7.0
    #: Suggested action per level when the explanation has none.
    default_actions: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    #: Push channels an approval writes outbox rows for (each must have an adapter in the worker).
    channels: tuple[str, ...] = Field(default=("inbox",), min_length=1)
    #: Mini-program page (or web path) of one inbox item; ``{alert_id}`` is filled in.
    link_template: str = "pages/inbox/detail?alert={alert_id}"

    @field_validator("expiry_days", "deadline_hours", "default_actions")
    @classmethod
    def _alert_levels_only(cls, per_level: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(per_level) - set(ALERT_LEVELS))
        if unknown:
            raise ValueError(f"取值无效 / level(s) {unknown} are not allowed; possible values are "
                             f"{list(ALERT_LEVELS)}.")
        return per_level

    @model_validator(mode="after")
    def _complete(self) -> AlertPolicy:
        for name in ("expiry_days", "deadline_hours", "default_actions"):
            missing = {"red", "orange", "yellow"} - set(getattr(self, name))
            if missing:
                raise ValueError(f"alert policy {name} lacks level(s) {sorted(missing)}; give red, orange and "
                                 f"yellow.")
        if "{alert_id}" not in self.link_template:
            raise ValueError(f"link_template={self.link_template!r} must contain '{{alert_id}}'.")
        return self

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
    def from_mapping(cls, values: Mapping[str, Any] | None, *, source: str = "alert policy") -> AlertPolicy:
        """A deployment's policy: the keys it names over the defaults (per-level maps level by level)."""
        values = dict(values or {})
        base = cls()
        for key in ("expiry_days", "deadline_hours", "default_actions"):
            if isinstance(values.get(key), Mapping):
                values[key] = {**getattr(base, key), **values[key]}
        return load_config(cls, values, label=source)
