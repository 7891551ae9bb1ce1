"""WeChat mini-program subscribe messages (``subscribeMessage.send``) as a push adapter.

The message is a nudge: masked person, masked address, level, reasons, deadline, and a page link to
the inbox item where the full explanation lives. Every errcode maps to a delivery status through
:mod:`serving.operations.push.wechat.errcodes`; a token error refreshes the token once and sends again.
Subscribe messages cannot be recalled, so :meth:`retract` reports ``delivered`` with a note: the link
opens the inbox item, which shows 已撤回 after the local inbox retraction.
"""

from __future__ import annotations

import httpx

from serving.operations.alerts.errors import PayloadError
from serving.operations.push.config import WeChatConfig
from serving.operations.push.protocol import Delivery, DeliveryResult, Status
from serving.operations.push.wechat.errcodes import TOKEN_ERRCODES, action_for
from serving.operations.push.wechat.fields import render_data
from serving.operations.push.wechat.token import StableTokenProvider, TokenError

__all__ = ["WeChatSubscribeAdapter", "SEND_PATH"]

SEND_PATH = "/cgi-bin/message/subscribe/send"


class WeChatSubscribeAdapter:
    channel = "wechat"

    def __init__(self, config: WeChatConfig, *, tokens: StableTokenProvider | None = None,
                 client: httpx.Client | None = None):
        self.config = config
        self._client = client or httpx.Client(timeout=config.timeout_seconds)
        self.tokens = tokens or StableTokenProvider(config.base_url, config.appid, config.secret, client=self._client)
        self._url = config.base_url.rstrip("/") + SEND_PATH

    def body(self, delivery: Delivery) -> dict:
        """The request body (raises PayloadError when a field cannot be rendered)."""
        return {
            "touser": delivery.inbox_id,
            "template_id": self.config.template_id,
            "page": self.config.page_template.format(alert_id=delivery.alert_id),
            "data": render_data(dict(self.config.fields), delivery.payload),
            "miniprogram_state": self.config.miniprogram_state,
            "lang": self.config.lang,
        }

    def send(self, delivery: Delivery) -> DeliveryResult:
        try:
            body = self.body(delivery)
        except PayloadError as exc:
            return DeliveryResult("refused", f"payload: {exc}")
        try:
            token = self.tokens.get()
            code, msg = self._post(token, body)
            if code in TOKEN_ERRCODES:
                token = self.tokens.refresh(stale=token)
                code, msg = self._post(token, body)
                if code in TOKEN_ERRCODES:
                    return DeliveryResult("retry", f"errcode {code} {msg!r} again after a token refresh",
                                          extra={"errcode": code})
        except TokenError as exc:
            return DeliveryResult("retry", str(exc))
        except (httpx.HTTPError, ValueError) as exc:
            return DeliveryResult("retry", f"network/protocol error: {exc!r}")
        action = action_for(code)
        detail = f"errcode {code} {action.label}" + (f": {msg}" if msg and code else "")
        status: Status = "retry" if action.status == "token" else action.status
        return DeliveryResult(status, detail, retry_after=action.retry_after, extra={"errcode": code})

    def retract(self, delivery: Delivery) -> DeliveryResult:
        return DeliveryResult("delivered", "订阅消息无法撤回；链接指向的收件箱条目已撤回 / subscribe messages cannot "
                                           "be recalled; the linked inbox item shows the retraction")

    def _post(self, token: str, body: dict) -> tuple[int, str]:
        resp = self._client.post(self._url, params={"access_token": token}, json=body)
        if resp.status_code >= 500:
            return -1, f"HTTP {resp.status_code}"
        data = resp.json()
        return int(data.get("errcode", 0)), str(data.get("errmsg", ""))
