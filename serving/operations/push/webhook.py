"""Signed webhook push (e.g. to the province's grassroots-governance platform), and its verifier.

Each request is a JSON POST with headers::

    X-Weimeng-Timestamp: 1764400000                 (unix seconds)
    X-Weimeng-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>
    X-Weimeng-Idempotency-Key: a123:webhook:o-abc    (same key on every retry: deduplicate on it)
    X-Weimeng-Event: alert.send | alert.retract

The receiver calls :func:`verify_signature` (constant-time compare, replay window, default 300 s).
Responses: 2xx and 409 (already have it) -> delivered; 410 -> unsubscribed; 429 / 5xx / network ->
retry (``Retry-After`` honoured); other 4xx -> refused.

>>> body = b'{"a": 1}'
>>> sig = sign("s3cret-s3cret-s3cret", 1764400000, body)
>>> verify_signature("s3cret-s3cret-s3cret", "1764400000", body, sig, now=1764400010)
>>> verify_signature("s3cret-s3cret-s3cret", "1764400000", body, sig, now=1764409999)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
serving.operations.alerts.errors.SignatureError: webhook timestamp 1764400000 is 9999 s away from now; ...
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

import httpx

from serving.operations.alerts.errors import SignatureError
from serving.operations.push.config import WebhookConfig
from serving.operations.push.protocol import Delivery, DeliveryResult

__all__ = ["WebhookAdapter", "sign", "verify_signature", "HEADER_TIMESTAMP", "HEADER_SIGNATURE", "HEADER_KEY",
           "HEADER_EVENT", "REPLAY_WINDOW_SECONDS"]

HEADER_TIMESTAMP = "X-Weimeng-Timestamp"
HEADER_SIGNATURE = "X-Weimeng-Signature"
HEADER_KEY = "X-Weimeng-Idempotency-Key"
HEADER_EVENT = "X-Weimeng-Event"
REPLAY_WINDOW_SECONDS = 300
_TIMESTAMP = re.compile(r"0|[1-9][0-9]{0,11}")


def sign(secret: str, timestamp: int | str, body: bytes, key_id: str = "v1") -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return f"{key_id}={mac}"


def verify_signature(secret: str, timestamp: str | None, body: bytes, signature: str | None, *,
                     now: float | None = None, window: int = REPLAY_WINDOW_SECONDS, key_id: str = "v1") -> None:
    """Raise :class:`SignatureError` unless the signature matches and the timestamp is within the window."""
    if not timestamp or not signature:
        raise SignatureError(f"missing {HEADER_TIMESTAMP} or {HEADER_SIGNATURE} header.")
    # The header text itself must be canonical unix seconds: int() would also accept " 123 ", "+123", "1_796".
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError(f"webhook timestamp {timestamp[:40]!r} is not unix seconds (digits only).")
    ts = int(timestamp)
    now = time.time() if now is None else now
    if abs(now - ts) > window:
        raise SignatureError(f"webhook timestamp {ts} is {abs(int(now) - ts)} s away from now; the replay window is "
                             f"{window} s.")
    expected = sign(secret, timestamp, body, key_id).encode("ascii")
    # compare bytes: a non-ASCII header must be a mismatch, not a TypeError (a receiver's 500)
    if not hmac.compare_digest(expected, signature.encode("utf-8", "surrogateescape")):
        raise SignatureError("webhook signature does not match the body and timestamp.")


class WebhookAdapter:
    channel = "webhook"

    def __init__(self, config: WebhookConfig, *, client: httpx.Client | None = None, clock=time.time):
        self.config = config
        self._client = client or httpx.Client(timeout=config.timeout_seconds)
        self._clock = clock

    def send(self, delivery: Delivery) -> DeliveryResult:
        return self._post("alert.send", delivery)

    def retract(self, delivery: Delivery) -> DeliveryResult:
        return self._post("alert.retract", delivery)

    def _post(self, event: str, delivery: Delivery) -> DeliveryResult:
        body = json.dumps({"event": event, "alert_id": delivery.alert_id, "recipient": delivery.inbox_id,
                           "idempotency_key": delivery.idempotency_key, "payload": delivery.payload},
                          ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        ts = int(self._clock())
        headers = {"Content-Type": "application/json; charset=utf-8", HEADER_TIMESTAMP: str(ts),
                   HEADER_SIGNATURE: sign(self.config.secret, ts, body, self.config.key_id),
                   HEADER_KEY: delivery.idempotency_key, HEADER_EVENT: event}
        try:
            resp = self._client.post(self.config.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return DeliveryResult("retry", f"network error: {exc!r}")
        code = resp.status_code
        if 200 <= code < 300 or code == 409:
            return DeliveryResult("delivered", f"HTTP {code}")
        if code == 410:
            return DeliveryResult("unsubscribed", f"HTTP 410 {resp.text[:200]}")
        if code == 429 or code >= 500:
            after = resp.headers.get("Retry-After")
            retry_after = float(after) if after and after.isdigit() else None
            return DeliveryResult("retry", f"HTTP {code}", retry_after=retry_after)
        return DeliveryResult("refused", f"HTTP {code} {resp.text[:200]}")
