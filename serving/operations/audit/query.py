"""Reading the audit log (newest first): for the console's "who else has looked" and the admin page."""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from serving.operations.audit.chain import AuditEntry
from serving.operations.audit.models import audit_log

__all__ = ["entries"]


def entries(engine: Engine, *, subject: str | Sequence[str] | None = None, action: str | Sequence[str] | None = None,
            actor: str | None = None, limit: int = 100) -> list[AuditEntry]:
    q = sa.select(audit_log)
    if subject is not None:
        q = q.where(audit_log.c.subject.in_([subject] if isinstance(subject, str) else list(subject)))
    if action is not None:
        q = q.where(audit_log.c.action.in_([action] if isinstance(action, str) else list(action)))
    if actor is not None:
        q = q.where(audit_log.c.actor == actor)
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(audit_log.c.seq.desc()).limit(limit)).all()
    return [AuditEntry(r.seq, r.at, r.actor, r.action, r.subject, json.loads(r.detail), r.prev_hash, r.hash)
            for r in rows]
