"""One contract suite run over every push adapter (local inbox, WeChat subscribe messages, webhook).

A new adapter joins by adding a factory to ADAPTERS; if it breaks the contract, this fails.
"""

from __future__ import annotations

import pytest

from serving.operations.push import (
    DeliveryResult,
    LocalInboxAdapter,
    PushAdapter,
    WebhookAdapter,
    WebhookConfig,
    WeChatConfig,
)
from serving.operations.push.protocol import STATUSES, Delivery
from serving.operations.push.wechat import WeChatSubscribeAdapter
from tests.fakes.fake_wechat import FakeWeChat

from .fake_webhook import FakeWebhook
from .helpers import person_with_one_place, scored

SECRET = "webhook-secret-0123456789"


def _local(engine):
    yield LocalInboxAdapter(engine), None


def _wechat(engine):
    with FakeWeChat() as fake:
        cfg = WeChatConfig(base_url=fake.base_url, appid=fake.appid, secret=fake.secret, template_id=fake.template_id)
        yield WeChatSubscribeAdapter(cfg), fake


def _webhook(engine):
    with FakeWebhook(SECRET) as hook:
        yield WebhookAdapter(WebhookConfig(url=hook.url, secret=SECRET)), hook


ADAPTERS = {"inbox": _local, "wechat": _wechat, "webhook": _webhook}


@pytest.fixture(params=[pytest.param(k, marks=[pytest.mark.service] if k != "inbox" else []) for k in ADAPTERS])
def adapter(request, engine):
    gen = ADAPTERS[request.param](engine)
    a, fake = next(gen)
    yield a, fake
    gen.close()


@pytest.fixture
def delivery(store, world_tables, directory):
    pid = person_with_one_place(world_tables, directory)
    [r] = store.ingest([scored(pid, level="red")])
    store.approve(r.alert_id, by="r", reason="x")
    d = store.deliveries(r.alert_id)[0]
    return Delivery(delivery_id=d.id, alert_id=d.alert_id, kind="send", channel=d.channel, inbox_id=d.inbox_id,
                    staff_id=d.staff_id, idempotency_key=d.idempotency_key, payload=d.payload)


def test_follows_the_protocol(adapter):
    a, _ = adapter
    assert isinstance(a, PushAdapter)
    assert isinstance(a.channel, str) and a.channel in ("inbox", "wechat", "webhook")


def test_send_delivers_and_a_repeat_with_the_same_key_is_harmless(adapter, delivery):
    a, _ = adapter
    first = a.send(delivery)
    assert isinstance(first, DeliveryResult) and first.status == "delivered", first.detail
    again = a.send(delivery)
    assert again.status == "delivered", again.detail


def test_retract_answers_with_a_result(adapter, delivery):
    a, _ = adapter
    a.send(delivery)
    r = Delivery(**{**delivery.__dict__, "kind": "retract", "idempotency_key": delivery.idempotency_key + ":retract",
                    "payload": {"alert_id": delivery.alert_id, "status": "withdrawn", "reason": "误报",
                                "send_key": delivery.idempotency_key}})
    res = a.retract(r)
    assert res.status in STATUSES and res.status == "delivered"


def test_awkward_text_never_breaks_the_channel(adapter, delivery):
    a, _ = adapter
    payload = dict(delivery.payload, reasons=["第一行\n第二行" + "很长的原因" * 20], action="走访\r\n调解" * 10)
    res = a.send(Delivery(**{**delivery.__dict__, "payload": payload}))
    assert res.status == "delivered", res.detail


def test_channel_errors_are_results_not_exceptions(adapter, delivery):
    a, fake = adapter
    if fake is None:
        pytest.skip("the local inbox has no remote side to fail")
    fake.stop() if hasattr(fake, "stop") else fake.__exit__()
    res = a.send(delivery)
    assert res.status == "retry"
