"""Push configuration: one typed object per worker, loaded (and checked) at start-up.

Loaded from a YAML/JSON mapping (``weimeng push-worker --config push.yaml``). Unknown keys are
rejected. Secrets are never written in the file: give ``secret_env: NAME`` and the secret is read
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
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from serving.operations.alerts.errors import ConfigurationError

__all__ = ["RetryPolicy", "WeChatConfig", "WebhookConfig", "PushConfig", "CHANNELS"]

CHANNELS = ("inbox", "wechat", "webhook")


def _strict(cls, values: Mapping[str, Any], where: str) -> dict:
    known = {f.name for f in fields(cls)} | ({"secret_env"} if "secret" in {f.name for f in fields(cls)} else set())
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigurationError(f"unknown key(s) {unknown} in {where}; known keys: {sorted(known)}.")
    return dict(values)


def _secret(values: dict, where: str, environ: Mapping[str, str]) -> dict:
    name = values.pop("secret_env", None)
    if name:
        if name not in environ or not environ[name]:
            raise ConfigurationError(f"{where}.secret_env names ${name}, which is not set; export it before "
                                     f"starting the worker.")
        values["secret"] = environ[name]
    return values


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with "equal jitter": wait in [d/2, d], d = min(cap, base * 2**(attempt-1))."""

    max_attempts: int = 8
    base_seconds: float = 2.0
    cap_seconds: float = 900.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_seconds < 0 or self.cap_seconds < self.base_seconds:
            raise ConfigurationError(f"retry policy {self}: need max_attempts >= 1 and 0 <= base <= cap.")

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        d = min(self.cap_seconds, self.base_seconds * (2 ** max(0, attempt - 1)))
        if self.jitter:
            d = d / 2 + (rng or random).random() * d / 2
        return max(d, retry_after or 0.0)


@dataclass(frozen=True)
class WeChatConfig:
    base_url: str
    appid: str
    secret: str = field(repr=False)
    template_id: str
    fields: Mapping[str, str] = field(default_factory=lambda: {
        "thing1": "person", "thing2": "address", "phrase3": "level", "thing4": "reasons", "time5": "deadline"})
    #: mini-program page opened from the message; ``{alert_id}`` is filled in
    page_template: str = "pages/inbox/detail?alert={alert_id}"
    miniprogram_state: str = "formal"
    lang: str = "zh_CN"
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.base_url or not self.base_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"wechat.base_url={self.base_url!r}: configure the WeChat API host URL "
                                     f"(http(s)://...); there is no default.")
        if self.miniprogram_state not in ("developer", "trial", "formal"):
            raise ConfigurationError(f"wechat.miniprogram_state={self.miniprogram_state!r}; allowed: developer, "
                                     f"trial, formal.")
        from serving.operations.push.wechat.fields import PAYLOAD_SOURCES, field_type

        for key, src in self.fields.items():
            field_type(key)
            if src not in PAYLOAD_SOURCES:
                raise ConfigurationError(f"wechat.fields[{key!r}]={src!r}; allowed sources: {PAYLOAD_SOURCES}.")


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    secret: str = field(repr=False)
    key_id: str = "v1"
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigurationError(f"webhook.url={self.url!r} must be an http(s) URL.")
        if len(self.secret) < 16:
            raise ConfigurationError("webhook secret is shorter than 16 characters; use a long random secret.")


@dataclass(frozen=True)
class PushConfig:
    channels: tuple[str, ...] = ("inbox",)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    wechat: WeChatConfig | None = None
    webhook: WebhookConfig | None = None

    def __post_init__(self) -> None:
        bad = [c for c in self.channels if c not in CHANNELS]
        if bad:
            raise ConfigurationError(f"unknown channel(s) {bad}; known channels: {CHANNELS}.")
        if "wechat" in self.channels and self.wechat is None:
            raise ConfigurationError("channel 'wechat' is enabled but there is no 'wechat:' section.")
        if "webhook" in self.channels and self.webhook is None:
            raise ConfigurationError("channel 'webhook' is enabled but there is no 'webhook:' section.")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None) -> PushConfig:
        env = os.environ if environ is None else environ
        values = _strict(cls, values or {}, "push config")
        try:
            if "channels" in values:
                values["channels"] = tuple(values["channels"])
            if "retry" in values:
                values["retry"] = RetryPolicy(**_strict(RetryPolicy, values["retry"], "retry"))
            if values.get("wechat") is not None:
                values["wechat"] = WeChatConfig(**_secret(_strict(WeChatConfig, values["wechat"], "wechat"), "wechat", env))
            if values.get("webhook") is not None:
                values["webhook"] = WebhookConfig(**_secret(_strict(WebhookConfig, values["webhook"], "webhook"),
                                                            "webhook", env))
        except TypeError as exc:  # a missing required key
            raise ConfigurationError(f"push config: {exc}") from None
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path, environ: Mapping[str, str] | None = None) -> PushConfig:
        import yaml

        path = Path(path)
        if not path.is_file():
            raise ConfigurationError(f"push config file {path} not found.")
        return cls.from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, environ)
