"""The process settings (one pydantic-settings root) and the one loader for YAML configuration files.

Every variable the project reads is declared on :class:`Settings` (prefix ``WEIMENG_``); an unknown
``WEIMENG_*`` variable is named in a clear error, so a typo fails at start-up instead of being
ignored. MLflow's own ``MLFLOW_TRACKING_URI`` is honoured as MLflow honours it (``WEIMENG_``'s
variable wins when both are set). Construction reads only the environment; nothing is created until
:meth:`Settings.ensure_dirs`.

>>> s = Settings.from_env({"WEIMENG_HOME": "/tmp/w"})
>>> s.resolved_database_url
'sqlite:////tmp/w/weimeng.db'
>>> Settings.from_env({"WEIMENG_HOME": "/tmp/w", "MLFLOW_TRACKING_URI": "postgresql://h/ml"}).resolved_mlflow_uri
'postgresql://h/ml'
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import AliasChoices, BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.errors import ConfigurationError

__all__ = ["Settings", "SettingsError", "ENV_PREFIX", "load_config", "config_error", "normalise_database_url",
           "mask_url"]

ENV_PREFIX = "WEIMENG_"
M = TypeVar("M", bound=BaseModel)


class SettingsError(ConfigurationError):
    """A setting (environment variable) is unknown or has a bad value."""


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for bare ``postgresql://`` URLs (SQLAlchemy's default is psycopg2)."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Settings(BaseSettings):
    """Where everything lives. All optional: the embedded defaults put every store under ``home``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True,
                                      populate_by_name=True)

    #: Root of everything the embedded defaults write (world, features, MLflow store, alert store, reports).
    home: Path = Path("weimeng-data")
    #: MLflow tracking (and registry) URI; default a SQLite store under ``home``.
    mlflow_tracking_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("WEIMENG_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI"))
    #: The operational store (alerts, console, audit); default SQLite under ``home``.
    database_url: str | None = None
    #: Progress bars: on (1), off (0), or automatic on a terminal (unset).
    progress: bool | None = None
    #: The headless Chromium used to print the leadership report to PDF (default: found on PATH).
    chromium: Path | None = None
    #: The analysts' notebooks: where to write their world, and how big it is.
    nb_dir: Path | None = None
    nb_people: int | None = None
    nb_days: int | None = None

    # -- derived ---------------------------------------------------------------------------------
    @property
    def world_dir(self) -> Path:
        return self.home / "world"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def resolved_mlflow_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    @property
    def resolved_database_url(self) -> str:
        return normalise_database_url(self.database_url or f"sqlite:///{(self.home / 'weimeng.db').resolve()}")

    def where(self) -> dict[str, str]:
        """Where this process writes, for a person to read (passwords masked)."""
        return {"home": str(self.home.resolve()), "database": mask_url(self.resolved_database_url),
                "mlflow": mask_url(self.resolved_mlflow_uri)}

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the environment (``os.environ`` unless given); unknown ``WEIMENG_*`` names are errors."""
        env = dict(os.environ if environ is None else environ)
        known = {ENV_PREFIX + name.upper() for name in cls.model_fields}
        for key in env:
            if key.startswith(ENV_PREFIX) and key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f" Did you mean {close[0]}?" if close else ""
                raise SettingsError(
                    f"未知的设置 / unknown setting {key}; known settings: {', '.join(sorted(known))}.{hint}",
                    field=key)
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            aliases = (field.validation_alias.choices if isinstance(field.validation_alias, AliasChoices)
                       else [ENV_PREFIX + name.upper()])
            for alias in aliases:
                if isinstance(alias, str) and env.get(alias) not in (None, ""):
                    values[name] = env[alias]
                    break
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise config_error(exc, "environment", prefix=ENV_PREFIX) from None

    def ensure_dirs(self) -> Settings:
        self.home.mkdir(parents=True, exist_ok=True)
        return self


def mask_url(url: str) -> str:
    """A URL with its password replaced by ``***`` (for output a person reads)."""
    if "://" in url and "@" in url.split("://", 1)[1]:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


# -- YAML configuration files --------------------------------------------------------------------

def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at ``loc`` (the location of an unknown key) in ``model``."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return []
        annotation = fields[part].annotation
        inner = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            current = annotation
        elif inner:
            current = inner[0]
        else:
            return []
    return sorted(getattr(current, "model_fields", {}))


def config_error(exc: ValidationError, source: str, *, model: type[BaseModel] | None = None,
                 prefix: str = "") -> ConfigurationError:
    """One clear :class:`ConfigurationError` from pydantic's errors: file, key, value and what is allowed."""
    lines = []
    first_field = None
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        key = prefix.upper() + ".".join(str(p) for p in loc).upper() if prefix else ".".join(str(p) for p in loc)
        first_field = first_field or key
        value = err.get("input")
        if err.get("type") == "extra_forbidden":
            allowed = _allowed_keys(model, loc) if model is not None else []
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1) if allowed else []
            hint = f" Did you mean {close[0]!r}?" if close else ""
            lines.append(f"{key}: 未知的配置项 / unknown key; allowed: {', '.join(allowed)}.{hint}")
        elif err.get("type") == "missing":
            lines.append(f"{key}: 缺少必填项 / required key is missing.")
        else:
            shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
            lines.append(f"{key} = {shown}: {err.get('msg')}.")
    return ConfigurationError(f"{source}: " + " ".join(lines), field=first_field)


def load_config(model: type[M], source: str | Path | Mapping[str, Any] | None, *, default: Path | None = None,
                what: str = "config") -> M:
    """Load a YAML file (or a mapping) into ``model`` (which forbids unknown keys).

    ``source`` None reads ``default`` (the packaged file). Errors name the file, the key, the value
    and the allowed values or keys.
    """
    import yaml

    if isinstance(source, Mapping):
        data: Any = dict(source)
        label = f"{what} <mapping>"
    else:
        path = Path(source) if source is not None else default
        if path is None:
            return model()
        if not path.is_file():
            raise ConfigurationError(f"配置文件不存在 / {what} file {str(path)!r} not found.", field=what)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigurationError(f"{path}: 不是有效的 YAML / not valid YAML: {exc}", field=what) from None
        label = str(path)
    if not isinstance(data, dict):
        raise ConfigurationError(f"{label}: expected a mapping of keys, got {type(data).__name__}.", field=what)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, label, model=model) from None
