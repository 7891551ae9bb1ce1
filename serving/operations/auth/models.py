"""Tables of console accounts (schema owned by the Alembic revision ``c7a0d17e5b21``).

* ``console_users`` — username, display name, role, jurisdiction, argon2 password hash, demo flag,
  failed-login counter and lock-out time.
* ``console_login_throttle`` — failed-login counters per (username, client address) and per client address,
  kept for unknown usernames exactly as for real ones, so the lock-out reveals nothing (revision
  ``d3f1a2b4c5e6``).
* ``console_sessions`` — server-side sessions: only the SHA-256 of the cookie token is stored, with the
  session's CSRF token, idle and absolute expiry, and revocation (logout).
"""

from __future__ import annotations

import sqlalchemy as sa

from serving.operations.alerts.models import UtcDateTime

__all__ = ["metadata", "users", "sessions", "login_throttle"]

metadata = sa.MetaData()
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

users = sa.Table(
    "console_users", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("jurisdiction", sa.String(40), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("is_demo", sa.Boolean, nullable=False, default=False),
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", UtcDateTime, nullable=True),
    sa.Column("last_login_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

sessions = sa.Table(
    "console_sessions", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", BigId, sa.ForeignKey("console_users.id"), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("client", sa.String(200), nullable=True),
)

login_throttle = sa.Table(
    "console_login_throttle", metadata,
    sa.Column("key", sa.String(200), primary_key=True),       # "u:<username>|c:<client>" or "c:<client>"
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("first_failed_at", UtcDateTime(), nullable=True),
    sa.Column("locked_until", UtcDateTime(), nullable=True),
)
