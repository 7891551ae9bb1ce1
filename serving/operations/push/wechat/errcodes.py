"""Every ``subscribeMessage.send`` errcode we know, mapped to a delivery outcome.

``token`` means: refresh the access token once (from the one token provider) and send again; if the
second answer is still a token error the delivery is retried later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ActionStatus", "ErrcodeAction", "ERRCODES", "TOKEN_ERRCODES", "action_for"]


#: a delivery status (serving.operations.push.protocol.Status) or ``token``: refresh the token, send again
ActionStatus = Literal["delivered", "retry", "refused", "unsubscribed", "token"]


@dataclass(frozen=True)
class ErrcodeAction:
    status: ActionStatus
    label: str                   # Chinese, for dead-letter reasons and logs
    retry_after: float | None = None


ERRCODES: dict[int, ErrcodeAction] = {
    0: ErrcodeAction("delivered", "发送成功"),
    40003: ErrcodeAction("refused", "接收人 openid 无效"),
    40037: ErrcodeAction("refused", "订阅模板 id 无效"),
    47003: ErrcodeAction("refused", "模板参数不符合要求"),
    41030: ErrcodeAction("refused", "跳转页面 page 无效"),
    43101: ErrcodeAction("unsubscribed", "用户拒绝接收或一次性订阅已用完"),
    40001: ErrcodeAction("token", "access_token 无效"),
    42001: ErrcodeAction("token", "access_token 已过期"),
    45009: ErrcodeAction("retry", "接口调用超过每日限额", retry_after=3600.0),
    45011: ErrcodeAction("retry", "接口调用过于频繁（每分钟限额）", retry_after=60.0),
    -1: ErrcodeAction("retry", "微信系统繁忙", retry_after=5.0),
}
TOKEN_ERRCODES = frozenset(c for c, a in ERRCODES.items() if a.status == "token")


def action_for(errcode: int) -> ErrcodeAction:
    """Unknown codes are retried (and dead-lettered after the retry limit), never silently dropped."""
    return ERRCODES.get(errcode, ErrcodeAction("retry", f"未知错误码 {errcode}"))
