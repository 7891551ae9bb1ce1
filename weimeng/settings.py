"""One typed settings object per process, read from the environment in one place.

Construction is cheap and does no I/O; :meth:`Settings.ensure_dirs` is the explicit step that
creates folders. Unknown ``WEIMENG_*`` variables are rejected so a typo fails at start-up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

__all__ = ["Settings", "SettingsError"]

_PREFIX = "WEIMENG_"


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    #: Root of everything the embedded defaults write (world, features, MLflow store, alert store).
    home: Path = Path("weimeng-data")
    #: MLflow tracking URI; default is a SQLite store under ``home``.
    mlflow_tracking_uri: str | None = None
    #: Operational (alert) store URL; default is SQLite under ``home``.
    database_url: str | None = None
    #: Force progress bars on ("1") or off ("0"); read by ``features.progress``.
    progress: str | None = None

    @property
    def world_dir(self) -> Path:
        return self.home / "world"

    @property
    def resolved_mlflow_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'weimeng.db').resolve()}"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        known = {f.name for f in fields(cls)}
        values: dict[str, object] = {}
        for key, raw in env.items():
            if not key.startswith(_PREFIX):
                continue
            name = key[len(_PREFIX):].lower()
            if name not in known:
                raise SettingsError(
                    f"unknown setting {key}={raw!r}; known settings: "
                    + ", ".join(_PREFIX + k.upper() for k in sorted(known))
                )
            values[name] = Path(raw) if name == "home" else raw
        return cls(**values)

    def ensure_dirs(self) -> "Settings":
        self.home.mkdir(parents=True, exist_ok=True)
        return self
