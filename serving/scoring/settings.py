"""One typed settings object for the scoring service, built from YAML plus explicit overrides.

The YAML is validated by a frozen pydantic model (:class:`ServingSettings`, unknown keys forbidden)
through :func:`common.settings.load_config`: a typo, a value of the wrong type or a number out of range
fails at start-up with a :class:`~serving.scoring.errors.ServingConfigError` naming the file, the key,
the value and what is allowed. Construction does no I/O beyond reading the YAML;
:meth:`ServingSettings.resolve` is the explicit step that fills every path and URI left empty from
:class:`common.settings.Settings` (``WEIMENG_HOME``, ``WEIMENG_MLFLOW_TRACKING_URI`` or MLflow's own
``MLFLOW_TRACKING_URI``) and checks that the files named exist, so a bad setting fails at start-up,
never mid-request.

>>> s = ServingSettings.load(None, overrides={"max_batch": 50, "home": "/tmp/weimeng-doc"})
>>> s.max_batch, s.model_alias
(50, 'champion')
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ConfigDict, Field, field_validator

from common.settings import ConfigModel, Settings, load_config
from serving.scoring.errors import ServingConfigError

__all__ = ["ServingSettings", "default_settings_path", "default_fusion_path"]


def default_settings_path() -> Path:
    return Path(str(resources.files("serving") / "scoring" / "config" / "serving.yaml"))


def default_fusion_path() -> Path:
    return Path(str(resources.files("serving") / "scoring" / "config" / "fusion.yaml"))


class ServingSettings(ConfigModel):
    # Numbers written for a text setting (e.g. a model alias "2") stay text, as before.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True, protected_namespaces=())
    config_error_class: ClassVar[type[Exception]] = ServingConfigError

    home: str | None = None
    data_dir: str | None = None
    tracking_uri: str | None = None
    model_name: str = "weimeng-escalation"
    model_alias: str = "champion"
    require_model: bool = True
    ruleset: str | None = None
    fusion: str | None = None
    keys_file: str | None = None
    auth_required: bool = True
    default_as_of: str | None = None
    max_batch: int = Field(default=1000, ge=1, le=100_000)
    history_snapshots: int = Field(default=6, ge=1, le=36)
    watch_seconds: float = Field(default=2.0, gt=0)
    registry_poll_seconds: float = 60.0
    alert_sink: str | None = "serving.operations.sink:AlertStoreSink"
    sink_on_score: bool = False
    audit_sink: str | None = "serving.operations.sink:AuditLogSink"

    @field_validator("registry_poll_seconds")
    @classmethod
    def _not_negative(cls, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"{seconds}: must be >= 0 (0 = never poll the registry).")
        return seconds

    @field_validator("default_as_of", mode="before")
    @classmethod
    def _date_as_text(cls, value: Any) -> Any:
        """YAML reads an unquoted 2025-06-01 as a date; keep it as the text it was written as."""
        return value.isoformat() if isinstance(value, dt.date) else value

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> ServingSettings:
        """Read a settings YAML (``None``: the packaged defaults) and apply ``overrides`` on top."""
        return load_config(cls, path, default=default_settings_path(), what="settings",
                           overrides={k: v for k, v in (overrides or {}).items() if v is not None})

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> ServingSettings:
        return load_config(cls, data, label=source)

    def resolve(self) -> ServingSettings:
        """Fill every path and URI from the environment and defaults; check that named files exist."""
        env = Settings.from_env()
        home = Path(self.home).expanduser() if self.home else env.home
        if self.home:
            env = Settings.from_env(home=home)

        def under_home(value: str | None, default: Path) -> str:
            if value is None:
                return str(default.resolve())
            p = Path(value).expanduser()
            return str((p if p.is_absolute() else home / p).resolve())

        tracking = self.tracking_uri or env.resolved_mlflow_uri
        out = self.model_copy(update={
            "home": str(home.resolve()), "data_dir": under_home(self.data_dir, env.world_dir),
            "tracking_uri": tracking, "keys_file": under_home(self.keys_file, home / "serving" / "api_keys.json"),
            "fusion": str(Path(self.fusion).expanduser().resolve()) if self.fusion else str(default_fusion_path()),
            "ruleset": str(Path(self.ruleset).expanduser().resolve()) if self.ruleset else None,
        })
        for key in ("fusion", "ruleset"):
            value = getattr(out, key)
            if value is not None and not Path(value).is_file():
                raise ServingConfigError(f"{key} file {value!r} does not exist; fix the path or remove the "
                                         f"setting to use the packaged default.", field=key)
        if out.default_as_of is not None:
            import pandas as pd

            try:
                pd.Timestamp(out.default_as_of)
            except (ValueError, TypeError):
                raise ServingConfigError(f"default_as_of={out.default_as_of!r} is not a date; write YYYY-MM-DD.",
                                         field="default_as_of") from None
        return out
