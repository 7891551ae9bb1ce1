"""Server-side console sessions.

The browser holds a random 256-bit token in an HttpOnly cookie; the database holds only its SHA-256,
the user, a per-session CSRF token, and two limits: an idle timeout (sliding, refreshed at most once a
minute) and an absolute lifetime. Logout revokes the row; disabling a user ends their sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from serving.operations.auth.errors import CsrfFailed, SessionExpired
from serving.operations.auth.models import sessions, users
from serving.operations.auth.users import User, _now, _user

__all__ = ["SessionStore", "ActiveSession", "token_hash"]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ActiveSession:
    id: int
    user: User
    csrf_token: str
    expires_at: datetime

    def check_csrf(self, given: str | None) -> None:
        if not given or not hmac.compare_digest(str(given), self.csrf_token):
            raise CsrfFailed("表单已失效，请刷新页面后重试 / missing or wrong CSRF token; reload the page and submit "
                             "again.")


class SessionStore:
    def __init__(self, engine: Engine, *, idle_minutes: float = 30, max_hours: float = 12,
                 clock: Callable[[], datetime] = _now):
        self.engine = engine
        self.idle = timedelta(minutes=idle_minutes)
        self.max_age = timedelta(hours=max_hours)
        self.clock = clock

    def create(self, user: User, *, client: str | None = None) -> tuple[str, ActiveSession]:
        """A new session; returns ``(cookie_token, session)``. The token is shown only here."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock()
        with self.engine.begin() as conn:
            key = conn.execute(sa.insert(sessions).values(
                token_hash=token_hash(token), user_id=user.id, csrf_token=csrf, created_at=now, last_seen_at=now,
                expires_at=now + self.max_age, client=(client or "")[:200] or None)).inserted_primary_key
        if key is None:  # a single-row INSERT always reports its key; None would mean the row was not made
            raise RuntimeError("session insert returned no primary key")
        return token, ActiveSession(int(key[0]), user, csrf, now + self.max_age)

    def get(self, token: str | None) -> ActiveSession:
        """The live session for a cookie token, or :class:`SessionExpired`."""
        if not token:
            raise SessionExpired("请先登录 / not logged in.")
        now = self.clock()
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(sessions.c.id.label("sid"), sessions.c.csrf_token, sessions.c.expires_at,
                          sessions.c.last_seen_at, sessions.c.revoked_at, *users.c)
                .join(users, users.c.id == sessions.c.user_id)
                .where(sessions.c.token_hash == token_hash(token))).first()
        if row is None or row.revoked_at is not None:
            raise SessionExpired("登录已失效，请重新登录 / unknown or ended session; log in again.")
        if row.expires_at <= now or row.last_seen_at + self.idle <= now:
            raise SessionExpired("登录已超时，请重新登录 / the session expired; log in again.")
        if not row.active:
            raise SessionExpired("账号已停用 / the account is disabled.")
        if now - row.last_seen_at > timedelta(minutes=1):
            with self.engine.begin() as conn:
                conn.execute(sa.update(sessions).where(sessions.c.id == row.sid).values(last_seen_at=now))
        return ActiveSession(int(row.sid), _user(row), row.csrf_token, row.expires_at)

    def revoke(self, session_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.update(sessions).where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
                         .values(revoked_at=self.clock()))

    def revoke_user(self, user_id: int) -> int:
        with self.engine.begin() as conn:
            return conn.execute(sa.update(sessions).where(sessions.c.user_id == user_id,
                                                          sessions.c.revoked_at.is_(None))
                                .values(revoked_at=self.clock())).rowcount
