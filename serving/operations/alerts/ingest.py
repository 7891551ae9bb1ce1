"""``ingest``: the scoring side's entry point. Scored people in, alerts (created / raised / updated /
suppressed) out, with dedup and cooldown applied.

Rules, per ScoredPerson (``level != 'none'``), keyed by person and *reasons* — the sorted set of
categories (四类重点人员), which is what the cadre sees as "why":

1. no alert for (person, reasons) that is still open or was created within the cooldown -> **created**;
2. there is one and the new level is higher -> **raised**: a new alert that ``supersedes`` it; an
   earlier alert still waiting for review is withdrawn so reviewers see one;
3. the level is not higher, the earlier alert is open and the new score is higher -> **updated**
   (score, explanation, versions and snapshot time refreshed; the event is recorded);
4. otherwise -> **suppressed** (a dismissed alert also suppresses within the cooldown: the reviewer
   has already said no).

On PostgreSQL concurrent ingests of the same person are serialised with a transaction-level advisory
lock; SQLite serialises writers anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict

import sqlalchemy as sa
from sqlalchemy.orm import Session

from common.clock import to_utc
from common.levels import LEVELS, level_rank
from common.records import ScoredPerson
from serving.operations.alerts.errors import InvalidInput
from serving.operations.alerts.lifecycle import OPEN
from serving.operations.alerts.models import Alert
from serving.operations.alerts.transitions import record_event, transition
from serving.operations.alerts.views import IngestResult

__all__ = ["ingest", "reason_key"]

INGEST_ACTOR = "system:ingest"


def reason_key(categories: Iterable[str]) -> str:
    cats = sorted(set(categories))
    return "|".join(cats) if cats else "uncategorised"


def _check(sp: ScoredPerson) -> None:
    if not isinstance(sp, ScoredPerson):
        raise InvalidInput(f"ingest expects common.records.ScoredPerson objects, got {type(sp).__name__}.")
    if sp.level not in LEVELS:
        raise InvalidInput(f"ScoredPerson {sp.person_id}: level={sp.level!r}; allowed: yellow, orange, red.")
    if sp.level == "none":
        raise InvalidInput(f"ScoredPerson {sp.person_id}: level='none' is not an alert; filter those out "
                           f"before calling ingest.")
    if sp.probability is not None and not (0.0 <= float(sp.probability) <= 1.0):
        raise InvalidInput(f"ScoredPerson {sp.person_id}: probability={sp.probability} is outside [0, 1].")
    if sp.source not in ("batch", "event", "api"):
        raise InvalidInput(f"ScoredPerson {sp.person_id}: source={sp.source!r}; allowed: batch, event, api.")


def _lock_person(session: Session, person_id: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.blake2b(person_id.encode(), digest_size=8).digest(), "big", signed=True)
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _new_alert(sp: ScoredPerson, key: str, now, policy, supersedes: int | None) -> Alert:
    return Alert(
        person_id=sp.person_id, state="created", level=sp.level,
        score=None if sp.probability is None else float(sp.probability),
        categories=list(sp.categories), reason_key=key,
        explanation=asdict(sp.explanation) if sp.explanation is not None else None,
        ruleset_version=sp.ruleset_version, model_version=sp.model_version, catalog_version=sp.catalog_version,
        as_of=to_utc(sp.as_of), snapshot_time=to_utc(sp.snapshot_time), source=sp.source, urgent=bool(sp.urgent),
        extra=dict(sp.extra or {}), supersedes_id=supersedes, created_at=now, updated_at=now,
        expires_at=now + policy.expiry(sp.level),
    )


def ingest_one(session: Session, sp: ScoredPerson, *, policy, now) -> IngestResult:
    _check(sp)
    key = reason_key(sp.categories)
    _lock_person(session, sp.person_id)
    prev = session.execute(
        sa.select(Alert).where(Alert.person_id == sp.person_id, Alert.reason_key == key,
                               sa.or_(Alert.state.in_(OPEN), Alert.created_at >= now - policy.cooldown))
        .order_by(Alert.created_at.desc(), Alert.id.desc()).limit(1)
    ).scalar_one_or_none()
    if prev is None:
        alert = _new_alert(sp, key, now, policy, None)
        session.add(alert)
        session.flush()
        record_event(session, alert.id, action="created", actor=INGEST_ACTOR, now=now, to_state="created",
                     detail={"source": sp.source, "urgent": bool(sp.urgent)})
        return IngestResult(sp.person_id, "created", alert.id)
    if level_rank(sp.level) > level_rank(prev.level):
        alert = _new_alert(sp, key, now, policy, prev.id)
        session.add(alert)
        session.flush()
        record_event(session, alert.id, action="created", actor=INGEST_ACTOR, now=now, to_state="created",
                     detail={"source": sp.source, "raised_from": prev.id, "previous_level": prev.level})
        if prev.state in ("created", "escalated"):
            transition(session, prev, "withdrawn", actor=INGEST_ACTOR, now=now,
                       reason=f"等级升高，由新预警 #{alert.id} 取代 / superseded by #{alert.id}")
        return IngestResult(sp.person_id, "raised", alert.id, supersedes=prev.id)
    new_score = None if sp.probability is None else float(sp.probability)
    if prev.state in OPEN and new_score is not None and (prev.score is None or new_score > prev.score):
        old = prev.score
        prev.score = new_score
        prev.explanation = asdict(sp.explanation) if sp.explanation is not None else prev.explanation
        prev.ruleset_version, prev.model_version = sp.ruleset_version, sp.model_version
        prev.catalog_version = sp.catalog_version
        prev.snapshot_time, prev.as_of, prev.updated_at = to_utc(sp.snapshot_time), to_utc(sp.as_of), now
        record_event(session, prev.id, action="score_updated", actor=INGEST_ACTOR, now=now,
                     detail={"old_score": old, "new_score": new_score, "source": sp.source})
        return IngestResult(sp.person_id, "updated", prev.id, detail=f"score {old} -> {new_score}")
    return IngestResult(sp.person_id, "suppressed", prev.id,
                        detail=f"same reasons within cooldown (alert #{prev.id}, state {prev.state})")


def ingest(store, scored_people: Iterable[ScoredPerson]) -> list[IngestResult]:
    """Land scored people (batch run or event path) in ``store`` (an :class:`AlertStore`).

    Every ScoredPerson must have ``level != 'none'``. All of them are ingested in one transaction:
    one invalid record rejects the call with :class:`InvalidInput` naming the person.

    >>> # results = serving.operations.alerts.ingest(store, [scored for scored in batch if scored.level != "none"])
    """
    return store.ingest(scored_people)
