"""Push: adapters behind one protocol (local inbox, WeChat subscribe messages, signed webhook) and the
outbox worker (``weimeng push-worker``). See docs/alerts.md."""

from serving.push.config import PushConfig, RetryPolicy, WebhookConfig, WeChatConfig
from serving.push.local import LocalInboxAdapter
from serving.push.protocol import Delivery, DeliveryResult, PushAdapter
from serving.push.webhook import WebhookAdapter, sign, verify_signature
from serving.push.worker import PushWorker, WorkerStats, build_adapters

__all__ = ["PushAdapter", "Delivery", "DeliveryResult", "LocalInboxAdapter", "WebhookAdapter", "sign",
           "verify_signature", "PushWorker", "WorkerStats", "build_adapters", "PushConfig", "RetryPolicy",
           "WeChatConfig", "WebhookConfig"]
