"""Push: adapters behind one protocol (local inbox, WeChat subscribe messages, signed webhook) and the
outbox worker (``weimeng push-worker``), and the weekly watch-list digest (:mod:`serving.operations.push.digest`).
See docs/alerts.md."""

from serving.operations.push.config import PushConfig, RetryPolicy, WatchDigestConfig, WebhookConfig, WeChatConfig
from serving.operations.push.local import LocalInboxAdapter
from serving.operations.push.protocol import Delivery, DeliveryResult, PushAdapter
from serving.operations.push.webhook import WebhookAdapter, sign, verify_signature
from serving.operations.push.worker import PushWorker, WorkerStats, build_adapters

__all__ = ["PushAdapter", "Delivery", "DeliveryResult", "LocalInboxAdapter", "WebhookAdapter", "sign",
           "verify_signature", "PushWorker", "WorkerStats", "build_adapters", "PushConfig", "RetryPolicy",
           "WeChatConfig", "WebhookConfig", "WatchDigestConfig"]
