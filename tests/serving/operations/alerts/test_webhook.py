"""The signed webhook: signature, replay window, and HTTP status -> delivery result."""

from __future__ import annotations

import time

import pytest

from serving.operations.alerts import SignatureError
from serving.operations.push import WebhookAdapter, WebhookConfig, sign, verify_signature
from serving.operations.push.protocol import Delivery

from .fake_webhook import FakeWebhook

SECRET = "webhook-secret-0123456789"


def _delivery(key="a1:webhook:o-1"):
    return Delivery(delivery_id=1, alert_id=1, kind="send", channel="webhook", inbox_id="o-1", staff_id="W1",
                    idempotency_key=key, payload={"person": "当事人（尾号0001）", "level": "red"})


def test_verify_accepts_a_fresh_signature_and_rejects_tampering_and_replays():
    body, ts = b'{"x":1}', int(time.time())
    sig = sign(SECRET, ts, body)
    verify_signature(SECRET, str(ts), body, sig)
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(SECRET, str(ts), b'{"x":2}', sig)
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature("another-secret-0123456789", str(ts), body, sig)
    with pytest.raises(SignatureError, match="replay window is 300 s"):
        verify_signature(SECRET, str(ts - 301), body, sign(SECRET, ts - 301, body))
    with pytest.raises(SignatureError, match="missing"):
        verify_signature(SECRET, None, body, sig)
    with pytest.raises(SignatureError, match="not unix seconds"):
        verify_signature(SECRET, "yesterday", body, sig)


@pytest.mark.parametrize("header", [" {ts} ", "+{ts}", "{ts}\n", "0{ts}", "{ts}.0", "{head}_{tail}"])
def test_only_canonical_unix_seconds_are_accepted(header):
    """int() accepts " 123 ", "+123" and "1_796...": the header text itself must be plain digits."""
    body, ts = b'{"x":1}', int(time.time())
    text = header.format(ts=ts, head=str(ts)[:3], tail=str(ts)[3:])
    with pytest.raises(SignatureError, match="not unix seconds"):
        verify_signature(SECRET, text, body, sign(SECRET, text, body))
    with pytest.raises(SignatureError, match="not unix seconds"):
        verify_signature(SECRET, "１７６４４０００００", body, sign(SECRET, ts, body))


@pytest.mark.parametrize("signature", ["v1=ä" + "0" * 63, "v1=\udcff", "签名"])
def test_a_non_ascii_signature_is_a_mismatch_not_a_crash(signature):
    body, ts = b'{"x":1}', int(time.time())
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(SECRET, str(ts), body, signature)


@pytest.mark.service
@pytest.mark.parametrize("code,status", [(200, "delivered"), (409, "delivered"), (410, "unsubscribed"),
                                         (429, "retry"), (503, "retry"), (400, "refused"), (401, "refused")])
def test_http_status_maps_to_a_result(code, status):
    with FakeWebhook(SECRET) as hook:
        hook.responses.append(code)
        res = WebhookAdapter(WebhookConfig(url=hook.url, secret=SECRET)).send(_delivery())
    assert res.status == status
    if code == 429:
        assert res.retry_after == 7.0


@pytest.mark.service
def test_receiver_sees_signed_deduplicated_events():
    with FakeWebhook(SECRET) as hook:
        a = WebhookAdapter(WebhookConfig(url=hook.url, secret=SECRET))
        assert a.send(_delivery()).status == "delivered"
        assert a.send(_delivery()).status == "delivered"      # 409 from the receiver: already have it
        assert a.retract(_delivery("a1:webhook:o-1:retract")).status == "delivered"
        assert len(hook.received) == 2 and hook.rejected == []
        assert hook.received["a1:webhook:o-1"]["event"] == "alert.send"
        assert hook.received["a1:webhook:o-1:retract"]["event"] == "alert.retract"
        wrong = WebhookAdapter(WebhookConfig(url=hook.url, secret="not-the-secret-0123456789"))
        assert wrong.send(_delivery("k2")).status == "refused" and hook.rejected


def test_config_rejects_short_secrets_and_bad_urls():
    from serving.operations.alerts import ConfigurationError

    with pytest.raises(ConfigurationError, match="shorter than 16"):
        WebhookConfig(url="https://x", secret="short")
    with pytest.raises(ConfigurationError, match="http"):
        WebhookConfig(url="ftp://x", secret=SECRET)
