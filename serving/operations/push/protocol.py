"""The one small protocol every push adapter follows.

An adapter gets a :class:`Delivery` (one outbox row: who, which channel, the minimal payload, the
idempotency key) and answers with a :class:`DeliveryResult`:

=================  ================================================================================
``delivered``      the channel accepted it (or had already: repeats with the same key are no-ops)
``retry``          transient; the worker retries with exponential backoff (``retry_after`` if known)
``refused``        permanent for this delivery (bad recipient id, template, payload): dead-lettered
``unsubscribed``   the recipient turned the channel off (or used up a one-time subscription)
=================  ================================================================================

``retract(delivery)`` withdraws an earlier send where the channel can (the local inbox can; WeChat
subscribe messages cannot, and their link lands on the retracted inbox item instead).
Adapters do not raise for channel errors; an unexpected exception is treated by the worker as
``retry`` with the exception text as detail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["Delivery", "DeliveryResult", "Status", "STATUSES", "PushAdapter", "InTransactionAdapter",
           "BatchInTransactionAdapter"]

Status = Literal["delivered", "retry", "refused", "unsubscribed"]
STATUSES: tuple[str, ...] = ("delivered", "retry", "refused", "unsubscribed")


@dataclass(frozen=True)
class Delivery:
    delivery_id: int
    alert_id: int
    kind: str                  # send | retract
    channel: str
    inbox_id: str              # mini-program openid / inbox identity
    staff_id: str
    idempotency_key: str
    payload: dict              # alerts.payload.Payload.to_dict() for sends; {status, reason} for retracts
    attempt: int = 1


@dataclass(frozen=True)
class DeliveryResult:
    status: Status
    detail: str = ""
    retry_after: float | None = None    # seconds, when the channel says how long to wait
    external_id: str | None = None      # the channel's message id, if any
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"DeliveryResult status={self.status!r}; allowed: {', '.join(STATUSES)}.")


@runtime_checkable
class PushAdapter(Protocol):
    #: channel name written in the outbox (``inbox``, ``wechat``, ``webhook``)
    channel: str

    def send(self, delivery: Delivery) -> DeliveryResult: ...

    def retract(self, delivery: Delivery) -> DeliveryResult: ...


class InTransactionAdapter(PushAdapter, Protocol):
    """An adapter that writes into the worker's own database (the local inbox), inside its transaction."""

    transactional: bool

    def send_in(self, s: Session, delivery: Delivery) -> DeliveryResult: ...

    def retract_in(self, s: Session, delivery: Delivery) -> DeliveryResult: ...


@runtime_checkable
class BatchInTransactionAdapter(InTransactionAdapter, Protocol):
    """An in-transaction adapter that also takes many sends at once (one result per delivery, same order)."""

    def send_batch_in(self, s: Session, deliveries: list[Delivery]) -> list[DeliveryResult]: ...
