"""The weekly watch-list digest (本周关注名单): per cadre by routing, minimal, once per week, off by default.

Store-backed tests run on SQLite and PostgreSQL (the ``engine`` fixture); the hypothesis property runs on
SQLite only (many examples, each on a fresh copy of the migrated template).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.clock import beijing_week, to_utc
from common.records import Explanation, Factor, RuleHitView
from serving.operations import audit
from serving.operations.alerts import AlertStore
from serving.operations.alerts.db import make_engine
from serving.operations.inbox import create_app
from serving.operations.inbox.models import WatchDigest, WatchDigestEntry
from serving.operations.inbox.tokens import issue_inbox_token
from serving.operations.push.config import PushConfig, WatchDigestConfig
from serving.operations.push.digest import ROUTINE_ACTION, WatchDigestJob, digest_key

from .helpers import Clock, person_with_one_place, person_with_two_places, scored

# Monday 2026-11-30 09:00 Beijing (01:00 UTC): the digest is due (default: Monday from 08:00 Beijing).
MONDAY = datetime(2026, 11, 30, 1, 0, 0)
ENTRY_KEYS = {"person", "address", "places", "reasons", "action", "fallback_note"}


def watched(person_id: str, probability: float = 0.08, *, county: str = "510107", quote: bool = False):
    """A score that puts the person on the watch list (above the watch bar, outside the budget)."""
    base = scored(person_id, level="none", probability=probability)
    note = "记录中出现威胁言语“我要和他同归于尽”" if quote else "近30天因同一纠纷报警3次"
    hit = RuleHitView(rule_id="R01", rule_version="1", category="repeat_calls", level="low", urgent=False,
                      explanation=note)
    factors = (Factor(feature="calls_30d", label="近30天报警次数", value=3.0, contribution=0.4, direction="up",
                      phrase="近30天报警3次，风险上升"),
               Factor(feature="mediations_365d", label="近一年调解次数", value=1.0, contribution=-0.2,
                      direction="down", phrase="近一年调解1次，风险下降"))
    expl = Explanation(summary=f"无预警（因矛盾纠纷激化重复报警）：{note}；近30天报警3次，风险上升。",
                       rule_hits=(hit,), factors=factors, actions=())
    return replace(base, level="none", categories=(), explanation=expl,
                   extra={"watch": True, "county": county,
                          "thresholds": {"version": "th-1", "county": county, "budget_per_run": 3}})


def people(world_tables, directory, n_two=3, n_one=3) -> list[str]:
    return ([person_with_two_places(world_tables, directory, i) for i in range(n_two)]
            + [person_with_one_place(world_tables, directory, i) for i in range(n_one)])


def audited(engine, action: str, since: int) -> list:
    """Audit entries of ``action`` written after sequence number ``since`` (the PostgreSQL test database keeps
    the audit log across tests)."""
    return [e for e in audit.entries(engine, action=action, limit=100000) if e.seq > since]


@pytest.fixture
def mark(engine) -> int:
    from serving.operations.audit.verify import head

    h = head(engine)
    return h[0] if h else 0


@pytest.fixture
def monday_clock():
    return Clock(MONDAY)


@pytest.fixture
def watch_store(engine, directory, monday_clock):
    return AlertStore(engine, directory=directory, clock=monday_clock)


@pytest.fixture
def job(engine, directory, monday_clock):
    return WatchDigestJob(engine, directory, config=WatchDigestConfig(enabled=True), clock=monday_clock)


def digests(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(WatchDigest).order_by(WatchDigest.inbox_id))]


def entries_by_inbox(engine) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(WatchDigest.inbox_id, WatchDigestEntry.person_id, WatchDigestEntry.payload,
                                      WatchDigestEntry.position)
                            .join(WatchDigest, WatchDigest.id == WatchDigestEntry.digest_id)
                            .order_by(WatchDigest.inbox_id, WatchDigestEntry.position))
        for r in rows:
            out.setdefault(r.inbox_id, []).append({"person_id": r.person_id, "payload": r.payload,
                                                   "position": r.position})
    return out


# -- content: one list per cadre, by the push routing --------------------------------------------------
def test_each_cadre_gets_the_watched_people_of_the_grids_they_serve(watch_store, job, engine, directory,
                                                                    world_tables):
    pids = people(world_tables, directory)
    watch_store.record_watch([watched(p, 0.05 + i / 100) for i, p in enumerate(pids)])
    run = job.run_once()
    expected: dict[str, dict[str, tuple[str, ...]]] = {}
    for pid in pids:
        for rec in directory.route(pid).recipients:
            expected.setdefault(rec.inbox_id, {})[pid] = rec.places
    got = entries_by_inbox(engine)
    assert {i: {e["person_id"] for e in es} for i, es in got.items()} == {i: set(m) for i, m in expected.items()}
    assert run.delivered == len(expected) and run.people == sum(len(m) for m in expected.values())
    labels = {"hukou": "户籍地", "residence": "居住地"}
    for inbox_id, es in got.items():
        for e in es:
            assert e["payload"]["places"] == [labels[k] for k in expected[inbox_id][e["person_id"]]]
    # a two-place person reaches the staff of both grids, and those grids' staff differ
    two = pids[0]
    assert len({r.grid_id for r in directory.route(two).recipients}) == 2
    # highest risk first, without showing the risk
    order = {p: i for i, p in enumerate(sorted(pids, key=lambda p: -(0.05 + pids.index(p) / 100)))}
    for es in got.values():
        assert [order[e["person_id"]] for e in es] == sorted(order[e["person_id"]] for e in es)
        assert [e["position"] for e in es] == list(range(1, len(es) + 1))
    assert {d["delivery_key"] for d in digests(engine)} == {digest_key(beijing_week(MONDAY), i) for i in expected}


def test_the_payload_is_what_a_routine_visit_needs_and_nothing_more(watch_store, job, engine, directory,
                                                                    world_tables):
    pids = people(world_tables, directory, 2, 2)
    watch_store.record_watch([watched(p, 0.0731, county="510107", quote=True) for p in pids])
    job.run_once()
    got = entries_by_inbox(engine)
    assert got
    for es in got.values():
        for e in es:
            p = e["payload"]
            assert set(p) <= ENTRY_KEYS, set(p) - ENTRY_KEYS
            text = json.dumps(p, ensure_ascii=False)
            assert e["person_id"] not in text and "0.0731" not in text and "7.31" not in text
            assert "510107" not in text and "th-1" not in text and "rules-" not in text
            assert "同归于尽" not in text and "“" not in text                     # quoted speech cut out
            assert not re.search(r"\d{12}", text)                                # no address or division code
            assert p["person"].startswith("当事人（尾号") and p["person"].endswith(e["person_id"][-4:] + "）")
            assert "**" in p["address"] or "*" in p["address"]                  # house number masked
            assert p["action"] == ROUTINE_ACTION
            # the rule first, then the factor raising the risk; never the one lowering it
            assert p["reasons"] == ["记录中出现威胁言语", "近30天报警3次，风险上升"]
            assert all(len(r) <= 40 for r in p["reasons"])


def test_watch_reasons_come_from_the_explanation_not_its_sentence():
    from serving.operations.alerts.watch import watch_reasons

    expl = watched("P1", quote=True).explanation
    assert watch_reasons(expl) == ["记录中出现威胁言语", "近30天报警3次，风险上升"]
    assert watch_reasons(replace(expl, rule_hits=(), factors=expl.factors[1:])) == []   # only a lowering factor
    assert watch_reasons(None) == []
    long = replace(expl, rule_hits=(replace(expl.rule_hits[0], explanation="很长的理由" * 20),))
    assert [len(r) for r in watch_reasons(long)] == [40, len("近30天报警3次，风险上升")]


# -- idempotency and promotion ------------------------------------------------------------------------
def test_a_second_run_in_the_same_week_delivers_nothing_and_next_week_delivers_again(watch_store, job, engine,
                                                                                    directory, world_tables,
                                                                                    monday_clock, mark):
    pids = people(world_tables, directory, 2, 1)
    watch_store.record_watch([watched(p) for p in pids])
    first = job.run_once()
    assert first.delivered > 0
    monday_clock.advance(days=5, hours=10)                   # Saturday evening, same Beijing week
    again = job.run_once()
    assert again.delivered == 0 and again.already == first.delivered
    n = len(digests(engine))
    monday_clock.advance(days=2)                             # the next week
    nxt = job.run_once()
    assert nxt.delivered == first.delivered and len(digests(engine)) == 2 * n
    entries = audited(engine, "inbox.watch_digest", mark)
    assert len(entries) == 2 * n
    for e in entries:                                        # counts and the inbox, never a person
        assert e.actor == "system:watch-digest" and e.subject.startswith("inbox:")
        assert not set(pids) & set(json.dumps(e.detail, ensure_ascii=False).split('"'))


def test_a_watched_person_with_an_open_alert_is_left_out_and_one_alerted_later_disappears(
        watch_store, job, engine, directory, world_tables, monday_clock):
    a, b, c = (person_with_one_place(world_tables, directory, i) for i in range(3))
    watch_store.record_watch([watched(a), watched(b), watched(c)])
    [r] = watch_store.ingest([scored(a, level="orange")])        # an alert arrived through another path
    run = job.run_once()
    assert run.alerted == 1
    listed = {e["person_id"] for es in entries_by_inbox(engine).values() for e in es}
    assert a not in listed and {b, c} <= listed
    # b becomes an alert after the list went out: the inbox no longer shows b (b gets the alert)
    inbox_id = directory.route(b).recipients[0].inbox_id
    token = issue_inbox_token(engine, inbox_id, label="测试")
    h = {"Authorization": "Bearer " + token}
    with TestClient(create_app(engine)) as client:
        lst = client.get("/api/watch", headers=h).json()["lists"][0]
        before = lst["count"]
        d = client.get(f"/api/watch/{lst['digest_id']}", headers=h).json()
        pos_b = next(e["position"] for e in d["entries"] if e["person"].endswith(b[-4:] + "）"))
        watch_store.ingest([scored(b, level="yellow")])
        after = client.get("/api/watch", headers=h).json()["lists"][0]
        assert after["count"] == before - 1 and after["title"] == f"本周关注名单（{before - 1} 人）"
        d2 = client.get(f"/api/watch/{lst['digest_id']}", headers=h).json()
        assert pos_b not in [e["position"] for e in d2["entries"]]
        r2 = client.post(f"/api/watch/{lst['digest_id']}/entries/{pos_b}/visited", headers=h)
        assert r2.status_code == 409 and "已转为预警" in r2.json()["error"]["message"]
    # a dismissed alert is no longer open: next week the person is on the list again
    watch_store.dismiss(r.alert_id, by="审核民警", reason="核实无风险")
    monday_clock.advance(days=7)
    job.run_once()
    with engine.connect() as conn:
        week2 = set(conn.execute(sa.select(WatchDigestEntry.person_id).join(WatchDigest)
                                 .where(WatchDigest.week == beijing_week(monday_clock.now).isoformat())).scalars())
    assert a in week2 and b not in week2


_EXAMPLES = iter(range(10**6))


_STEP = st.one_of(
    st.tuples(st.just("run"), st.integers(0, 1), st.integers(0, 13 * 24)),     # which worker, hours into 2 weeks
    st.tuples(st.just("watch"), st.integers(0, 5), st.integers(0, 0)),          # one more person watched
    st.tuples(st.just("alert"), st.integers(0, 5), st.integers(0, 0)),          # a watched person becomes an alert
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(_STEP, min_size=1, max_size=12))
def test_property_repeated_and_interleaved_runs_deliver_each_cadre_one_list_per_week(
        steps, sqlite_template, tmp_path, directory, world_tables):
    path = tmp_path / f"example-{next(_EXAMPLES)}.db"            # a fresh migrated store per example
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        _check_runs(engine, steps, directory, world_tables)
    finally:
        engine.dispose()
        path.unlink()


def _lists(engine) -> dict[tuple[str, str], list[str]]:
    """(inbox, week) -> the people on that list, in order."""
    out: dict[tuple[str, str], list[str]] = {}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(WatchDigest.inbox_id, WatchDigest.week, WatchDigestEntry.person_id)
                            .join(WatchDigest, WatchDigest.id == WatchDigestEntry.digest_id)
                            .order_by(WatchDigestEntry.digest_id, WatchDigestEntry.position)).all()
    for inbox_id, week, pid in rows:
        out.setdefault((inbox_id, week), []).append(pid)
    return out


def _check_runs(engine, steps, directory, world_tables) -> None:
    pool = people(world_tables, directory, 3, 3)
    clock = Clock(MONDAY - timedelta(hours=9))                  # Monday 00:00 Beijing
    store = AlertStore(engine, directory=directory, clock=clock)
    workers = [WatchDigestJob(engine, directory, config=WatchDigestConfig(enabled=True), clock=clock)
               for _ in range(2)]
    watching: set[str] = set()
    alerted: set[str] = set()
    frozen: dict[tuple[str, str], list[str]] = {}               # a list, once delivered, never changes
    for kind, i, hours in steps:
        if kind == "watch":
            store.record_watch([watched(pool[i], 0.05 + i / 100)])
            watching.add(pool[i])
        elif kind == "alert" and pool[i] not in alerted:
            store.ingest([scored(pool[i], level="yellow")])
            alerted.add(pool[i])
        elif kind == "run":
            clock.now = to_utc(MONDAY - timedelta(hours=9)) + timedelta(hours=hours)
            week = beijing_week(clock.now).isoformat()
            before = _lists(engine)
            run = workers[i].run_once()
            again = workers[1 - i].run_once()                    # the other worker right after: nothing new
            assert again.delivered == 0 and run.week == beijing_week(clock.now)
            after = _lists(engine)
            new = {k: v for k, v in after.items() if k not in before}
            assert len(new) == run.delivered and all(k[1] == week for k in new)
            for ps in new.values():                          # nobody with an open alert is listed
                assert ps and not set(ps) & alerted and len(ps) == len(set(ps))
            for pid in watching - alerted:                       # everyone watched reaches every cadre of theirs
                for rec in directory.route(pid).recipients:
                    assert (rec.inbox_id, week) in after
                    if (rec.inbox_id, week) in new:
                        assert pid in after[(rec.inbox_id, week)]
            for key, ps in before.items():
                assert after[key] == ps
            frozen.update(after)
    final = _lists(engine)
    assert final == frozen
    rows = digests(engine)
    keys = [(d["inbox_id"], d["week"]) for d in rows]
    assert len(keys) == len(set(keys)) == len(final)            # one list per cadre per week
    assert len(audit.entries(engine, action="inbox.watch_digest", limit=10000)) == len(rows)
    for (inbox_id, _week), ps in final.items():                 # and only to the cadres routing reaches
        for pid in ps:
            assert inbox_id in {r.inbox_id for r in directory.route(pid).recipients}


# -- the inbox: one item that opens the list; 已走访 per entry, audited, scoped ----------------------------
def test_the_inbox_shows_one_item_that_opens_the_list_and_records_visits(watch_store, job, engine, directory,
                                                                          world_tables, mark):
    pids = people(world_tables, directory, 2, 3)
    watch_store.record_watch([watched(p) for p in pids])
    job.run_once()
    got = entries_by_inbox(engine)
    mine, other = sorted(got, key=lambda i: -len(got[i]))[:2]
    token = issue_inbox_token(engine, mine, label="测试")
    h = {"Authorization": "Bearer " + token}
    with TestClient(create_app(engine)) as client:
        page = client.get("/").text
        assert "openDigest" in page and "已走访" in page and "不逐人推送" in page
        lists = client.get("/api/watch", headers=h).json()
        assert lists["count"] == 1
        item = lists["lists"][0]
        n = len(got[mine])
        assert item["title"] == f"本周关注名单（{n} 人）" and item["count"] == n and item["unread"] is True
        assert client.get("/api/items", headers=h).json()["count"] == 0     # not one item per person
        d = client.get(f"/api/watch/{item['digest_id']}", headers=h).json()
        assert len(d["entries"]) == n and all(e["visited_text"] == "未走访" for e in d["entries"])
        shown = json.dumps(d, ensure_ascii=False)
        assert not any(p in shown for p in pids)
        for e in d["entries"]:                                # text a cadre reads: Chinese, no raw values
            for v in (e["person"], e["address"], e["action"], e["visited_text"], *e["places"], *e["reasons"]):
                assert not re.search(r"None|True|False|\[|\]|\{|\}|_", v), v
        pos = d["entries"][0]["position"]
        v1 = client.post(f"/api/watch/{item['digest_id']}/entries/{pos}/visited", headers=h).json()
        v2 = client.post(f"/api/watch/{item['digest_id']}/entries/{pos}/visited", headers=h).json()
        assert v1["visited"] and v1["visited_text"].startswith("已走访（") and v2["visited_text"] == v1["visited_text"]
        assert client.get("/api/watch", headers=h).json()["lists"][0]["visited"] == 1
        # another cadre's list is not found, for reading and for marking
        other_id = next(x["id"] for x in digests(engine) if x["inbox_id"] == other)
        for r in (client.get(f"/api/watch/{other_id}", headers=h),
                  client.post(f"/api/watch/{other_id}/entries/1/visited", headers=h)):
            assert r.status_code == 404 and r.json()["error"]["kind"] == "not_found"
        assert client.post(f"/api/watch/{item['digest_id']}/entries/999/visited", headers=h).status_code == 404
        assert client.get("/api/watch").status_code == 401
    visits = audited(engine, "inbox.watch_visit", mark)
    assert len(visits) == 2 and visits[0].subject == f"watch_digest:{item['digest_id']}"
    assert {v.detail["inbox_id"] for v in visits} == {mine} and {v.detail["repeat"] for v in visits} == {False, True}
    reads = audited(engine, "inbox.watch_digest_read", mark)
    assert len(reads) == 1 and len(reads[0].detail["person_ids"]) == n
    with engine.connect() as conn:
        visited = conn.execute(sa.select(WatchDigestEntry.visited_by).where(WatchDigestEntry.visited_at.is_not(None))
                               ).scalars().all()
    assert visited == [f"cadre:{mine}"]


def test_an_older_week_is_titled_by_its_monday(watch_store, job, engine, directory, world_tables, monday_clock):
    watch_store.record_watch([watched(person_with_one_place(world_tables, directory, 0))])
    job.run_once()
    inbox_id = digests(engine)[0]["inbox_id"]
    monday_clock.advance(days=7)
    from serving.operations.inbox import InboxService
    from serving.operations.inbox.tokens import Identity

    svc = InboxService(engine, clock=monday_clock)
    [old] = svc.digests(Identity(inbox_id, None, None))
    assert old["title"] == "11月30日起一周关注名单（1 人）"


# -- schedule and configuration ------------------------------------------------------------------------
def test_the_schedule_is_weekly_in_beijing_time(engine, directory):
    clock = Clock(datetime(2026, 11, 29, 23, 59))                 # Monday 07:59 Beijing
    job = WatchDigestJob(engine, directory, config=WatchDigestConfig(enabled=True, weekday=1, hour=8), clock=clock)
    assert not job.due()
    clock.advance(minutes=1)                                      # Monday 08:00 Beijing
    assert job.due()
    job.run_once()
    clock.advance(days=3)
    assert not job.due()                                          # done for this week
    clock.advance(days=4)
    assert job.due()                                              # next Monday
    assert beijing_week(to_utc("2026-11-29T15:59:59Z")).isoformat() == "2026-11-23"   # Sunday 23:59:59 Beijing
    assert beijing_week(to_utc("2026-11-29T16:00:00Z")).isoformat() == "2026-11-30"   # Monday 00:00 Beijing


def test_the_digest_is_off_by_default_and_its_settings_are_checked(tmp_path):
    from serving.operations.alerts.errors import ConfigurationError

    assert PushConfig().watch_digest.enabled is False
    assert PushConfig.from_mapping({}).watch_digest == WatchDigestConfig()
    cfg = PushConfig.from_mapping({"watch_digest": {"enabled": True, "weekday": 5, "hour": 17}})
    assert (cfg.watch_digest.enabled, cfg.watch_digest.weekday, cfg.watch_digest.hour) == (True, 5, 17)
    with pytest.raises(ConfigurationError, match="weekday"):
        PushConfig.from_mapping({"watch_digest": {"enabled": True, "weekday": 8}})
    with pytest.raises(ConfigurationError, match="unknown key"):
        PushConfig.from_mapping({"watch_digest": {"enable": True}})


def test_the_cli_refuses_when_off_and_delivers_once_when_on(db_url, engine, directory, world_tables, alerts_world,
                                                            tmp_path):
    from typer.testing import CliRunner

    from weimeng.commands.alerts import app

    store = AlertStore(engine, directory=directory)
    store.record_watch([watched(p) for p in people(world_tables, directory, 1, 2)])
    runner = CliRunner()
    off = runner.invoke(app, ["alerts", "watch-digest", "--url", db_url, "--data", str(alerts_world)])
    assert off.exit_code == 2 and "未开启" in off.output and not digests(engine)
    worker = runner.invoke(app, ["push-worker", "--url", db_url, "--drain", "--poll", "0.01", "--escalate-every", "0"])
    assert worker.exit_code == 0, worker.output
    assert not digests(engine)                                   # the worker does nothing of it by default
    cfg = tmp_path / "push.yaml"
    cfg.write_text("watch_digest:\n  enabled: true\n", encoding="utf-8")
    args = ["alerts", "watch-digest", "--url", db_url, "--data", str(alerts_world), "--config", str(cfg)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    n = len(digests(engine))
    assert n > 0 and f"本次送达 {n} 份" in first.output
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and "本次送达 0 份" in second.output and len(digests(engine)) == n
    for out in (off.output, first.output, second.output):
        assert not re.search(r"None|True|False|Traceback", out)


def test_the_migration_matches_the_models(engine):
    from serving.operations.alerts.db import current_revision, downgrade, head_revision, upgrade
    from tests._shared import schema_diff

    mine = {"watch_digests", "watch_digest_entries"}
    assert schema_diff(engine, mine) == []
    assert current_revision(engine) == head_revision() == "b3e9d7c1f250"
    downgrade(engine, "f5a8c3d91b42")
    assert not mine & set(sa.inspect(engine).get_table_names())
    upgrade(engine)
    assert mine <= set(sa.inspect(engine).get_table_names())


def test_the_reasons_migration_fills_the_entries_already_listed_from_their_summaries(engine):
    from serving.operations.alerts.db import downgrade, upgrade

    downgrade(engine, "a7c4e2d9f613")
    assert "reasons" not in {c["name"] for c in sa.inspect(engine).get_columns("watch_entries")}
    now = to_utc(MONDAY)
    summaries = {"P-old-1": "无预警（因矛盾纠纷激化重复报警）：记录中出现威胁言语“我要报复”；近30天报警3次，风险上升。",
                 "P-old-2": "无预警：当前未达到预警条件。", "P-old-3": None}
    with engine.begin() as conn:
        for pid, summary in summaries.items():
            conn.execute(sa.text("INSERT INTO watch_entries (person_id, county_code, probability, as_of, "
                                 "summary, listed_at, updated_at) VALUES (:p, '510107', 0.05, :t, :s, :t, :t)"),
                         {"p": pid, "t": now, "s": summary})
    try:
        upgrade(engine)
        with engine.connect() as conn:
            got = {r.person_id: r.reasons for r in conn.execute(
                sa.text("SELECT person_id, reasons FROM watch_entries WHERE person_id LIKE 'P-old-%'"))}
        got = {k: json.loads(v) if isinstance(v, str) else v for k, v in got.items()}
        assert got == {"P-old-1": ["记录中出现威胁言语", "近30天报警3次，风险上升"], "P-old-2": [], "P-old-3": []}
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM watch_entries WHERE person_id LIKE 'P-old-%'"))
