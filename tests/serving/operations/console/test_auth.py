"""Accounts: argon2 hashes, one message for wrong user or password, lock-out, jurisdiction codes,
sessions that expire (idle and absolute) and end at logout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from serving.operations.auth import (
    AccountLocked,
    DuplicateUser,
    InvalidAccount,
    Jurisdiction,
    LoginFailed,
    SessionExpired,
    SessionStore,
    UserStore,
)
from serving.operations.auth.models import users as users_table


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)

    def __call__(self):
        return self.now


def test_passwords_are_stored_as_argon2id_hashes(engine):
    UserStore(engine).add("reviewer01", "审核员", role="reviewer", jurisdiction="510107", password="long-enough-pw")
    with engine.connect() as conn:
        stored = conn.scalar(sa.select(users_table.c.password_hash))
    assert stored.startswith("$argon2id$") and "long-enough-pw" not in stored


def test_bad_accounts_are_refused_with_the_fix(engine):
    users = UserStore(engine)
    with pytest.raises(InvalidAccount, match="use at least 10"):
        users.add("r1x", "审核员", role="reviewer", jurisdiction="510107", password="short")
    with pytest.raises(InvalidAccount, match="role 'boss' is not allowed; use one of: reviewer"):
        users.add("r1x", "审核员", role="boss", jurisdiction="510107", password="long-enough-pw")
    with pytest.raises(InvalidAccount, match="jurisdiction '4401' is not allowed; use 510000"):
        users.add("r1x", "审核员", role="reviewer", jurisdiction="4401", password="long-enough-pw")
    users.add("r1x", "审核员", role="reviewer", jurisdiction="510107", password="long-enough-pw")
    with pytest.raises(DuplicateUser, match="already exists"):
        users.add("r1x", "审核员", role="reviewer", jurisdiction="510107", password="long-enough-pw")


def test_wrong_user_and_wrong_password_look_the_same_and_lock_out(engine):
    clock = Clock()
    users = UserStore(engine, clock=clock)
    users.add("r2x", "审核员", role="reviewer", jurisdiction="510107", password="long-enough-pw")
    with pytest.raises(LoginFailed) as unknown:
        users.authenticate("nobody", "long-enough-pw")
    with pytest.raises(LoginFailed) as wrong:
        users.authenticate("r2x", "wrong-password")
    assert str(unknown.value) == str(wrong.value)
    for _ in range(4):
        with pytest.raises(LoginFailed):
            users.authenticate("r2x", "wrong-password")
    with pytest.raises(AccountLocked, match="locked until"):
        users.authenticate("r2x", "long-enough-pw")  # even the right password, while locked
    clock.now += timedelta(minutes=16)
    assert users.authenticate("r2x", "long-enough-pw").username == "r2x"


def test_jurisdiction_levels_and_coverage():
    prov, pref, county, station = (Jurisdiction.parse(c) for c in ("510000", "510100", "510107", "S510107001"))
    assert (prov.level, pref.level, county.level, station.level) == ("province", "prefecture", "county", "station")
    assert pref.covers(county_code="510107", station_id=None)
    assert not pref.covers(county_code="510201", station_id=None)
    assert not county.covers(county_code="510104", station_id="S510104001")
    assert station.covers(county_code="510107", station_id="S510107001")
    assert not station.covers(county_code="510107", station_id="S510107002")
    assert pref.contains(county) and pref.contains(station) and not county.contains(pref)


def test_sessions_expire_when_idle_and_at_the_absolute_limit(engine):
    clock = Clock()
    users = UserStore(engine, clock=clock)
    user = users.add("r3x", "审核员", role="reviewer", jurisdiction="510107", password="long-enough-pw")
    store = SessionStore(engine, idle_minutes=30, max_hours=1, clock=clock)
    token, s = store.create(user)
    assert store.get(token).user.username == "r3x"
    clock.now += timedelta(minutes=31)
    with pytest.raises(SessionExpired, match="expired"):
        store.get(token)
    token, s = store.create(user)
    clock.now += timedelta(minutes=25)
    store.get(token)
    clock.now += timedelta(minutes=25)
    store.get(token)                      # active all along ...
    clock.now += timedelta(minutes=25)
    with pytest.raises(SessionExpired):   # ... but past the absolute limit of one hour
        store.get(token)


def test_logout_and_disabling_end_sessions(engine):
    users = UserStore(engine)
    user = users.add("r4x", "审核员", role="reviewer", jurisdiction="510107", password="long-enough-pw")
    store = SessionStore(engine)
    token, s = store.create(user)
    store.revoke(s.id)
    with pytest.raises(SessionExpired, match="log in again"):
        store.get(token)
    token, s = store.create(user)
    users.set_active("r4x", False)
    with pytest.raises(SessionExpired, match="disabled"):
        store.get(token)
    with engine.connect() as conn:  # the cookie token itself is never stored, only its hash
        stored = conn.exec_driver_sql("SELECT token_hash FROM console_sessions").scalars().all()
    assert stored and token not in stored
