"""The push worker and the outbox: backoff, dead letters, withdrawal, expiry, parallel workers."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from serving.operations.alerts import AlertPolicy, AlertStore, InvalidTransition
from serving.operations.alerts.db import is_postgres
from serving.operations.alerts.errors import ConfigurationError
from serving.operations.push import DeliveryResult, LocalInboxAdapter, PushConfig, PushWorker, RetryPolicy

from .helpers import count_items, person_with_one_place, person_with_two_places, pump, scored


class Flaky:
    """An adapter that answers from a script, then delivers."""

    channel = "inbox"

    def __init__(self, script):
        self.script = list(script)
        self.calls = []

    def send(self, d):
        self.calls.append(d)
        if self.script:
            s = self.script.pop(0)
            if isinstance(s, Exception):
                raise s
            return DeliveryResult(s, f"scripted {s}", retry_after=None)
        return DeliveryResult("delivered", "ok")

    def retract(self, d):
        return DeliveryResult("delivered", "ok")


def _approve(store, pid):
    [r] = store.ingest([scored(pid)])
    store.approve(r.alert_id, by="r", reason="x")
    return r.alert_id


def test_backoff_is_exponential_with_jitter_and_honours_retry_after():
    p = RetryPolicy(base_seconds=2, cap_seconds=60, jitter=False)
    assert [p.delay(n) for n in (1, 2, 3, 4, 10)] == [2, 4, 8, 16, 60]
    j = RetryPolicy(base_seconds=2, cap_seconds=60)
    rng = random.Random(1)
    ds = [j.delay(3, rng=rng) for _ in range(200)]
    assert min(ds) >= 4 and max(ds) <= 8 and len(set(ds)) > 100
    assert p.delay(1, retry_after=3600) == 3600


def test_retry_then_deliver_then_dead_letter_then_requeue(store, engine, world_tables, directory, clock):
    alert_id = _approve(store, person_with_one_place(world_tables, directory))
    n = len(store.deliveries(alert_id))
    adapter = Flaky(["retry", RuntimeError("boom")] + ["retry"] * 100)
    w = PushWorker(engine, {"inbox": adapter}, retry=RetryPolicy(max_attempts=4, base_seconds=10, jitter=False),
                   batch_size=1, clock=clock)
    w.run_once()
    [first] = [d for d in store.deliveries(alert_id) if d.attempts]
    assert first.status == "pending" and first.next_attempt_at == clock.now + timedelta(seconds=10)
    assert w.run_once() == 1                        # the next row; the first is not due yet
    clock.advance(hours=1)
    for _ in range(4 * n):
        w.run_once()
        clock.advance(hours=1)
    dead = store.dead_letters()
    assert len(dead) == n and all(d.attempts == 4 and "gave up after 4 attempts" in d.dead_reason for d in dead)
    back = store.requeue(dead[0].id, by="运维", reason="渠道恢复")
    assert back.status == "pending" and back.attempts == 0
    with pytest.raises(InvalidTransition, match="only 'dead' deliveries can be requeued"):
        store.requeue(dead[0].id, by="运维", reason="again")
    pump(engine, clock=clock)
    assert store.deliveries(alert_id)[0].status == "delivered"
    assert store.get(alert_id).state == "delivered"
    assert any(h["action"] == "requeue" and h["actor"] == "运维" for h in store.history(alert_id))


def test_an_adapter_exception_is_a_retry_with_the_error_as_detail(store, engine, world_tables, directory, clock):
    alert_id = _approve(store, person_with_one_place(world_tables, directory))
    PushWorker(engine, {"inbox": Flaky([RuntimeError("boom")])}, batch_size=1, clock=clock).run_once()
    [d] = [d for d in store.deliveries(alert_id) if d.attempts]
    assert d.status == "pending" and d.last_detail == "adapter error: RuntimeError('boom')"


def test_refused_is_dead_at_once_and_unsubscribed_is_terminal(store, engine, world_tables, directory, clock):
    alert_id = _approve(store, person_with_one_place(world_tables, directory))
    w = PushWorker(engine, {"inbox": Flaky(["refused", "unsubscribed"])}, batch_size=1, clock=clock)
    w.run_once()
    w.run_once()
    statuses = sorted(d.status for d in store.deliveries(alert_id) if d.attempts)
    assert statuses == ["dead", "unsubscribed"]
    assert store.dead_letters()[0].dead_reason == "refused: scripted refused"


def test_a_channel_without_an_adapter_is_retried_not_lost(engine, directory, world_tables, clock):
    store = AlertStore(engine, directory=directory, clock=clock, policy=AlertPolicy(channels=("inbox", "webhook")))
    alert_id = _approve(store, person_with_one_place(world_tables, directory))
    pump(engine, clock=clock)
    hooks = store.deliveries(alert_id, status="pending")
    assert hooks and all(d.channel == "webhook" and "no adapter for channel 'webhook'" in d.last_detail for d in hooks)


def test_withdrawal_cancels_pending_and_retracts_delivered(store, engine, world_tables, directory, clock):
    a1 = _approve(store, person_with_one_place(world_tables, directory, 0))
    a2 = _approve(store, person_with_one_place(world_tables, directory, 1))
    pump(engine, clock=clock)                                 # a1 and a2 delivered
    a3 = _approve(store, person_with_one_place(world_tables, directory, 2))   # still pending
    store.withdraw(a1, by="审核民警B", reason="经核实为误报")
    store.withdraw(a3, by="审核民警B", reason="当事人已搬离")
    assert {d.status for d in store.deliveries(a3)} == {"cancelled"}
    retracts = store.deliveries(a1, kind="retract")
    assert len(retracts) == len(store.deliveries(a1, kind="send")) and {d.status for d in retracts} == {"pending"}
    pump(engine, clock=clock)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT alert_id, status, retract_reason FROM inbox_items")).all()
    assert {r.status for r in rows if r.alert_id == a1} == {"withdrawn"}
    assert {r.retract_reason for r in rows if r.alert_id == a1} == {"经核实为误报"}
    assert {r.status for r in rows if r.alert_id == a2} == {"unread"}
    assert not [r for r in rows if r.alert_id == a3]
    assert store.get(a1).state == "withdrawn"
    hist = store.history(a1)
    assert any(h["action"] == "withdraw" and h["actor"] == "审核民警B" for h in hist)


def test_expiry_retires_open_alerts_and_retracts_items(store, engine, world_tables, directory, clock):
    pushed = _approve(store, person_with_one_place(world_tables, directory, 0))
    pump(engine, clock=clock)
    [waiting] = store.ingest([scored(person_with_one_place(world_tables, directory, 1), level="red")])
    clock.advance(days=4)
    assert store.sweep() == {"expired": 0, "closed": 0}
    clock.advance(days=30)
    assert store.sweep() == {"expired": 2, "closed": 0}
    assert store.get(pushed).state == store.get(waiting.alert_id).state == "expired"
    pump(engine, clock=clock)
    with engine.connect() as conn:
        statuses = {r[0] for r in conn.execute(sa.text(f"SELECT status FROM inbox_items WHERE alert_id={pushed}"))}
        assert statuses == {"expired"}


def test_a_send_for_a_withdrawn_alert_is_cancelled_by_the_worker(store, engine, world_tables, directory, clock):
    alert_id = _approve(store, person_with_one_place(world_tables, directory))
    with store.sessions.begin() as s:                          # simulate the race: state changed, row still pending
        s.execute(sa.text(f"UPDATE alerts SET state='withdrawn' WHERE id={alert_id}"))
    pump(engine, clock=clock)
    assert {d.status for d in store.deliveries(alert_id)} == {"cancelled"}
    assert count_items(engine) == {}


def test_parallel_workers_deliver_each_item_exactly_once(store, engine, world_tables, directory, clock):
    if not is_postgres(engine):
        pytest.skip("SQLite runs one worker (documented); parallel workers need PostgreSQL row locks")
    people = [person_with_two_places(world_tables, directory, i) for i in range(15)]
    people += [person_with_one_place(world_tables, directory, i) for i in range(15)]
    ids = [_approve(store, p) for p in people]
    expected = {(d.alert_id, d.inbox_id) for d in store.deliveries(kind="send")}
    seen: list = []

    class Recording(LocalInboxAdapter):
        def send_batch_in(self, s, ds):
            seen.extend(d.idempotency_key for d in ds)
            return super().send_batch_in(s, ds)

    workers = [PushWorker(engine, {"inbox": Recording(engine)}, batch_size=3, worker_id=f"w{i}") for i in range(4)]
    threads = [threading.Thread(target=w.run, kwargs={"drain": True, "poll_seconds": 0.01}) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(seen) == len(set(seen)) == len(expected)          # SKIP LOCKED: no row sent twice
    items = count_items(engine)
    assert set(items) == expected and set(items.values()) == {1}
    assert {store.get(i).state for i in ids} == {"delivered"}
    assert sum(w.stats.delivered for w in workers) == len(expected)
    assert sum(1 for w in workers if w.stats.delivered) >= 2


def test_push_config_is_strict_and_reads_secrets_from_the_environment(tmp_path):
    with pytest.raises(ConfigurationError, match=r"unknown key\(s\) \['chanels'\]"):
        PushConfig.from_mapping({"chanels": ["inbox"]})
    with pytest.raises(ConfigurationError, match="no 'wechat:' section"):
        PushConfig.from_mapping({"channels": ["inbox", "wechat"]})
    with pytest.raises(ConfigurationError, match=r"\$WX_SECRET, which is not set"):
        PushConfig.from_mapping({"channels": ["wechat"], "wechat": {"base_url": "http://127.0.0.1:9", "appid": "a",
                                 "secret_env": "WX_SECRET", "template_id": "t"}}, environ={})
    f = tmp_path / "push.yaml"
    f.write_text("channels: [inbox, webhook]\nretry: {max_attempts: 3}\n"
                 "webhook: {url: 'http://127.0.0.1:9/h', secret_env: HOOK_SECRET}\n", encoding="utf-8")
    cfg = PushConfig.from_file(f, environ={"HOOK_SECRET": "s" * 32})
    assert cfg.channels == ("inbox", "webhook") and cfg.retry.max_attempts == 3 and cfg.webhook.secret == "s" * 32
    assert "s" * 32 not in repr(cfg)
