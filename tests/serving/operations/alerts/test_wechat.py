"""The WeChat subscribe-message adapter against the local fake: every errcode ends in the right state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from serving.operations.alerts import AlertPolicy, AlertStore, ConfigurationError, PayloadError
from serving.operations.push import PushWorker, RetryPolicy, WeChatConfig
from serving.operations.push.wechat import ERRCODES, WeChatSubscribeAdapter, render_field
from serving.operations.push.wechat.token import StableTokenProvider, TokenError
from tests.fakes.fake_wechat import FakeWeChat

from .helpers import person_with_one_place, scored

pytestmark = pytest.mark.service


@pytest.fixture
def fake():
    with FakeWeChat() as f:
        yield f


@pytest.fixture
def wx_store(engine, directory, clock):
    return AlertStore(engine, directory=directory, clock=clock, policy=AlertPolicy(channels=("wechat",)))


def _config(fake, **kw):
    return WeChatConfig(base_url=fake.base_url, appid=fake.appid, secret=fake.secret,
                        template_id=kw.pop("template_id", fake.template_id), **kw)


def _approve_one(store, world_tables, directory, i=0):
    pid = person_with_one_place(world_tables, directory, i)
    [r] = store.ingest([scored(pid, level="red")])
    store.approve(r.alert_id, by="r", reason="x")
    return r.alert_id


def _one_round(engine, adapter, clock, max_attempts=3, batch_size=1):
    w = PushWorker(engine, {"wechat": adapter}, retry=RetryPolicy(max_attempts=max_attempts, base_seconds=1,
                                                                   cap_seconds=10, jitter=False),
                   batch_size=batch_size, clock=clock)
    w.run_once()
    return w


EXPECTED = {
    0: "delivered", 40003: "dead", 40037: "dead", 47003: "dead", 41030: "dead", 43101: "unsubscribed",
    45009: "pending", 45011: "pending", -1: "pending", 99999: "pending",
}


@pytest.mark.parametrize("errcode", sorted(EXPECTED))
def test_each_errcode_leads_to_the_right_delivery_state(errcode, fake, wx_store, engine, world_tables, directory,
                                                        clock):
    alert_id = _approve_one(wx_store, world_tables, directory)
    if errcode:
        fake.inject(errcode)
    _one_round(engine, WeChatSubscribeAdapter(_config(fake)), clock)
    d = next(x for x in wx_store.deliveries(alert_id) if x.attempts == 1)
    assert d.status == EXPECTED[errcode], d.last_detail
    if d.status == "dead":
        assert f"errcode {errcode}" in d.dead_reason and d.dead_reason.startswith("refused")
    if errcode in (45009, 45011):
        assert d.next_attempt_at >= clock.now + timedelta(seconds=ERRCODES[errcode].retry_after)
    if errcode == 0:
        assert wx_store.get(alert_id).state == "delivered"
    elif EXPECTED[errcode] == "pending":
        assert d.next_attempt_at > clock.now and wx_store.get(alert_id).state == "queued"


def test_every_listed_errcode_is_mapped():
    for code in (0, 40003, 40037, 47003, 41030, 43101, 40001, 42001, 45009, 45011, -1):
        assert code in ERRCODES


@pytest.mark.parametrize("errcode", [40001, 42001])
def test_token_errors_refresh_once_and_send_again(errcode, fake, wx_store, engine, world_tables, directory, clock):
    alert_id = _approve_one(wx_store, world_tables, directory)
    adapter = WeChatSubscribeAdapter(_config(fake))
    adapter.tokens.get()
    fake.inject(errcode)
    _one_round(engine, adapter, clock, batch_size=100)
    assert {d.status for d in wx_store.deliveries(alert_id)} == {"delivered"}
    assert len(fake.sent) == len(wx_store.deliveries(alert_id))
    assert any(r["force_refresh"] for r in fake.token_requests)   # the stale token came back, so forced


def test_a_token_error_twice_is_retried_later(fake, wx_store, engine, world_tables, directory, clock):
    alert_id = _approve_one(wx_store, world_tables, directory)
    fake.inject(40001, times=2)
    _one_round(engine, WeChatSubscribeAdapter(_config(fake)), clock)
    d = next(x for x in wx_store.deliveries(alert_id) if x.attempts == 1)
    assert d.status == "pending" and "after a token refresh" in d.last_detail


def test_an_expired_token_is_renewed_without_forcing(fake):
    provider = StableTokenProvider(fake.base_url, fake.appid, fake.secret)
    t1 = provider.get()
    assert provider.get() == t1 and provider.fetches == 1          # cached
    fake.expire_current_token()
    t2 = provider.refresh(stale=t1)
    assert t2 != t1 and not fake.token_requests[-1]["force_refresh"]


def test_token_expiry_margin_triggers_a_fetch(fake):
    now = [0.0]
    provider = StableTokenProvider(fake.base_url, fake.appid, fake.secret, clock=lambda: now[0])
    provider.get()
    now[0] = 7200 - 299
    provider.get()
    assert provider.fetches == 2


def test_bad_credentials_are_a_token_error_and_a_retry(fake, wx_store, engine, world_tables, directory, clock):
    with pytest.raises(TokenError, match="errcode=40125"):
        StableTokenProvider(fake.base_url, fake.appid, "wrong").get()
    alert_id = _approve_one(wx_store, world_tables, directory)
    cfg = WeChatConfig(base_url=fake.base_url, appid=fake.appid, secret="wrong", template_id=fake.template_id)
    _one_round(engine, WeChatSubscribeAdapter(cfg), clock)
    assert next(x for x in wx_store.deliveries(alert_id) if x.attempts).status == "pending"


def test_the_fake_itself_rejects_a_wrong_template_and_unknown_openid(fake, wx_store, engine, world_tables, directory,
                                                                      clock):
    alert_id = _approve_one(wx_store, world_tables, directory)
    _one_round(engine, WeChatSubscribeAdapter(_config(fake, template_id="NOPE")), clock)
    assert "errcode 40037" in next(x for x in wx_store.deliveries(alert_id) if x.attempts).dead_reason
    fake.openids = {"someone-else"}
    _one_round(engine, WeChatSubscribeAdapter(_config(fake)), clock)
    assert any("errcode 40003" in (x.dead_reason or "") for x in wx_store.deliveries(alert_id))


def test_retries_end_in_a_dead_letter(fake, wx_store, engine, world_tables, directory, clock):
    alert_id = _approve_one(wx_store, world_tables, directory)
    n = len(wx_store.deliveries(alert_id))
    fake.inject(-1, times=100)
    adapter = WeChatSubscribeAdapter(_config(fake))
    for _ in range(3):
        w = PushWorker(engine, {"wechat": adapter}, retry=RetryPolicy(max_attempts=3, base_seconds=1, jitter=False),
                       clock=clock)
        w.run_once()
        clock.advance(minutes=5)
    dead = wx_store.dead_letters()
    assert len(dead) == n and all("gave up after 3 attempts" in d.dead_reason for d in dead)


def test_sent_messages_respect_field_limits(fake, wx_store, engine, world_tables, directory, clock):
    _approve_one(wx_store, world_tables, directory)
    _one_round(engine, WeChatSubscribeAdapter(_config(fake)), clock)
    body = fake.sent[0]
    assert body["page"].startswith("pages/inbox/detail?alert=")
    for v in body["data"].values():
        assert "\n" not in v["value"]
    assert len(body["data"]["thing4"]["value"]) <= 20 and len(body["data"]["phrase3"]["value"]) <= 5
    assert body["data"]["phrase3"]["value"] == "红色预警"


def test_field_rendering_rules():
    assert render_field("thing1", "甲" * 25) == "甲" * 19 + "…"
    assert render_field("name2", "张**") == "张**"
    with pytest.raises(PayloadError, match="phrase3.*at most 5"):
        render_field("phrase3", "非常紧急的预警")
    with pytest.raises(PayloadError, match="only digits"):
        render_field("number4", "12a")
    with pytest.raises(PayloadError, match="unknown type 'color'"):
        render_field("color1", "red")


def test_the_api_host_must_be_configured():
    with pytest.raises(ConfigurationError, match="there is no default"):
        WeChatConfig(base_url="", appid="a", secret="s", template_id="t")
    with pytest.raises(ConfigurationError, match="allowed sources"):
        WeChatConfig(base_url="http://127.0.0.1:1", appid="a", secret="s", template_id="t", fields={"thing1": "note"})


@pytest.mark.parametrize(("key", "value"), [
    ("phrase1", "red"), ("phrase1", "紧急!"), ("letter2", "abc1"), ("symbol3", "ab"), ("amount4", "十元"),
    ("phone_number5", "138-abcd"), ("car_number6", "12345678"), ("time7", "明天下午"), ("date8", "2026-11-29x"),
    ("name9", "张三123"),
])
def test_field_content_rules_refuse_what_wechat_would_refuse(key, value):
    """WeChat answers errcode 47003 for these; they must fail before sending, naming the key."""
    with pytest.raises(PayloadError, match=key):
        render_field(key, value)


@pytest.mark.parametrize(("key", "value"), [
    ("phrase1", "红色预警"), ("letter2", "abc"), ("symbol3", "★"), ("amount4", "¥100"), ("phone_number5", "+86-138"),
    ("car_number6", "川A12345"), ("time7", "2026年11月29日 15:01"), ("time7", "15:01"), ("date8", "2026年11月29日"),
    ("name9", "张**"),
])
def test_field_content_rules_accept_valid_values(key, value):
    assert render_field(key, value) == value


def test_aware_times_are_shown_in_beijing_time():
    from datetime import UTC, datetime

    assert render_field("time1", datetime(2026, 11, 29, 7, 1, tzinfo=UTC)) == "2026年11月29日 15:01"
    assert render_field("date2", datetime(2026, 11, 29, 17, 0, tzinfo=UTC)) == "2026年11月30日"
