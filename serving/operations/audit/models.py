"""Tables of the audit log (schema owned by the Alembic revision ``c7a0d17e5b21``).

* ``audit_log`` — one row per audited act; ``seq`` is gap-free from 1; ``prev_hash`` is the ``hash`` of
  entry ``seq - 1`` (64 zeros for the first); ``hash`` is SHA-256 over the canonical entry. Triggers
  refuse UPDATE and DELETE (append-only); the chain makes any edit that bypasses them detectable.
* ``audit_head`` — a single row (``id = 1``) with the newest ``seq`` and ``hash``: it detects a deleted
  tail, and writers lock it to append one at a time.

Kept on its own ``MetaData`` (not the alert store's ``Base``) so the alert store's tools never touch it.
"""

from __future__ import annotations

import sqlalchemy as sa

from serving.operations.alerts.models import UtcDateTime

__all__ = ["metadata", "audit_log", "audit_head", "GENESIS_HASH"]

metadata = sa.MetaData()
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GENESIS_HASH = "0" * 64

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(120), nullable=False),
    sa.Column("action", sa.String(60), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Index("ix_audit_log_subject", "subject"),
    sa.Index("ix_audit_log_action_at", "action", "at"),
)

audit_head = sa.Table(
    "audit_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", BigId, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
