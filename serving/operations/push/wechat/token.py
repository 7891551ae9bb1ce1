"""The access token, obtained from the stable-token endpoint and refreshed from this one place.

``POST {base_url}/cgi-bin/stable_token`` with ``{"grant_type": "client_credential", "appid", "secret",
"force_refresh"}`` returns ``{"access_token", "expires_in"}``. The stable endpoint hands every caller
the same token until about five minutes before expiry, so several workers (processes) can each hold a
provider without invalidating one another. The token is cached until ``margin_seconds`` before it
expires. After a token error (40001/42001) :meth:`refresh` first asks again *without* forcing (another
process may already have renewed it) and forces only if it gets the stale token back (forced refreshes
are rate-limited by WeChat).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from common.errors import NotReady
from serving.operations.alerts.errors import AlertsError

__all__ = ["StableTokenProvider", "TokenError"]


class TokenError(AlertsError, NotReady, RuntimeError):
    """The token endpoint failed (network, HTTP or errcode); the send is retried later."""

    code = "wechat_token_failed"


class StableTokenProvider:
    def __init__(self, base_url: str, appid: str, secret: str, *, client: httpx.Client | None = None,
                 margin_seconds: float = 300.0, clock: Callable[[], float] = time.monotonic, timeout: float = 10.0):
        self._url = base_url.rstrip("/") + "/cgi-bin/stable_token"
        self._appid, self._secret = appid, secret
        self._client = client or httpx.Client(timeout=timeout)
        self._margin, self._clock = margin_seconds, clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.fetches = 0

    def get(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                self._fetch(force=False)
            return self._token  # type: ignore[return-value]

    def refresh(self, stale: str) -> str:
        """Called after the API rejected ``stale``; returns a different token or raises TokenError."""
        with self._lock:
            if self._token is not None and self._token != stale:
                return self._token  # another thread already renewed it
            self._fetch(force=False)
            if self._token == stale:
                self._fetch(force=True)
            return self._token  # type: ignore[return-value]

    def _fetch(self, force: bool) -> None:
        body = {"grant_type": "client_credential", "appid": self._appid, "secret": self._secret,
                "force_refresh": force}
        try:
            resp = self._client.post(self._url, json=body)
            data = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise TokenError(f"stable_token request failed: {exc!r}") from None
        self.fetches += 1
        if resp.status_code != 200 or data.get("errcode", 0) not in (0, None) or "access_token" not in data:
            raise TokenError(f"stable_token refused: HTTP {resp.status_code} errcode={data.get('errcode')} "
                             f"errmsg={data.get('errmsg')!r}")
        self._token = str(data["access_token"])
        self._expires_at = self._clock() + max(0.0, float(data.get("expires_in", 7200)) - self._margin)
