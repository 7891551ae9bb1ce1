"""Push configuration: one typed object per worker, loaded (and checked) at start-up.

Loaded from a YAML/JSON mapping (``weimeng push-worker --config push.yaml``) into frozen pydantic
models through :func:`common.settings.load_config`: an unknown key, a channel or ``miniprogram_state``
outside the allowed values, or a number out of range is a ConfigurationError naming the file, the key,
the value and what is allowed. Secrets are never written in the file: give ``secret_env: NAME`` and the secret is read
from the environment variable ``NAME`` at load time. The WeChat API host has **no default**: it must
be configured (``wechat.base_url``), so tests and staging can point at a fake.

Example::

    channels: [inbox, wechat]
    retry: {max_attempts: 8, base_seconds: 2, cap_seconds: 900}
    wechat:
      base_url: https://<the WeChat API host>
      appid: wx0123456789abcdef
      secret_env: WECHAT_APP_SECRET       # any name except WEIMENG_* (those are the settings)
      template_id: <subscribe template id>
      fields: {thing1: person, thing2: address, phrase3: level, thing4: reasons, time5: deadline}
    webhook:
      url: https://platform.example/weimeng-hook
      secret_env: PLATFORM_HOOK_SECRET
    watch_digest:                         # the weekly watch-list digest in the inbox; off by default
      enabled: true
      weekday: 1                          # Monday (1) .. Sunday (7), Beijing calendar
      hour: 8                             # from 08:00 Beijing time on that day
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from common.settings import ENV_PREFIX, ConfigModel, load_config
from serving.operations.alerts.errors import ConfigurationError

__all__ = ["RetryPolicy", "WeChatConfig", "WebhookConfig", "WatchDigestConfig", "PushConfig", "CHANNELS", "Channel"]

Channel = Literal["inbox", "wechat", "webhook"]
CHANNELS: tuple[str, ...] = ("inbox", "wechat", "webhook")


class _Section(ConfigModel):
    config_error_class: ClassVar[type[Exception]] = ConfigurationError


class _WithSecret(_Section):
    """A section whose ``secret`` is read from the environment variable named by ``secret_env``."""

    extra_keys: ClassVar[tuple[str, ...]] = ("secret_env",)

    @model_validator(mode="before")
    @classmethod
    def _secret_from_env(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, Mapping) or "secret_env" not in data:
            return data
        values = dict(data)
        name = values.pop("secret_env")
        if name:
            name = str(name)
            if name.startswith(ENV_PREFIX):
                raise ValueError(f"secret_env names ${name}: {ENV_PREFIX}* variables are the settings; use "
                                 f"another name for a secret.")
            environ: Mapping[str, str] = (info.context or {}).get("environ") or os.environ
            if not environ.get(name):
                raise ValueError(f"secret_env names ${name}, which is not set; export it before starting the "
                                 f"worker.")
            values["secret"] = environ[name]
        return values


class RetryPolicy(_Section):
    """Exponential backoff with "equal jitter": wait in [d/2, d], d = min(cap, base * 2**(attempt-1))."""

    max_attempts: int = Field(default=8, ge=1)
    base_seconds: float = Field(default=2.0, ge=0)
    cap_seconds: float = Field(default=900.0, ge=0)
    jitter: bool = True

    @model_validator(mode="after")
    def _cap_above_base(self) -> RetryPolicy:
        if self.cap_seconds < self.base_seconds:
            raise ValueError(f"retry cap_seconds={self.cap_seconds} is below base_seconds={self.base_seconds}; "
                             f"need 0 <= base <= cap.")
        return self

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        d = min(self.cap_seconds, self.base_seconds * (2 ** max(0, attempt - 1)))
        if self.jitter:
            d = d / 2 + (rng or random).random() * d / 2
        return max(d, retry_after or 0.0)


def _http_url(url: str, what: str) -> str:
    if not url or not url.startswith(("http://", "https://")):
        raise ValueError(f"{url!r}: {what}")
    return url


class WeChatConfig(_WithSecret):
    base_url: str
    appid: str
    secret: str = Field(repr=False)
    template_id: str
    fields: dict[str, str] = Field(default_factory=lambda: {
        "thing1": "person", "thing2": "address", "phrase3": "level", "thing4": "reasons", "time5": "deadline"})
    #: mini-program page opened from the message; ``{alert_id}`` is filled in
    page_template: str = "pages/inbox/detail?alert={alert_id}"
    miniprogram_state: Literal["developer", "trial", "formal"] = "formal"
    lang: str = "zh_CN"
    timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, url: str) -> str:
        return _http_url(url, "configure the WeChat API host URL (http(s)://...); there is no default.")

    @field_validator("fields")
    @classmethod
    def _template_fields(cls, mapping: dict[str, str]) -> dict[str, str]:
        from serving.operations.alerts.errors import PayloadError
        from serving.operations.push.wechat.fields import PAYLOAD_SOURCES, field_type

        for key, src in mapping.items():
            try:
                field_type(key)
            except PayloadError as exc:
                raise ValueError(str(exc)) from None
            if src not in PAYLOAD_SOURCES:
                raise ValueError(f"[{key!r}]={src!r}; allowed sources: {', '.join(PAYLOAD_SOURCES)}.")
        return mapping


class WebhookConfig(_WithSecret):
    url: str
    secret: str = Field(repr=False)
    key_id: str = "v1"
    timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        return _http_url(url, "must be an http(s) URL.")

    @field_validator("secret")
    @classmethod
    def _long_secret(cls, secret: str) -> str:
        if len(secret) < 16:
            raise ValueError("webhook secret is shorter than 16 characters; use a long random secret.")
        return secret


class WatchDigestConfig(_Section):
    """The weekly watch-list digest (本周关注名单) in the cadres' inboxes: off unless ``enabled``. The push
    worker delivers it once a week from ``weekday`` (1 = Monday .. 7 = Sunday) at ``hour`` (Beijing time);
    see :mod:`serving.operations.push.digest`."""

    enabled: bool = False
    weekday: int = Field(default=1, ge=1, le=7)
    hour: int = Field(default=8, ge=0, le=23)


class PushConfig(_Section):
    channels: tuple[Channel, ...] = ("inbox",)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    wechat: WeChatConfig | None = None
    webhook: WebhookConfig | None = None
    watch_digest: WatchDigestConfig = Field(default_factory=WatchDigestConfig)

    @model_validator(mode="after")
    def _sections_for_channels(self) -> PushConfig:
        if "wechat" in self.channels and self.wechat is None:
            raise ValueError("channel 'wechat' is enabled but there is no 'wechat:' section.")
        if "webhook" in self.channels and self.webhook is None:
            raise ValueError("channel 'webhook' is enabled but there is no 'webhook:' section.")
        return self

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None) -> PushConfig:
        """``environ``: where ``secret_env`` names are looked up (default ``os.environ``)."""
        return load_config(cls, dict(values or {}), label="push config", context={"environ": environ})

    @classmethod
    def from_file(cls, path: str | Path, environ: Mapping[str, str] | None = None) -> PushConfig:
        return load_config(cls, Path(path), what="push config", context={"environ": environ})
