"""Errors of the grassroots loop (kinds from :mod:`common.errors`; they set the HTTP status)."""

from __future__ import annotations

from common import errors as _common
from serving.operations.alerts.errors import AlertsError, InvalidInput, InvalidTransition, NotFound

__all__ = ["InvalidInput", "ItemNotFound", "AlreadyHandled", "TipRateLimited"]


class ItemNotFound(NotFound):
    """A report or tip that does not exist, or lies outside the caller's jurisdiction (no leak)."""

    code = "grassroots_item_not_found"


class AlreadyHandled(InvalidTransition):
    code = "grassroots_already_handled"


class TipRateLimited(AlertsError, _common.TooManyRequests):
    """Too many tips for this address today, or from this client just now (the page says when to retry)."""

    code = "tip_rate_limited"
