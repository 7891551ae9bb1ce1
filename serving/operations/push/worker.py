"""The push worker: drains the outbox (``deliveries``) through the push adapters.

Each round claims up to ``batch_size`` due rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` (several
workers on PostgreSQL never take the same row), hands each to its channel's adapter, records the
result, and commits once. A crash (even SIGKILL) rolls the round back, so the rows become due again
for any worker; repeats are harmless because every send carries its idempotency key (alert x
recipient x channel) and the local inbox is unique on it — and when the inbox shares the outbox's
database the item is written in the round's own transaction.

Results: ``delivered`` -> done (the alert moves queued -> delivered on its first delivery);
``retry`` -> backoff (exponential, jittered, at least the channel's ``retry_after``) until
``max_attempts``, then dead-lettered; ``refused`` -> dead-lettered with the reason;
``unsubscribed`` -> terminal, reported. A send whose alert was withdrawn or expired meanwhile is
cancelled, not sent.

SQLite has no row locks: run one worker per SQLite file (documented in docs/alerts.md).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeGuard

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from common.clock import utcnow
from serving.operations.alerts.errors import ConfigurationError
from serving.operations.alerts.lifecycle import PUSHED
from serving.operations.alerts.models import Alert, Delivery
from serving.operations.alerts.transitions import advance_many_if
from serving.operations.push.config import PushConfig, RetryPolicy
from serving.operations.push.protocol import (
    BatchInTransactionAdapter,
    DeliveryResult,
    InTransactionAdapter,
    PushAdapter,
)
from serving.operations.push.protocol import Delivery as DeliveryMsg

__all__ = ["PushWorker", "WorkerStats", "build_adapters"]

log = logging.getLogger("weimeng.push")


@dataclass
class WorkerStats:
    rounds: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    unsubscribed: int = 0
    cancelled: int = 0
    by_channel: dict = field(default_factory=dict)

    def count(self, status: str, channel: str) -> None:
        setattr(self, status, getattr(self, status) + 1)
        self.by_channel[(channel, status)] = self.by_channel.get((channel, status), 0) + 1


def build_adapters(engine: Engine, config: PushConfig) -> dict[str, PushAdapter]:
    """One adapter per configured channel (the local inbox shares the store's database)."""
    from serving.operations.push.local import LocalInboxAdapter

    adapters: dict[str, PushAdapter] = {}
    for channel in config.channels:
        if channel == "inbox":
            adapters[channel] = LocalInboxAdapter(engine)
        elif channel == "wechat":
            from serving.operations.push.wechat import WeChatSubscribeAdapter

            if config.wechat is None:  # PushConfig refuses this already; kept for a config built by hand
                raise ConfigurationError("channel 'wechat' is enabled but there is no 'wechat:' section.")
            adapters[channel] = WeChatSubscribeAdapter(config.wechat)
        elif channel == "webhook":
            from serving.operations.push.webhook import WebhookAdapter

            if config.webhook is None:  # PushConfig refuses this already; kept for a config built by hand
                raise ConfigurationError("channel 'webhook' is enabled but there is no 'webhook:' section.")
            adapters[channel] = WebhookAdapter(config.webhook)
    return adapters


class PushWorker:
    def __init__(self, engine: Engine, adapters: Mapping[str, PushAdapter], *, retry: RetryPolicy | None = None,
                 batch_size: int = 20, worker_id: str | None = None, inbox_in_transaction: bool = True,
                 pause_seconds: float = 0.0, clock: Callable = utcnow, rng: random.Random | None = None):
        if batch_size < 1:
            raise ConfigurationError(f"batch_size={batch_size}; must be >= 1.")
        self.engine = engine
        self.adapters = dict(adapters)
        self.retry = retry or RetryPolicy()
        self.batch_size = batch_size
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.inbox_in_transaction = inbox_in_transaction
        self.pause_seconds = pause_seconds
        self.clock = clock
        self.rng = rng or random.Random()
        self.stats = WorkerStats()
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    # -- one round -------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Claim and process one batch; returns how many rows were processed (0 = nothing due)."""
        with self._sessions.begin() as s:
            now = self.clock()
            rows = s.execute(
                sa.select(Delivery, Alert.state).join(Alert, Alert.id == Delivery.alert_id)
                .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
                .order_by(Delivery.next_attempt_at, Delivery.id).limit(self.batch_size)
                .with_for_update(skip_locked=True, of=Delivery)
            ).all()
            with s.no_autoflush:  # row updates are flushed together (executemany) at commit
                todo = []
                for row, alert_state in rows:
                    row.worker_id = self.worker_id
                    if row.kind == "send" and alert_state not in PUSHED:
                        row.status, row.finished_at, row.last_detail = "cancelled", now, f"alert is {alert_state}"
                        self.stats.count("cancelled", row.channel)
                        continue
                    row.attempts += 1
                    todo.append((row, alert_state))
                results = self._dispatch(s, [r for r, _ in todo])
                newly_delivered: set[int] = set()
                for row, alert_state in todo:
                    if self._apply(row, results[row.id], now) and row.kind == "send" and alert_state == "queued":
                        newly_delivered.add(row.alert_id)
                    if self.pause_seconds:
                        time.sleep(self.pause_seconds)
            # alerts last, in id order: a consistent lock order keeps concurrent workers deadlock-free
            advance_many_if(s, newly_delivered, "queued", "delivered", actor=f"push-worker:{self.worker_id}", now=now)
            self.stats.rounds += 1
            return len(rows)

    def _in_transaction(self, adapter: PushAdapter) -> TypeGuard[InTransactionAdapter]:
        return bool(self.inbox_in_transaction and getattr(adapter, "transactional", False)
                    and getattr(adapter, "engine", None) is self.engine)

    def _dispatch(self, s: Session, rows: list[Delivery]) -> dict[int, DeliveryResult]:
        """Results by row id. Sends to a transactional adapter sharing our database go in one batch."""
        out: dict[int, DeliveryResult] = {}
        batched: dict[str, list[Delivery]] = {}
        batch_adapters: dict[str, BatchInTransactionAdapter] = {}
        for row in rows:
            adapter = self.adapters.get(row.channel)
            if adapter is None:
                out[row.id] = DeliveryResult("retry", f"this worker has no adapter for channel {row.channel!r}")
            elif (row.kind == "send" and self._in_transaction(adapter)
                  and isinstance(adapter, BatchInTransactionAdapter)):
                batched.setdefault(row.channel, []).append(row)
                batch_adapters[row.channel] = adapter
            else:
                out[row.id] = self._call(s, adapter, row)
        for channel, group in batched.items():
            try:
                with s.begin_nested():
                    results = batch_adapters[channel].send_batch_in(s, [self._msg(r) for r in group])
                out.update({r.id: res for r, res in zip(group, results, strict=True)})
            except Exception:  # fall back to one by one, so one bad row cannot block the others
                log.exception("batch send on %s failed; sending one by one", channel)
                for r in group:
                    out[r.id] = self._call(s, self.adapters[channel], r)
        return out

    def _apply(self, row: Delivery, result: DeliveryResult, now) -> bool:
        row.last_status, row.last_detail = result.status, result.detail[:2000]
        if result.status == "delivered":
            row.status, row.finished_at, row.external_id = "delivered", now, result.external_id
            self.stats.count("delivered", row.channel)
            return True
        if result.status == "unsubscribed":
            row.status, row.finished_at = "unsubscribed", now
            self.stats.count("unsubscribed", row.channel)
        elif result.status == "refused":
            row.status, row.finished_at, row.dead_reason = "dead", now, f"refused: {result.detail}"
            self.stats.count("dead", row.channel)
        elif row.attempts >= self.retry.max_attempts:
            row.status, row.finished_at = "dead", now
            row.dead_reason = f"gave up after {row.attempts} attempts: {result.detail}"
            self.stats.count("dead", row.channel)
        else:
            delay = self.retry.delay(row.attempts, result.retry_after, self.rng)
            row.next_attempt_at = now + timedelta(seconds=delay)
            self.stats.count("retried", row.channel)
        return False

    @staticmethod
    def _msg(row: Delivery) -> DeliveryMsg:
        return DeliveryMsg(delivery_id=row.id, alert_id=row.alert_id, kind=row.kind, channel=row.channel,
                           inbox_id=row.inbox_id, staff_id=row.staff_id, idempotency_key=row.idempotency_key,
                           payload=row.payload, attempt=row.attempts)

    def _call(self, s: Session, adapter: PushAdapter, row: Delivery) -> DeliveryResult:
        msg = self._msg(row)
        try:
            if self._in_transaction(adapter):
                with s.begin_nested():
                    return adapter.send_in(s, msg) if row.kind == "send" else adapter.retract_in(s, msg)
            return adapter.send(msg) if row.kind == "send" else adapter.retract(msg)
        except Exception as exc:  # an adapter bug must not kill the worker or lose the row
            log.exception("adapter %s failed on delivery %s", row.channel, row.id)
            return DeliveryResult("retry", f"adapter error: {exc!r}")

    # -- loop ------------------------------------------------------------------------------------
    def pending(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(Delivery)
                                   .where(Delivery.status == "pending")) or 0)

    def run(self, *, stop: threading.Event | None = None, poll_seconds: float = 1.0, drain: bool = False,
            max_seconds: float | None = None) -> WorkerStats:
        """Loop until ``stop`` is set (or, with ``drain``, until no row is pending at all)."""
        stop = stop or threading.Event()
        started = time.monotonic()
        while not stop.is_set():
            if max_seconds is not None and time.monotonic() - started > max_seconds:
                break
            try:
                n = self.run_once()
            except sa.exc.OperationalError as exc:  # database restart, deadlock victim, lock timeout: retry
                log.warning("round failed, retrying: %s", exc)
                n = 0
                stop.wait(poll_seconds)
                continue
            if n == 0:
                if drain and self.pending() == 0:
                    break
                stop.wait(poll_seconds)
        return self.stats
