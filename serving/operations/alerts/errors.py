"""Errors raised by the alert store, the push side and the inbox API.

Hierarchy (the kind from :mod:`common.errors` in brackets; it sets the HTTP status, so the inbox API maps
errors by kind, never by message)::

    AlertsError [internal]                  base of everything raised here
    ├── ConfigurationError [configuration]  a policy / push / database setting is missing or wrong (start-up)
    ├── DatabaseNotMigrated [configuration] the alert tables are missing or behind: run `weimeng db upgrade`
    │                                       (a setup step, not a wait: retrying does not help until then)
    ├── InvalidInput [bad input]            a ScoredPerson, outcome kind or note that cannot be accepted
    │   └── ReasonRequired [bad input]      a review / withdrawal / close decision without a reason
    ├── NotFound [not found]
    │   ├── AlertNotFound
    │   ├── DeliveryNotFound
    │   └── InboxItemNotFound               also used for an item that belongs to another inbox (no leak)
    ├── InvalidTransition [conflict]        the lifecycle does not allow this step from the current state
    │   └── ItemClosed                      the inbox item was withdrawn or expired
    ├── RoutingError [bad input]            no directory to route with, or a person unknown to it
    ├── AuthenticationError [unauthenticated]  missing, unknown or revoked inbox token
    ├── PayloadError [bad input]            a push payload cannot be rendered within a channel's limits
    ├── SignatureError [unauthenticated]    a webhook signature is missing, wrong or outside the replay window
    └── TokenError [not ready]              (push.wechat.token) the WeChat token endpoint failed; retried later

``code`` is a finer, stable machine name kept for audit entries; API bodies carry the kind.
"""

from __future__ import annotations

from typing import ClassVar

from common import errors as _common

__all__ = [
    "AlertsError",
    "ConfigurationError",
    "DatabaseNotMigrated",
    "InvalidInput",
    "ReasonRequired",
    "NotFound",
    "AlertNotFound",
    "DeliveryNotFound",
    "InboxItemNotFound",
    "InvalidTransition",
    "ItemClosed",
    "RoutingError",
    "AuthenticationError",
    "PayloadError",
    "SignatureError",
]


class AlertsError(_common.WeimengError):
    """Base class; ``code`` is a stable machine-readable name (audit entries, logs)."""

    code: ClassVar[str] = "alerts_error"


class ConfigurationError(AlertsError, _common.ConfigurationError):
    code = "configuration_error"


class DatabaseNotMigrated(AlertsError, _common.ConfigurationError):
    code = "database_not_migrated"


class InvalidInput(AlertsError, _common.BadInput):
    code = "invalid_input"


class ReasonRequired(InvalidInput):
    code = "reason_required"


class NotFound(AlertsError, _common.NotFound):
    code = "not_found"


class AlertNotFound(NotFound):
    code = "alert_not_found"


class DeliveryNotFound(NotFound):
    code = "delivery_not_found"


class InboxItemNotFound(NotFound):
    code = "inbox_item_not_found"


class InvalidTransition(AlertsError, _common.Conflict):
    """Carries ``alert_id``, ``current``, ``target`` and ``allowed`` for callers that want them."""

    code = "invalid_transition"

    def __init__(self, message: str, *, alert_id=None, current=None, target=None, allowed=()):
        super().__init__(message)
        self.alert_id, self.current, self.target, self.allowed = alert_id, current, target, tuple(allowed)


class ItemClosed(InvalidTransition):
    code = "item_closed"


class RoutingError(AlertsError, _common.BadInput):
    code = "routing_error"


class AuthenticationError(AlertsError, _common.Unauthenticated):
    code = "authentication_failed"


class PayloadError(AlertsError, _common.BadInput):
    code = "payload_error"


class SignatureError(AlertsError, _common.Unauthenticated):
    code = "signature_invalid"
