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

import collections.abc
import contextlib
import copy
import difflib
import os
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    ClassVar,
    Literal,
    TypeVar,
    Union,
    cast,
    get_args,
    get_origin,
    overload,
)

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from common.errors import ConfigurationError

__all__ = ["Settings", "SettingsError", "ENV_PREFIX", "ConfigModel", "load_config", "config_error", "deep_merge",
           "normalise_database_url", "mask_url"]

ENV_PREFIX = "WEIMENG_"
M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=Exception)


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

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what :meth:`from_env` passes: it reads the environment itself (the one it is given), checks
        unknown names and honours MLflow's variable, so ``from_env(mapping)`` never sees ``os.environ``."""
        return (init_settings,)

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
    nb_seed: int | None = None

    # -- derived ---------------------------------------------------------------------------------
    @property
    def world_dir(self) -> Path:
        return self.home / "world"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def monitoring_dir(self) -> Path:
        return self.home / "monitoring"

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
            raise config_error(exc, "environment", prefix=ENV_PREFIX, error=SettingsError) from None

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


class ConfigModel(BaseModel):
    """Base of every configuration-file model: unknown keys are errors, instances are frozen.

    Constructing one directly (``RetryPolicy(max_attempts=0)``) raises :attr:`config_error_class`
    with the same clear message :func:`load_config` gives. A section written as ``null`` (a YAML key
    with nothing under it) means that section's defaults.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The error raised for a bad value (a package's own ConfigurationError subclass).
    config_error_class: ClassVar[type[Exception]] = ConfigurationError
    #: Keys accepted besides the fields (consumed by a ``mode="before"`` validator, e.g. ``secret_env``).
    extra_keys: ClassVar[tuple[str, ...]] = ()

    if not TYPE_CHECKING:  # type checkers keep the field-by-field signature pydantic gives them

        def __init__(self, **data: Any) -> None:
            try:
                super().__init__(**data)
            except ValidationError as exc:
                raise config_error(exc, type(self).__name__, model=type(self),
                                   error=type(self).config_error_class) from None

        # Only a direct call goes through the wrapper above: pydantic validates nested sections (and
        # ``model_validate``) without calling ``__init__`` when it is marked as the base one.
        __init__.__pydantic_base_init__ = True

    @model_validator(mode="before")
    @classmethod
    def _null_section_means_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                ann = field.annotation
                if data.get(name, 0) is None and isinstance(ann, type) and issubclass(ann, BaseModel):
                    data = {k: v for k, v in data.items() if k != name}
        return data


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``, mapping by mapping (a user file names only the keys it changes)."""
    out = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the type that holds the values."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return annotation


def _model_of(annotation: Any) -> type[BaseModel] | None:
    ann = _unwrap(annotation)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    inner = [a for a in get_args(ann) if isinstance(a, type) and issubclass(a, BaseModel)]
    return inner[0] if inner else None


def _annotation_at(model: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    """The annotation of the value at ``loc`` in ``model`` (None when it cannot be followed)."""
    current: Any = model
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        sub = _model_of(current)
        if sub is not None:
            field = sub.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            current = field.annotation
            continue
        current = _unwrap(current)
        origin, args = get_origin(current), get_args(current)
        if origin in (dict, Mapping, collections.abc.Mapping) and len(args) == 2:
            if parts and parts[0] == "[key]":
                parts.pop(0)
                current = args[0]
            else:
                current = args[1]
        elif origin is tuple and args and args[-1] is not Ellipsis and isinstance(part, int) and part < len(args):
            current = args[part]
        elif origin in (tuple, list, set, frozenset, collections.abc.Sequence) and args:
            current = args[0]
        else:
            return None
    return _unwrap(current)


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at ``loc`` (the location of an unknown key) in ``model``."""
    current = _model_of(_annotation_at(model, loc[:-1])) if loc[:-1] else model
    if current is None:
        return []
    extra = getattr(current, "extra_keys", ())
    return sorted([*current.model_fields, *extra])


def _is_sections(model: type[BaseModel], loc: tuple[Any, ...]) -> bool:
    """True where every key allowed at ``loc`` is itself a section (a nested model), e.g. a file's top level."""
    current = _model_of(_annotation_at(model, loc[:-1])) if loc[:-1] else model
    if current is None or not current.model_fields:
        return False
    return all(_model_of(f.annotation) is not None for f in current.model_fields.values())


def _allowed_values(model: type[BaseModel] | None, loc: tuple[Any, ...], err: Any) -> list[Any]:
    ann = _annotation_at(model, loc) if model is not None else None
    if get_origin(ann) is Literal:
        return list(get_args(ann))
    expected = str((err.get("ctx") or {}).get("expected", ""))
    return re.findall(r"'([^']*)'", expected)


def _shown(key: str, value: Any) -> str:
    if "secret" in key.lower() or "password" in key.lower():
        return "'***'"
    return repr(value) if not isinstance(value, dict | list) else type(value).__name__


def _make_error(error: type[E], message: str, field: str | None) -> E:
    try:
        return error(message, field=field)  # type: ignore[call-arg]  # our errors take field=
    except TypeError:
        exc = error(message)
        with contextlib.suppress(AttributeError):
            exc.field = field  # type: ignore[attr-defined]
        return exc


@overload
def config_error(exc: ValidationError, source: str, *, model: type[BaseModel] | None = ..., prefix: str = ...,
                 error: None = ...) -> ConfigurationError: ...
@overload
def config_error(exc: ValidationError, source: str, *, model: type[BaseModel] | None = ..., prefix: str = ...,
                 error: type[E]) -> E: ...
def config_error(exc: ValidationError, source: str, *, model: type[BaseModel] | None = None,
                 prefix: str = "", error: type[Exception] | None = None) -> Exception:
    """One clear error (``error``, default :class:`ConfigurationError`) from pydantic's errors.

    It names the source (file), each key at fault, its value, and what is allowed: the allowed keys
    next to an unknown one (with a did-you-mean), the possible values of an enumeration, the range
    of a number.
    """
    lines: list[str | tuple[Any, ...]] = []  # a tuple: the place of a group of unknown keys
    first_field: str | None = None
    unknown: dict[tuple[Any, ...], list[str]] = {}
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        shown_loc = [str(p) for p in loc if p != "[key]"]  # a bad mapping key: pydantic adds "[key]"
        key = prefix.upper() + ".".join(shown_loc).upper() if prefix else ".".join(shown_loc)
        first_field = first_field or key or None
        value = err.get("input")
        kind = err.get("type")
        if kind == "extra_forbidden":
            if loc[:-1] not in unknown:
                unknown[loc[:-1]] = []
                lines.append(loc[:-1])
            unknown[loc[:-1]].append(str(loc[-1]))
        elif kind == "missing":
            lines.append(f"{key}: 缺少必填项 / required key is missing.")
        elif kind in ("literal_error", "enum"):
            allowed = _allowed_values(model, loc, err)
            lines.append(f"{key} = {value!r}: {err.get('msg')}. 取值无效 / {key}={value!r} is not allowed; "
                         f"possible values are {allowed}.")
        elif kind in ("value_error", "assertion_error"):
            msg = str(err.get("msg", ""))
            for lead in ("Value error, ", "Assertion failed, "):
                msg = msg.removeprefix(lead)
            lines.append(f"{key}: {msg}" if key else msg)
        else:
            lines.append(f"{key} = {_shown(key, value)}: {err.get('msg')}.")
    texts: dict[tuple[Any, ...], str] = {}
    for parent, names in unknown.items():
        full = parent + (names[0],)
        allowed = _allowed_keys(model, full) if model is not None else []
        sections = model is not None and _is_sections(model, full)
        noun, zh = ("section", "配置节") if sections else ("key", "配置项")
        where = f" in section {'.'.join(str(p) for p in parent)!r}" if parent else ""
        parts = [f"未知的{zh} / unknown {noun}(s) {names}{where}."]
        for name in names:  # each with what is allowed there and the likeliest intended key
            dotted = ".".join(str(p) for p in (*parent, name))
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            parts.append(f"{dotted}: unknown {noun}; allowed: {', '.join(allowed)}.{hint}" if allowed
                         else f"{dotted}: unknown {noun}.")
        texts[parent] = " ".join(parts)
    message = " ".join(texts[line] if isinstance(line, tuple) else line for line in lines)
    return _make_error(error or ConfigurationError, f"{source}: {message}", first_field)


def load_config(model: type[M], source: str | Path | Mapping[str, Any] | None, *, default: Path | None = None,
                what: str = "config", label: str | None = None, overrides: Mapping[str, Any] | None = None,
                context: Mapping[str, Any] | None = None, error: type[Exception] | None = None) -> M:
    """Load a YAML file (or a mapping) into ``model`` (which forbids unknown keys).

    ``source`` None reads ``default`` (the packaged file). Errors name the file, the key, the value
    and the allowed values or keys. ``label`` names a mapping's origin in errors (e.g. the file it was
    read from); ``overrides`` are merged over the file (mapping by mapping, ``None`` values skipped);
    ``context`` is passed to the model's validators; ``error`` is the exception class raised (default:
    the model's ``config_error_class``, else :class:`ConfigurationError`).
    """
    import yaml

    error_cls: type[Exception] = error or cast(type[Exception], getattr(model, "config_error_class",
                                                                         ConfigurationError))
    if isinstance(source, Mapping):
        data: Any = dict(source)
        where = label or f"{what} <mapping>"
    else:
        path = Path(source) if source is not None else default
        if path is None:
            data, where = {}, label or f"{what} <defaults>"
        else:
            if not path.is_file():
                raise _make_error(error_cls, f"配置文件不存在 / {what} file {str(path)!r} not found.", what)
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise _make_error(error_cls, f"{path}: 不是有效的 YAML / not valid YAML: {exc}", what) from None
            where = label or str(path)
    if not isinstance(data, dict):
        raise _make_error(error_cls, f"{where}: 配置须为映射 / expected a mapping of keys, got "
                                     f"{type(data).__name__}.", what)
    if overrides:
        data = deep_merge(data, {k: v for k, v in overrides.items() if v is not None})
    try:
        return model.model_validate(data, context=dict(context) if context is not None else None)
    except ValidationError as exc:
        raise config_error(exc, where, model=model, error=error_cls) from None
