"""Audit entries for model promotions and rule-set changes.

The training and rules packages do not depend on ``serving``, so they cannot write here themselves.
Two ways in: the CLI that promotes a model calls :func:`record_promotion` after a promotion; and
every process that loads versions (the console at start-up, the scoring service on reload) calls
:func:`observe_versions`, which appends ``model.promotion`` / ``ruleset.change`` when the version in
use differs from the last one audited — so a change made without the CLI is still caught.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from serving.operations.audit.chain import AuditEntry, record
from serving.operations.audit.models import audit_log

__all__ = ["record_promotion", "record_ruleset_change", "observe_versions", "MODEL_SUBJECT", "RULESET_SUBJECT"]

MODEL_SUBJECT = "model:champion"
RULESET_SUBJECT = "ruleset:active"


def record_promotion(engine: Engine, *, version: str, by: str, reason: str | None = None, forced: bool = False,
                     previous: str | None = None) -> AuditEntry:
    return record(engine, by, "model.promotion", MODEL_SUBJECT,
                  {"version": str(version), "previous": previous, "forced": bool(forced), "reason": reason})


def record_ruleset_change(engine: Engine, *, version: str, by: str, previous: str | None = None,
                          reason: str | None = None) -> AuditEntry:
    return record(engine, by, "ruleset.change", RULESET_SUBJECT,
                  {"version": str(version), "previous": previous, "reason": reason})


def _last_version(engine: Engine, subject: str) -> str | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(audit_log.c.detail).where(audit_log.c.subject == subject)
                           .order_by(audit_log.c.seq.desc()).limit(1)).first()
    return json.loads(row.detail).get("version") if row else None


def observe_versions(engine: Engine, *, model_version: str | None = None, ruleset_version: str | None = None,
                     actor: str = "system:observe") -> list[AuditEntry]:
    """Append an entry for each version that differs from the last one audited; returns what was added."""
    out = []
    if model_version is not None:
        prev = _last_version(engine, MODEL_SUBJECT)
        if prev != str(model_version):
            out.append(record_promotion(engine, version=str(model_version), by=actor, previous=prev,
                                        reason="observed in use / 运行中发现模型版本变化"))
    if ruleset_version is not None:
        prev = _last_version(engine, RULESET_SUBJECT)
        if prev != str(ruleset_version):
            out.append(record_ruleset_change(engine, version=str(ruleset_version), by=actor, previous=prev,
                                             reason="observed in use / 运行中发现规则集版本变化"))
    return out
