"""Read-only views handed out by the store (plain frozen dataclasses, safe outside a session)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

__all__ = ["AlertView", "DeliveryView", "GapView", "IngestResult", "to_view"]


@dataclass(frozen=True)
class AlertView:
    id: int
    person_id: str
    state: str
    level: str
    score: float | None
    categories: list
    reason_key: str
    explanation: dict | None
    ruleset_version: str
    model_version: str | None
    catalog_version: str | None
    as_of: datetime
    snapshot_time: datetime
    source: str
    urgent: bool
    supersedes_id: int | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    deadline_at: datetime | None
    review_decision: str | None
    reviewed_by: str | None
    review_reason: str | None
    reviewed_at: datetime | None
    closed_at: datetime | None
    extra: dict | None = None       # what scoring attached (rule ids, county, thresholds, the reviewer's risk terms)


@dataclass(frozen=True)
class DeliveryView:
    id: int
    alert_id: int
    kind: str
    channel: str
    inbox_id: str
    staff_id: str
    role: str
    grid_id: str | None
    places: list
    fallback: bool
    idempotency_key: str
    payload: dict
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: str | None
    last_detail: str | None
    dead_reason: str | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class GapView:
    id: int
    alert_id: int
    place: str
    grid_id: str | None
    township_code: str | None
    kind: str
    detail: str
    created_at: datetime


@dataclass(frozen=True)
class IngestResult:
    """What ``ingest`` did with one ScoredPerson.

    ``action``: ``created`` (new alert), ``raised`` (new alert because the level rose within the
    cooldown; ``supersedes`` names the earlier one), ``updated`` (a higher score refreshed the open
    alert), ``suppressed`` (same reasons within the cooldown, level not higher: nothing new).
    """

    person_id: str
    action: str
    alert_id: int
    supersedes: int | None = None
    detail: str = ""


def to_view(cls, row):
    return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})
