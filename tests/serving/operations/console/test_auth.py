"""Accounts: argon2 hashes, one message for wrong user or password, lock-out, jurisdiction codes,
sessions that expire (idle and absolute) and end at logout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from common.places import Jurisdiction, Place
from serving.operations.auth import (
    AccountLocked,
    DuplicateUser,
    InvalidAccount,
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
    with pytest.raises(InvalidAccount, match="^辖区代码无效 / jurisdiction '4401' is not valid; use 510000"):
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


@pytest.mark.parametrize("code, kind", [("510000", "province"), ("510100", "prefecture"), ("510107", "county"),
                                        ("510107001", "township"), ("510107001002", "village"),
                                        ("s510107001", "station")])
def test_accounts_may_be_scoped_to_any_kind_of_jurisdiction(engine, code, kind):
    user = UserStore(engine).add(f"scoped-{kind}", "审核员", role="reviewer", jurisdiction=code,
                                 password="long-enough-pw")
    assert (user.jurisdiction.kind, user.jurisdiction.code) == (kind, code.upper())
    assert UserStore(engine).get(user.id).jurisdiction == user.jurisdiction


@pytest.mark.parametrize("code", ["4401", "440100", "51010700", "5101070010", "S51010700", "X510107001", ""])
def test_invalid_jurisdiction_codes_are_refused_chinese_first(engine, code):
    with pytest.raises(InvalidAccount) as exc:
        UserStore(engine).add("bad-scope", "审核员", role="reviewer", jurisdiction=code, password="long-enough-pw")
    assert str(exc.value).startswith("辖区代码无效 / jurisdiction")


def test_jurisdiction_levels_and_coverage():
    prov, pref, county, station = (Jurisdiction.parse(c) for c in ("510000", "510100", "510107", "S510107001"))
    assert (prov.kind, pref.kind, county.kind, station.kind) == ("province", "prefecture", "county", "station")
    assert pref.covers(Place("hukou", "510107001001-0001"))
    assert not pref.covers(Place("hukou", "510201001001-0001"))
    assert not county.covers(Place("hukou", "510104001001-0001", station_id="S510104001"))
    assert station.covers(Place("hukou", "510107001001-0001", station_id="S510107001"))
    assert not station.covers(Place("hukou", "510107001001-0001", station_id="S510107002"))
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


def test_unknown_usernames_lock_out_exactly_like_real_ones(engine):
    """429 for a real account and 401 for an unknown one would tell an attacker which accounts exist."""
    clock = Clock()
    users = UserStore(engine, clock=clock)
    users.add("r3x", "审核员", role="reviewer", jurisdiction="510107", password="long-enough-pw")
    outcomes = {}
    for name in ("r3x", "nobody-here"):
        for _ in range(5):
            with pytest.raises(LoginFailed):
                users.authenticate(name, "wrong-password", client="10.0.0.9")
        with pytest.raises(AccountLocked) as info:
            users.authenticate(name, "whatever-password", client="10.0.0.9")
        outcomes[name] = (type(info.value), str(info.value))
    assert outcomes["r3x"] == outcomes["nobody-here"]


def test_failures_from_one_address_do_not_lock_the_account_for_another(engine):
    clock = Clock()
    users = UserStore(engine, clock=clock)
    users.add("r4x", "审核员", role="reviewer", jurisdiction="510107", password="long-enough-pw")
    for _ in range(5):
        with pytest.raises(LoginFailed):
            users.authenticate("r4x", "wrong-password", client="attacker")
    with pytest.raises(AccountLocked):
        users.authenticate("r4x", "long-enough-pw", client="attacker")
    assert users.authenticate("r4x", "long-enough-pw", client="the-reviewer").username == "r4x"


def test_one_address_is_limited_across_usernames(engine):
    from serving.operations.auth.users import MAX_FAILED_PER_CLIENT

    clock = Clock()
    users = UserStore(engine, clock=clock)
    users.add("r5x", "审核员", role="reviewer", jurisdiction="510107", password="long-enough-pw")
    for i in range(MAX_FAILED_PER_CLIENT):
        with pytest.raises(LoginFailed):
            users.authenticate(f"guess{i}", "wrong-password", client="sprayer")
    with pytest.raises(AccountLocked):
        users.authenticate("r5x", "long-enough-pw", client="sprayer")
    clock.now += timedelta(minutes=16)
    assert users.authenticate("r5x", "long-enough-pw", client="sprayer").username == "r5x"


def test_a_new_password_ends_every_session(engine):
    from serving.operations.auth.errors import SessionExpired
    from serving.operations.auth.sessions import SessionStore

    users = UserStore(engine)
    user = users.add("r6x", "审核员", role="reviewer", jurisdiction="510107", password="long-enough-pw")
    store = SessionStore(engine)
    token, _ = store.create(user)
    assert store.get(token).user.username == "r6x"
    assert users.set_password("r6x", "another-long-pw") == 1
    with pytest.raises(SessionExpired):
        store.get(token)
