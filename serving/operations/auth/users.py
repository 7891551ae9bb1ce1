"""Console accounts: create, look up, authenticate (with lock-out), change password, disable.

>>> # users = UserStore(engine)
>>> # users.add("wh-reviewer", "武侯区审核员", role="reviewer", jurisdiction="510107", password="...")
>>> # user = users.authenticate("wh-reviewer", "...")     # LoginFailed / AccountLocked otherwise
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from common.clock import to_utc
from common.errors import BadInput
from common.places import Jurisdiction
from serving.operations.auth.errors import AccountLocked, DuplicateUser, InvalidAccount, LoginFailed, UserNotFound
from serving.operations.auth.models import login_throttle, sessions, users
from serving.operations.auth.passwords import check_password, hash_password, needs_rehash
from serving.operations.auth.roles import ROLE_LABELS, ROLES, RolePolicy, policy_for

__all__ = ["User", "UserStore", "MAX_FAILED", "MAX_FAILED_PER_CLIENT", "LOCK_MINUTES", "parse_jurisdiction"]

#: failed logins per (username, client address) before that pair is locked out
MAX_FAILED = 5
#: failed logins from one client address (any usernames) before the address is locked out
MAX_FAILED_PER_CLIENT = 30
LOCK_MINUTES = 15
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")
#: A valid argon2 hash of a random string: compared against when the user does not exist, so a
#: wrong username takes as long as a wrong password.
_DUMMY = "$argon2id$v=19$m=65536,t=3,p=4$YGj/NYvb2dNC5u4JREryZA$6x5dHqL9rbfroVpT+Lwvc72GGjuRyqCNLPDV878dJE8"


def parse_jurisdiction(code: object) -> Jurisdiction:
    """An account's jurisdiction, any kind from province to village or a police station. An invalid code is
    refused as :class:`InvalidAccount` carrying the common Chinese-first message."""
    try:
        return Jurisdiction.parse(code)
    except BadInput as exc:
        raise InvalidAccount(exc.message) from None


def _now() -> datetime:
    from common.clock import utcnow

    return utcnow()


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: str
    jurisdiction: Jurisdiction
    active: bool
    is_demo: bool

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def policy(self, policies=None) -> RolePolicy:
        return policy_for(self.role, policies)

    @property
    def actor(self) -> str:
        """How this user is named in the audit log and in alert events."""
        return f"{self.username}（{self.display_name}）"


def _user(row) -> User:
    return User(int(row.id), row.username, row.display_name, row.role, Jurisdiction.parse(row.jurisdiction),
                bool(row.active), bool(row.is_demo))


class UserStore:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _now):
        self.engine = engine
        self.clock = clock

    def add(self, username: str, display_name: str, *, role: str, jurisdiction: str, password: str,
            is_demo: bool = False) -> User:
        if not _USERNAME.match(str(username or "")):
            raise InvalidAccount(f"用户名无效 / username {username!r}: use 3-64 letters, digits, '.', '_' or '-', "
                                 f"starting with a letter or digit.")
        if role not in ROLES:
            policy_for(role)  # raises with the allowed roles
        j = parse_jurisdiction(jurisdiction)
        if not str(display_name or "").strip():
            raise InvalidAccount("显示名不能为空 / display_name is empty; give the person's name and unit.")
        now = self.clock()
        with self.engine.begin() as conn:
            if conn.execute(sa.select(users.c.id).where(users.c.username == username)).first():
                raise DuplicateUser(f"用户已存在 / user {username!r} already exists; choose another username or "
                                    f"use `weimeng users passwd`.")
            uid = conn.execute(sa.insert(users).values(
                username=username, display_name=display_name.strip(), role=role, jurisdiction=j.code,
                password_hash=hash_password(password), active=True, is_demo=bool(is_demo), failed_logins=0,
                created_at=now, updated_at=now)).inserted_primary_key
        assert uid is not None  # an INSERT always returns its key
        return self.get(int(uid[0]))

    def get(self, user_id: int) -> User:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
        if row is None:
            raise UserNotFound(f"user id {user_id} not found.")
        return _user(row)

    def by_username(self, username: str) -> User:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == username)).first()
        if row is None:
            raise UserNotFound(f"用户不存在 / user {username!r} not found; list users with `weimeng users list`.")
        return _user(row)

    def list(self) -> list[User]:
        with self.engine.connect() as conn:
            return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.username))]

    def exists(self, username: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(users.c.id).where(users.c.username == username)).first() is not None

    def authenticate(self, username: str, password: str, *, client: str | None = None) -> User:
        """The user, or :class:`LoginFailed` (one message for unknown user and wrong password).

        Failures are counted per (username, client address) and per client address, for unknown
        usernames exactly as for real ones: the lock-out tells nothing about which accounts exist, and
        failures from one address cannot lock the account for anyone logging in from another.
        """
        now = to_utc(self.clock())
        name = str(username or "")[:64]
        client = str(client or "unknown")[:100]
        pair, source = f"u:{name.lower()}|c:{client}", f"c:{client}"
        failure: LoginFailed | None = None
        row = None
        with self.engine.begin() as conn:  # the counter update commits even when the login fails
            locked = self._locked_until(conn, (pair, source), now)
            if locked is not None:
                raise AccountLocked(f"登录失败次数过多，请 {LOCK_MINUTES} 分钟后重试 / too many failed logins; "
                                    f"locked until {locked:%H:%M} UTC.")
            row = conn.execute(sa.select(users).where(users.c.username == name)).first()
            if row is None:
                check_password(_DUMMY, password or "")  # a wrong username takes as long as a wrong password
                ok = False
            else:
                ok = check_password(row.password_hash, password or "") and bool(row.active)
            if not ok or row is None:
                self._count_failure(conn, pair, MAX_FAILED, now)
                self._count_failure(conn, source, MAX_FAILED_PER_CLIENT, now)
                failure = LoginFailed("用户名或密码错误 / wrong username or password.")
            else:
                conn.execute(sa.delete(login_throttle).where(login_throttle.c.key == pair))
                values: dict[str, object] = {"failed_logins": 0, "locked_until": None, "last_login_at": self.clock()}
                if needs_rehash(row.password_hash):
                    values["password_hash"] = hash_password(password)
                conn.execute(sa.update(users).where(users.c.id == row.id).values(**values))
        if failure is not None or row is None:
            raise failure or LoginFailed("用户名或密码错误 / wrong username or password.")
        return _user(row)

    @staticmethod
    def _locked_until(conn, keys, now: datetime) -> datetime | None:
        rows = conn.execute(sa.select(login_throttle.c.locked_until).where(login_throttle.c.key.in_(keys))).all()
        until = [to_utc(r.locked_until) for r in rows if r.locked_until is not None]
        until = [u for u in until if u > now]
        return max(until) if until else None

    @staticmethod
    def _count_failure(conn, key: str, limit: int, now: datetime) -> None:
        row = conn.execute(sa.select(login_throttle).where(login_throttle.c.key == key)).first()
        window = timedelta(minutes=LOCK_MINUTES)
        if row is None or row.first_failed_at is None or to_utc(row.first_failed_at) + window < now:
            failures, first = 1, now
        else:
            failures, first = int(row.failures) + 1, to_utc(row.first_failed_at)
        values = {"failures": failures, "first_failed_at": first, "locked_until": None}
        if failures >= limit:
            values = {"failures": 0, "first_failed_at": None, "locked_until": now + window}
        if row is None:
            conn.execute(sa.insert(login_throttle).values(key=key, **values))
        else:
            conn.execute(sa.update(login_throttle).where(login_throttle.c.key == key).values(**values))

    def set_password(self, username: str, password: str) -> int:
        """Change the password and end every session of the user (in one transaction); returns how many
        sessions were ended."""
        h = hash_password(password)
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(users.c.id).where(users.c.username == username)).first()
            if row is None:
                raise UserNotFound(f"用户不存在 / user {username!r} not found.")
            conn.execute(sa.update(users).where(users.c.id == row.id)
                         .values(password_hash=h, failed_logins=0, locked_until=None, updated_at=now))
            conn.execute(sa.delete(login_throttle).where(login_throttle.c.key.like(f"u:{username.lower()}|%")))
            return int(conn.execute(sa.update(sessions).where(sessions.c.user_id == row.id,
                                                             sessions.c.revoked_at.is_(None))
                                    .values(revoked_at=now)).rowcount or 0)

    def set_active(self, username: str, active: bool) -> None:
        with self.engine.begin() as conn:
            n = conn.execute(sa.update(users).where(users.c.username == username)
                             .values(active=bool(active), updated_at=self.clock())).rowcount
        if n != 1:
            raise UserNotFound(f"用户不存在 / user {username!r} not found.")
