"""WeChat mini-program subscribe messages: field rendering, errcode mapping, access token, adapter."""

from serving.operations.push.wechat.adapter import SEND_PATH, WeChatSubscribeAdapter
from serving.operations.push.wechat.errcodes import ERRCODES, action_for
from serving.operations.push.wechat.fields import FIELD_LIMITS, render_data, render_field
from serving.operations.push.wechat.token import StableTokenProvider, TokenError

__all__ = ["WeChatSubscribeAdapter", "StableTokenProvider", "TokenError", "ERRCODES", "action_for", "FIELD_LIMITS",
           "render_data", "render_field", "SEND_PATH"]
