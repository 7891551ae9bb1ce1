"""WeChat mini-program subscribe messages: field rendering, errcode mapping, access token, adapter."""

from serving.push.wechat.adapter import SEND_PATH, WeChatSubscribeAdapter
from serving.push.wechat.errcodes import ERRCODES, action_for
from serving.push.wechat.fields import FIELD_LIMITS, render_data, render_field
from serving.push.wechat.token import StableTokenProvider, TokenError

__all__ = ["WeChatSubscribeAdapter", "StableTokenProvider", "TokenError", "ERRCODES", "action_for", "FIELD_LIMITS",
           "render_data", "render_field", "SEND_PATH"]
