"""Push configuration and the alert policy: pydantic models, errors naming file, key, value and what is allowed."""

from __future__ import annotations

import pytest

from serving.operations.alerts import AlertPolicy
from serving.operations.alerts.errors import ConfigurationError
from serving.operations.push import PushConfig, RetryPolicy, WebhookConfig

SECRET = "s" * 32


def _file(tmp_path, text):
    p = tmp_path / "push.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_push_file_unknown_key_names_file_section_and_allowed_keys(tmp_path):
    p = _file(tmp_path, "channels: [inbox]\nretry: {max_attempt: 3}\n")
    with pytest.raises(ConfigurationError) as info:
        PushConfig.from_file(p)
    msg = str(info.value)
    assert msg.startswith(f"{p}: ")
    assert "unknown key(s) ['max_attempt'] in section 'retry'." in msg
    assert "retry.max_attempt: unknown key; allowed: base_seconds, cap_seconds, jitter, max_attempts. " \
           "Did you mean 'max_attempts'?" in msg


def test_push_file_unknown_key_in_a_secret_section_lists_secret_env(tmp_path):
    p = _file(tmp_path, "webhook: {url: 'http://127.0.0.1:9/h', secret_env: HOOK_SECRET, keyid: v2}\n")
    with pytest.raises(ConfigurationError, match=r"allowed: key_id, secret, secret_env, timeout_seconds, url"):
        PushConfig.from_file(p, environ={"HOOK_SECRET": SECRET})


@pytest.mark.parametrize("text, match", [
    ("channels: [inbox, sms]\n",
     r"channels.1='sms' is not allowed; possible values are \['inbox', 'wechat', 'webhook'\]"),
    ("channels: [wechat]\nwechat: {base_url: 'http://127.0.0.1:9', appid: a, secret_env: WX, template_id: t, "
     "miniprogram_state: beta}\n",
     r"wechat.miniprogram_state='beta' is not allowed; possible values are \['developer', 'trial', 'formal'\]"),
])
def test_push_file_bad_enum_names_value_and_allowed_values(tmp_path, text, match):
    with pytest.raises(ConfigurationError, match=match) as info:
        PushConfig.from_file(_file(tmp_path, text), environ={"WX": "x"})
    assert str(tmp_path) in str(info.value)


def test_push_secret_env_is_read_from_the_environment_and_never_shown(tmp_path):
    p = _file(tmp_path, "channels: [webhook]\nwebhook: {url: 'http://127.0.0.1:9/h', secret_env: HOOK_SECRET}\n")
    cfg = PushConfig.from_file(p, environ={"HOOK_SECRET": SECRET})
    assert cfg.webhook is not None and cfg.webhook.secret == SECRET and SECRET not in repr(cfg)
    with pytest.raises(ConfigurationError) as info:
        PushConfig.from_file(p, environ={"HOOK_SECRET": "short-secret"})
    assert "shorter than 16" in str(info.value) and "short-secret" not in str(info.value)
    with pytest.raises(ConfigurationError, match=r"WEIMENG_\* variables are the settings"):
        PushConfig.from_mapping({"webhook": {"url": "http://h", "secret_env": "WEIMENG_HOOK"}},
                                environ={"WEIMENG_HOOK": SECRET})


def test_push_models_are_frozen_and_checked_when_built_directly():
    with pytest.raises(ConfigurationError, match="max_attempts = 0"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ConfigurationError, match="below base_seconds"):
        RetryPolicy(base_seconds=10, cap_seconds=5)
    cfg = PushConfig(channels=("inbox", "webhook"), webhook=WebhookConfig(url="http://h", secret=SECRET))
    assert cfg.channels == ("inbox", "webhook")
    assert cfg.model_copy(update={"channels": ("inbox",)}).channels == ("inbox",)


def test_alert_policy_keys_levels_and_ranges():
    with pytest.raises(ConfigurationError, match=r"alert policy: .*unknown key\(s\) \['cooldown'\]\. cooldown: "
                                                 r"unknown key; allowed: channels, close_after_outcome_days, "
                                                 r"cooldown_days,"):
        AlertPolicy.from_mapping({"cooldown": 7})
    with pytest.raises(ConfigurationError, match=r"expiry_days: 取值无效 / level\(s\) \['rde'\] are not allowed; "
                                                 r"possible values are \['red', 'orange', 'yellow'\]"):
        AlertPolicy.from_mapping({"expiry_days": {"rde": 1}})
    with pytest.raises(ConfigurationError, match="cooldown_days = -1: Input should be greater than or equal to 0"):
        AlertPolicy.from_mapping({"cooldown_days": -1})
    with pytest.raises(ConfigurationError, match=r"lacks level\(s\) \['orange', 'yellow'\]"):
        AlertPolicy(expiry_days={"red": 1})
    with pytest.raises(ConfigurationError, match="must contain"):
        AlertPolicy(link_template="pages/inbox")
    p = AlertPolicy.from_mapping({"expiry_days": {"red": 2}, "channels": ["inbox", "wechat"]})
    assert p.expiry_days == {"red": 2.0, "orange": 10.0, "yellow": 20.0} and p.channels == ("inbox", "wechat")
    assert p.expiry("red").days == 2 and p.link(7) == "pages/inbox/detail?alert=7"
