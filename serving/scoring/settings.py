"""One typed settings object for the scoring service, built from YAML plus explicit overrides.

Construction is cheap and does no I/O beyond reading the YAML; :meth:`ServingSettings.resolve` is the
explicit step that fills defaults from the environment (``WEIMENG_HOME``,
``WEIMENG_MLFLOW_TRACKING_URI``: the only two variables read, here and nowhere else in the service)
and checks that the files named exist, so a bad setting fails at start-up, never mid-request.

>>> s = ServingSettings.load(None, overrides={"max_batch": 50, "home": "/tmp/weimeng-doc"})
>>> s.max_batch, s.model_alias
(50, 'champion')
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from common.settings import Settings
from serving.scoring.errors import ServingConfigError

__all__ = ["ServingSettings", "default_settings_path", "default_fusion_path"]


def default_settings_path() -> Path:
    return Path(str(resources.files("serving") / "scoring" / "config" / "serving.yaml"))


def default_fusion_path() -> Path:
    return Path(str(resources.files("serving") / "scoring" / "config" / "fusion.yaml"))


@dataclass(frozen=True)
class ServingSettings:
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
    max_batch: int = 1000
    history_snapshots: int = 6
    watch_seconds: float = 2.0
    registry_poll_seconds: float = 60.0
    alert_sink: str | None = "serving.operations.sink:AlertStoreSink"
    sink_on_score: bool = False

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> ServingSettings:
        """Read a settings YAML (``None``: the packaged defaults) and apply ``overrides`` on top."""
        import yaml

        p = default_settings_path() if path is None else Path(path)
        if not p.is_file():
            raise ServingConfigError(f"配置文件不存在 / settings file {str(p)!r} not found; "
                                     f"copy {default_settings_path()} and edit it.", field="config")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ServingConfigError(f"{p}: 不是有效的 YAML / not valid YAML: {exc}", field="config") from None
        if not isinstance(data, dict):
            raise ServingConfigError(f"{p}: expected a mapping of settings, got {type(data).__name__}.",
                                     field="config")
        data.update({k: v for k, v in (overrides or {}).items() if v is not None})
        return cls.from_dict(data, source=str(p))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> ServingSettings:
        known = {f.name: f for f in fields(cls)}
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(str(key), list(known), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ServingConfigError(f"{source}: unknown setting {key!r}; allowed: {sorted(known)}.{hint}",
                                         field=str(key))
        values: dict[str, Any] = {}
        for key, raw in data.items():
            default = getattr(cls, key)
            values[key] = _coerce(key, raw, default, source)
        s = cls(**values)
        if s.max_batch < 1 or s.max_batch > 100_000:
            raise ServingConfigError(f"{source}: max_batch={s.max_batch}; allowed 1..100000.", field="max_batch")
        if s.history_snapshots < 1 or s.history_snapshots > 36:
            raise ServingConfigError(f"{source}: history_snapshots={s.history_snapshots}; allowed 1..36.",
                                     field="history_snapshots")
        return s

    def resolve(self) -> ServingSettings:
        """Fill every path and URI from the environment and defaults; check that named files exist."""
        env = Settings.from_env()
        home = Path(self.home).expanduser() if self.home else env.home

        def under_home(value: str | None, default: Path) -> str:
            if value is None:
                return str(default.resolve())
            p = Path(value).expanduser()
            return str((p if p.is_absolute() else home / p).resolve())

        tracking = self.tracking_uri or Settings.from_env(home=home).resolved_mlflow_uri
        out = replace(
            self, home=str(home.resolve()), data_dir=under_home(self.data_dir, home / "world"),
            tracking_uri=tracking, keys_file=under_home(self.keys_file, home / "serving" / "api_keys.json"),
            fusion=str(Path(self.fusion).expanduser().resolve()) if self.fusion else str(default_fusion_path()),
            ruleset=str(Path(self.ruleset).expanduser().resolve()) if self.ruleset else None,
        )
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


def _coerce(key: str, raw: Any, default: Any, source: str) -> Any:
    if raw is None:
        return None if default is None or key in {"home", "data_dir", "tracking_uri", "ruleset", "fusion",
                                                    "keys_file", "default_as_of", "alert_sink"} else default
    want = type(default) if default is not None else str
    try:
        if want is bool:
            if isinstance(raw, bool):
                return raw
            if str(raw).strip().lower() in ("1", "true", "yes", "on"):
                return True
            if str(raw).strip().lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if want is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError(raw)
            return int(raw)
        if want is float:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return float(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise ServingConfigError(f"{source}: setting {key}={raw!r} must be a {want.__name__}.", field=key) from None
