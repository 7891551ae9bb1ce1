"""Appending to the hash-chained audit log.

Each entry's ``hash`` is SHA-256 over ``[seq, at, actor, action, subject, detail, prev_hash]`` as
compact JSON; ``prev_hash`` is the previous entry's hash. Writers lock the single ``audit_head`` row
first (an UPDATE: a row lock on PostgreSQL, the write lock on SQLite), so entries are appended one at
a time and the chain never forks; the unique ``prev_hash`` column backs that up.

>>> entry_hash(1, "2026-11-29T03:00:00.000000", "alice", "login", "user:alice", "{}", "0" * 64)[:12]
'fea5e2277602'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from common.clock import to_utc, utcnow
from serving.operations.audit.errors import AuditWriteError
from serving.operations.audit.models import audit_head, audit_log

__all__ = ["record", "record_many", "entry_hash", "canonical_detail", "AuditEntry", "AuditAct"]

MAX_ACTOR, MAX_ACTION, MAX_SUBJECT = 120, 60, 200


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: dict
    prev_hash: str
    hash: str


# ``json.dumps`` with options builds a new encoder per call; the audit log appends one entry per scoring request
_DETAIL_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
_BODY_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def canonical_detail(detail: Mapping[str, Any] | None) -> str:
    """The stored (and hashed) text of ``detail``: sorted keys, no spaces, Chinese kept as is."""
    return _DETAIL_JSON.encode(dict(detail or {}))


def _ts(at: datetime) -> str:
    """The hashed text of a time: UTC wall time without an offset, to the microsecond (the form the
    first chains were written in, so they still verify; a naive value is read as UTC)."""
    return to_utc(at).replace(tzinfo=None).isoformat(timespec="microseconds")


def entry_hash(seq: int, at: datetime | str, actor: str, action: str, subject: str, detail: str,
               prev_hash: str) -> str:
    at_text = at if isinstance(at, str) else _ts(at)
    body = _BODY_JSON.encode([int(seq), at_text, actor, action, subject, detail, prev_hash])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _check(actor: str, action: str, subject: str) -> None:
    for name, value, cap in (("actor", actor, MAX_ACTOR), ("action", action, MAX_ACTION),
                             ("subject", subject, MAX_SUBJECT)):
        if not isinstance(value, str) or not value.strip():
            raise AuditWriteError(f"audit {name}={value!r}; give a non-empty string (e.g. actor='reviewer01', "
                                  f"action='case.view', subject='alert:42').")
        if len(value) > cap:
            raise AuditWriteError(f"audit {name} has {len(value)} characters; at most {cap}.")


class AuditAct(NamedTuple):
    """One act for :func:`record_many`; ``at`` is when it happened (None: the time of writing)."""

    actor: str
    action: str
    subject: str
    detail: Mapping[str, Any] | None = None
    at: datetime | None = None


def _append(conn: Connection, actor: str, action: str, subject: str, detail: Mapping | None,
            at: datetime | None) -> AuditEntry:
    return _append_many(conn, [AuditAct(actor, action, subject, detail, at)])[0]


def _append_many(conn: Connection, acts: Sequence[AuditAct]) -> list[AuditEntry]:
    """Lock the head once, chain ``acts`` in order, insert them in one statement, move the head once."""
    now = utcnow()
    # Take the lock first: every appender updates the one head row before reading it.
    locked = conn.execute(sa.update(audit_head).where(audit_head.c.id == 1).values(updated_at=now)).rowcount
    if locked != 1:
        raise AuditWriteError("审计日志未初始化 / the audit_head row is missing: run `weimeng db upgrade` (a deleted "
                              "head row is also reported by `weimeng audit verify`).")
    head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).one()
    seq, prev = int(head.seq), head.hash
    out: list[AuditEntry] = []
    rows: list[dict[str, Any]] = []
    for act in acts:
        seq += 1
        at = to_utc(act.at or now)
        text = canonical_detail(act.detail)
        digest = entry_hash(seq, at, act.actor, act.action, act.subject, text, prev)
        rows.append({"seq": seq, "at": at, "actor": act.actor, "action": act.action, "subject": act.subject,
                     "detail": text, "prev_hash": prev, "hash": digest})
        out.append(AuditEntry(seq, at, act.actor, act.action, act.subject, dict(act.detail or {}), prev, digest))
        prev = digest
    conn.execute(sa.insert(audit_log), rows)
    conn.execute(sa.update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=prev))
    return out


def record(target: Session | Connection | Engine, actor: str, action: str, subject: str,
           detail: Mapping[str, Any] | None = None, *, at: datetime | None = None) -> AuditEntry:
    """Append one entry. Returns it (with its hash).

    ``target`` decides the transaction: a :class:`~sqlalchemy.orm.Session` or a
    :class:`~sqlalchemy.engine.Connection` appends inside the caller's transaction (the entry commits
    or rolls back with the audited act); an :class:`~sqlalchemy.engine.Engine` commits on its own.

    ``action`` names are dotted and stable: ``login.ok``, ``login.failed``, ``case.view``,
    ``case.decide``, ``case.denied``, ``model.promotion``, ``ruleset.change``, ``report.view``, ...

    >>> # record(engine, "审核员A", "case.view", "alert:42", {"person_id": "P000123"})
    """
    _check(actor, action, subject)
    if isinstance(target, Session):
        return _append(target.connection(), actor, action, subject, detail, at)
    if isinstance(target, Connection):
        return _append(target, actor, action, subject, detail, at)
    if isinstance(target, Engine):
        with target.begin() as conn:
            return _append(conn, actor, action, subject, detail, at)
    raise AuditWriteError(f"audit target is a {type(target).__name__}; give a SQLAlchemy Session, Connection or "
                          f"Engine of the operational store.")


def record_many(target: Connection | Engine, acts: Sequence[AuditAct | tuple], *,
                at: datetime | None = None) -> list[AuditEntry]:
    """Append several acts (:class:`AuditAct`, or tuples ``(actor, action, subject, detail[, at])``) in order, in
    one transaction: the same chain as one :func:`record` per act, at the cost of one (the head is locked and
    moved once, the rows inserted in one statement). ``at`` is the time of acts that name none. Used for the
    scoring service's batched audit events, each with the time of its own request."""
    batch = [AuditAct(*a) for a in acts]
    if at is not None:
        batch = [a if a.at is not None else a._replace(at=at) for a in batch]
    if not batch:
        return []
    for a in batch:
        _check(a.actor, a.action, a.subject)
    if isinstance(target, Connection):
        return _append_many(target, batch)
    if isinstance(target, Engine):
        with target.begin() as conn:
            return _append_many(conn, batch)
    raise AuditWriteError(f"audit target is a {type(target).__name__}; give a SQLAlchemy Connection or Engine of "
                          f"the operational store.")
