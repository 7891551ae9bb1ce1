"""Audit events off the request path, none lost: a request queues its events, one thread writes them.

Writing one request's audit events to the hash-chained audit log is a database transaction (a commit:
about 5-20 ms of wall time and 2-3 ms of CPU on SQLite, far more than scoring one person). A request
therefore only appends its events to a queue (:meth:`WriteBehind.put`, a list append under a lock) and
one writer thread hands everything queued to the sink in one call, in the order the requests put them:
the first event waits ``linger_seconds`` (0.25 s) for others, so one transaction carries the events of
every request of that moment (a commit per request, even off the request path, would cost the process
the same CPU as before).

Nothing is dropped quietly: a hand-over that fails, or a sink that cannot be opened yet, keeps the events
queued (in order) and retries after ``retry_seconds``; only events beyond ``max_events`` waiting (a sink
down for a long time) are dropped, oldest first, and each drop is logged with its count. :meth:`flush`
waits until everything queued is written (tests, shutdown); the process's exit flushes too (``atexit``).
``lock`` is held around each hand-over: the scoring app shares it with its alert sink, so the two never
write the same SQLite store at the same moment (a WAL transaction that read before another's commit
cannot write: SQLite answers "database is locked" at once, whatever the busy timeout).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["WriteBehind"]

log = logging.getLogger("weimeng.serving")


class WriteBehind:
    """Queue of events for ``open_sink()`` (a callable returning the sink or ``None`` when it cannot be
    opened now); the sink is called with a list of events and raises on failure."""

    def __init__(self, open_sink: Callable[[], Callable[[Sequence[Any]], Any] | None], *, name: str = "audit",
                 retry_seconds: float = 5.0, max_events: int = 50_000, max_batch: int = 5_000,
                 lock: threading.Lock | None = None, linger_seconds: float = 0.25) -> None:
        self._open = open_sink
        self.linger_seconds = linger_seconds  # how long the first event waits for others to share its transaction
        self._first_at = 0.0                  # when the oldest waiting event was queued
        self._hurry = 0                       # flushes waiting: no lingering
        self._sink_lock = lock          # held around each hand-over (shared with other writers of the store)
        self.name = name
        self.retry_seconds = retry_seconds
        self.max_events = max_events
        self.max_batch = max_batch
        self._queue: list[Any] = []
        self._cond = threading.Condition(threading.Lock())
        self._busy = False        # the writer holds a batch taken from the queue
        self._closed = False
        self.written = 0
        self.dropped = 0
        self.failures = 0
        self._attempts_failed = 0   # hand-overs that failed (sink not open, or raised)
        self._failing = False       # the last hand-over failed (the next waits for the retry time)
        self._retry_now = False     # flush(retry=True): the next attempt does not wait
        self._unreported = 0        # events dropped since the last log line about it
        self._reported_at = -1e9
        self._thread = threading.Thread(target=self._run, name=f"weimeng-{name}-writer", daemon=True)
        self._thread.start()
        ref = weakref.ref(self)
        atexit.register(lambda: (w := ref()) is not None and w.flush(10.0))

    def put(self, events: Sequence[Any]) -> None:
        """Queue ``events`` (one request's) for the sink; returns at once."""
        if not events:
            return
        with self._cond:
            if not self._queue:
                self._first_at = time.monotonic()
                self._cond.notify_all()   # the writer starts its linger
            self._queue.extend(events)
            self._bound()
            if len(self._queue) >= self.max_batch:
                self._cond.notify_all()

    def _bound(self) -> None:
        over = len(self._queue) - self.max_events
        if over > 0:
            del self._queue[:over]
            self.dropped += over
            self._unreported += over
            now = time.monotonic()
            if now - self._reported_at >= self.retry_seconds:  # one line per retry interval, not per request
                log.error("%s queue full: %d oldest event(s) dropped (%d in all; the sink has been failing)",
                          self.name, self._unreported, self.dropped)
                self._unreported, self._reported_at = 0, now

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + (1 if self._busy else 0)

    def flush(self, timeout: float = 10.0, *, retry: bool = False) -> bool:
        """Wait until every event queued so far has been handed to the sink; False on timeout, or as soon as
        a hand-over fails (the events stay queued for the writer's next attempt). ``retry``: after a failure,
        try again now instead of at the retry time."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if retry:
                self._retry_now = True
            elif self._failing and self._queue:  # the sink is down: waiting would only delay the caller
                return False
            failed_before = self._attempts_failed
            self._hurry += 1
            self._cond.notify_all()
            try:
                while self._queue or self._busy:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._thread.is_alive() or self._attempts_failed != failed_before:
                        return False
                    self._cond.wait(min(left, 0.05))
            finally:
                self._hurry -= 1
        return True

    def close(self, timeout: float = 10.0) -> bool:
        ok = self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        return ok

    def stats(self) -> dict:
        with self._cond:
            return {"pending": len(self._queue), "written": self.written, "dropped": self.dropped,
                    "failures": self.failures}

    def _run(self) -> None:
        retry_at = 0.0  # after a failed hand-over, the next attempt waits until then (new events do not hurry it)
        while True:
            with self._cond:
                while not self._closed:
                    if self._retry_now:
                        self._retry_now, retry_at = False, 0.0
                    now = time.monotonic()
                    wait = retry_at - now
                    if self._queue and wait <= 0:
                        linger = self._first_at + self.linger_seconds - now
                        if linger <= 0 or self._hurry or len(self._queue) >= self.max_batch:
                            break
                        wait = linger
                    self._cond.wait(wait if wait > 0 else None)
                if self._closed and (not self._queue or retry_at > time.monotonic()):
                    return
                batch = self._queue[:self.max_batch]
                del self._queue[:len(batch)]
                self._busy = True
            ok = self._write(batch)
            with self._cond:
                if not ok:  # back to the front, in order
                    self._queue[:0] = batch
                    self._bound()
                    self._attempts_failed += 1
                    retry_at = time.monotonic() + self.retry_seconds
                self._failing = not ok
                self._busy = False
                self._cond.notify_all()

    def _write(self, batch: list[Any]) -> bool:
        try:
            sink = self._open()
        except Exception:  # the opener logs its own reasons; never let the writer die
            sink = None
        if sink is None:
            return False
        try:
            if self._sink_lock is not None:
                with self._sink_lock:
                    sink(batch)
            else:
                sink(batch)
        except Exception as exc:
            self.failures += 1
            log.error("%s sink failed for %d event(s) (%s); retrying in %.0f s", self.name, len(batch),
                      type(exc).__name__, self.retry_seconds)
            return False
        self.written += len(batch)
        return True
