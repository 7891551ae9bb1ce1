"""Inbox bearer tokens: issue, revoke, verify. The inbox owns them; the alert store does not.

A token is ``wm_`` + 256 random bits, shown once to whoever issues it (``weimeng alerts issue-token``);
the ``inbox_tokens`` table keeps only its SHA-256, the inbox identity it belongs to and when it was
last used. Verifying a token records that use in the caller's transaction. A token expires
``max_age_days`` after it was issued (:data:`TOKEN_MAX_AGE_DAYS`, 90 by default; the inbox app's
``token_max_age_days``): the cadre then asks for a new one.

>>> hash_token("wm_example") == hash_token("wm_example") and len(hash_token("wm_example"))
64
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from common.clock import to_utc, utcnow
from serving.operations.alerts.errors import AuthenticationError
from serving.operations.alerts.models import InboxToken

__all__ = ["Identity", "TOKEN_PREFIX", "TOKEN_MAX_AGE_DAYS", "hash_token", "issue_inbox_token", "revoke_inbox_tokens",
           "verify_inbox_token"]

TOKEN_PREFIX = "wm_"
#: days a token stays valid after it was issued
TOKEN_MAX_AGE_DAYS = 90.0


@dataclass(frozen=True)
class Identity:
    """Who an inbox token belongs to."""

    inbox_id: str
    staff_id: str | None
    label: str | None


def hash_token(token: str) -> str:
    """Inbox tokens are 256-bit random strings, so one SHA-256 is enough at rest (no slow KDF needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_inbox_token(engine: Engine, inbox_id: str, *, staff_id: str | None = None, label: str | None = None,
                      clock: Callable[[], datetime] = utcnow) -> str:
    """Create a bearer token for one inbox identity; only its hash is stored. Shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with Session(engine) as s, s.begin():
        s.add(InboxToken(token_hash=hash_token(token), inbox_id=inbox_id, staff_id=staff_id, label=label,
                         created_at=clock()))
    return token


def revoke_inbox_tokens(engine: Engine, inbox_id: str, *, clock: Callable[[], datetime] = utcnow) -> int:
    """Revoke every live token of one inbox; returns how many were revoked."""
    with engine.begin() as conn:
        return conn.execute(sa.update(InboxToken).where(InboxToken.inbox_id == inbox_id,
                                                        InboxToken.revoked_at.is_(None))
                            .values(revoked_at=clock())).rowcount


def verify_inbox_token(session: Session, token: str | None, *, now: datetime,
                       max_age_days: float = TOKEN_MAX_AGE_DAYS) -> Identity:
    """The identity behind a live token (its use stamped at ``now``), or :class:`AuthenticationError`
    (missing, unknown, revoked, or issued more than ``max_age_days`` ago)."""
    if not token:
        raise AuthenticationError("缺少令牌 / missing bearer token (Authorization: Bearer <token>).")
    row = session.scalar(sa.select(InboxToken).where(InboxToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        raise AuthenticationError("令牌无效或已吊销 / unknown or revoked token; ask for a new one.")
    if to_utc(row.created_at) + timedelta(days=max_age_days) <= to_utc(now):
        raise AuthenticationError(f"令牌已过期，请重新申请 / the token expired {max_age_days:g} days after it was "
                                  f"issued; ask for a new one.")
    row.last_used_at = now
    return Identity(row.inbox_id, row.staff_id, row.label)
