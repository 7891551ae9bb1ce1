"""Flood damping for the anonymous tip page, without storing anything about the tipper.

A client is counted under ``HMAC-SHA256(key, client address)``, where ``key`` is 256 random bits made in
this process's memory and replaced every Beijing day: the counters live only in memory, expire after their
window, and cannot be joined to an address later (the key is gone by the next day, and it never touches
the disk, the database or a log). Only this module ever sees the client address, and only to hash it.

>>> lim = ClientLimiter(per_window=2, window_seconds=60, per_day=5)
>>> [lim.allow("203.0.113.9", now=0.0) for _ in range(3)]
[True, True, False]
>>> lim.allow("203.0.113.9", now=61.0), len(lim)
(True, 1)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["ClientLimiter"]


class ClientLimiter:
    """Sliding-window and daily limits per client, keyed by a daily-rotated in-memory HMAC key."""

    def __init__(self, *, per_window: int, window_seconds: float, per_day: int, max_clients: int = 200_000,
                 clock: Callable[[], float] = time.time):
        self.per_window, self.window, self.per_day = per_window, float(window_seconds), per_day
        self.max_clients = max_clients
        self.clock = clock
        self._lock = threading.Lock()
        self._day = -1
        self._key = b""
        self._hits: dict[bytes, deque[float]] = {}
        self._daily: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._hits)

    def _client_key(self, client: str, now: float) -> bytes:
        day = int((now + 8 * 3600) // 86400)  # a Beijing day
        if day != self._day:                  # a new day: a new key, yesterday's counters forgotten
            self._day, self._key = day, secrets.token_bytes(32)
            self._hits.clear()
            self._daily.clear()
        return hmac.new(self._key, client.encode("utf-8", "replace"), hashlib.sha256).digest()[:16]

    def allow(self, client: str | None, *, now: float | None = None) -> bool:
        """Count one attempt of ``client``; False when it is over a limit (the attempt is not counted then)."""
        t = self.clock() if now is None else now
        with self._lock:
            k = self._client_key(client or "", t)
            hits = self._hits.get(k)
            if hits is None:
                if len(self._hits) >= self.max_clients:  # bounded memory: drop the idle ones
                    self._hits = {c: h for c, h in self._hits.items() if h and h[-1] > t - self.window}
                hits = self._hits.setdefault(k, deque())
            while hits and hits[0] <= t - self.window:
                hits.popleft()
            if len(hits) >= self.per_window or self._daily.get(k, 0) >= self.per_day:
                return False
            hits.append(t)
            self._daily[k] = self._daily.get(k, 0) + 1
            return True
