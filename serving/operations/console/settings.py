"""ConsoleSettings: one typed settings object for the console process (a frozen pydantic model).

Cheap to construct, no I/O; unknown keys and values out of range are
:class:`~serving.operations.console.errors.ConsoleConfigError` naming the key and what is allowed.
``from_env`` takes every path and URL from :class:`common.settings.Settings` (``WEIMENG_DATABASE_URL``,
``WEIMENG_HOME``, ``WEIMENG_MLFLOW_TRACKING_URI``): the world is ``<home>/world``, leadership reports
``<home>/reports`` and the model registry the one training and scoring use (``<home>/mlflow.db`` by default).

>>> ConsoleSettings.from_mapping({"session_idle_minutes": 10}).session_idle_minutes
10.0
>>> ConsoleSettings.from_mapping({"idle": 10})
Traceback (most recent call last):
...
serving.operations.console.errors.ConsoleConfigError: console settings: 未知的配置项 / unknown key(s) ['idle']. ...
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from common.settings import ConfigModel, Settings, load_config
from serving.operations.console.errors import ConsoleConfigError

__all__ = ["ConsoleSettings"]


class ConsoleSettings(ConfigModel):
    config_error_class: ClassVar[type[Exception]] = ConsoleConfigError

    #: Operational store (alerts, accounts, audit). None: ``Settings().resolved_database_url``.
    database_url: str | None = None
    #: The world (EventStore directory) for the incident timeline and jurisdiction of people.
    data_dir: Path | None = None
    #: Folder of leadership reports (HTML) served at ``/reports``.
    reports_dir: Path | None = None
    #: A session ends after this many idle minutes, and at the latest after ``session_max_hours``.
    session_idle_minutes: float = Field(default=30.0, gt=0)
    session_max_hours: float = Field(default=12.0, gt=0)
    #: Set the cookie's Secure flag (behind HTTPS in production).
    cookie_secure: bool = False
    #: Rows per queue page.
    queue_limit: int = Field(default=200, ge=1, le=5000)
    #: Where the cadre inbox page is mounted (a link in the console's header), or None.
    inbox_url: str | None = None
    #: The MLflow registry the model page (``/models``) reads, or None (the page says none is configured).
    tracking_uri: str | None = None
    #: The registered model the scoring service serves: the case page links an alert's model version to its page.
    model_name: str = Field(default="weimeng-escalation", min_length=1, max_length=200)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, *, source: str = "console settings") -> ConsoleSettings:
        return load_config(cls, dict(values or {}), label=source)

    @classmethod
    def from_file(cls, path: str | Path) -> ConsoleSettings:
        """A YAML file of console settings (the keys above)."""
        return load_config(cls, Path(path), what="console settings")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ConsoleSettings:
        settings = Settings.from_env(environ)
        base: dict[str, Any] = {"database_url": settings.resolved_database_url, "data_dir": settings.world_dir,
                                "reports_dir": settings.reports_dir, "tracking_uri": settings.resolved_mlflow_uri}
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_mapping(base)
