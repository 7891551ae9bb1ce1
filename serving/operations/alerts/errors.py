"""Errors raised by the alert store, the push side and the inbox API.

Hierarchy (``http_status`` in brackets; the inbox API maps errors by type, never by message)::

    AlertsError [500]                  base of everything raised here
    ├── ConfigurationError [500]       a policy / push / database setting is missing or wrong (start-up)
    ├── DatabaseNotMigrated [503]      the alert tables are missing or behind: run `weimeng db upgrade`
    ├── InvalidInput [422]             a ScoredPerson, outcome kind or note that cannot be accepted
    │   └── ReasonRequired [422]       a review / withdrawal / close decision without a reason
    ├── NotFound [404]
    │   ├── AlertNotFound [404]
    │   ├── DeliveryNotFound [404]
    │   └── InboxItemNotFound [404]    also used for an item that belongs to another inbox (no leak)
    ├── InvalidTransition [409]        the lifecycle does not allow this step from the current state
    │   └── ItemClosed [409]           the inbox item was withdrawn or expired
    ├── RoutingError [422]             no directory to route with, or a person unknown to it
    ├── AuthenticationError [401]      missing, unknown or revoked inbox token
    ├── PayloadError [422]             a push payload cannot be rendered within a channel's limits
    └── SignatureError [401]           a webhook signature is missing, wrong or outside the replay window
"""

from __future__ import annotations

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


class AlertsError(Exception):
    """Base class; ``code`` is a stable machine-readable name used in API error bodies."""

    http_status = 500
    code = "alerts_error"


class ConfigurationError(AlertsError, ValueError):
    http_status = 500
    code = "configuration_error"


class DatabaseNotMigrated(AlertsError):
    http_status = 503
    code = "database_not_migrated"


class InvalidInput(AlertsError, ValueError):
    http_status = 422
    code = "invalid_input"


class ReasonRequired(InvalidInput):
    http_status = 422
    code = "reason_required"


class NotFound(AlertsError, LookupError):
    http_status = 404
    code = "not_found"


class AlertNotFound(NotFound):
    code = "alert_not_found"


class DeliveryNotFound(NotFound):
    code = "delivery_not_found"


class InboxItemNotFound(NotFound):
    code = "inbox_item_not_found"


class InvalidTransition(AlertsError):
    """Carries ``alert_id``, ``current``, ``target`` and ``allowed`` for callers that want them."""

    http_status = 409
    code = "invalid_transition"

    def __init__(self, message: str, *, alert_id=None, current=None, target=None, allowed=()):
        super().__init__(message)
        self.alert_id, self.current, self.target, self.allowed = alert_id, current, target, tuple(allowed)


class ItemClosed(InvalidTransition):
    code = "item_closed"


class RoutingError(AlertsError):
    http_status = 422
    code = "routing_error"


class AuthenticationError(AlertsError):
    http_status = 401
    code = "authentication_failed"


class PayloadError(AlertsError, ValueError):
    http_status = 422
    code = "payload_error"


class SignatureError(AlertsError):
    http_status = 401
    code = "signature_invalid"
