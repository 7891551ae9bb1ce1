"""The audit log is append-only and hash-chained: edits, deletions and rewrites are detected."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from serving.operations import audit
from serving.operations.alerts.db import make_engine, upgrade
from serving.operations.audit import AuditTampered, AuditWriteError
from tests._postgres import temporary_database


def _fill(engine, n=5):
    for i in range(n):
        audit.record(engine, f"user{i}", "case.view", f"alert:{i}", {"person_id": f"P{i:06d}", "note": "查看"})


def _drop_triggers(engine):
    """What a database administrator could do: the chain must still tell."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_log_append_only ON audit_log")


def test_a_fresh_chain_verifies(engine):
    _fill(engine)
    r = audit.verify(engine)
    assert r.ok and r.entries == 5 and r.head_seq == 5
    assert [e.seq for e in audit.entries(engine)] == [5, 4, 3, 2, 1]
    assert audit.entries(engine, subject="alert:3")[0].detail == {"person_id": "P000003", "note": "查看"}


def test_update_and_delete_are_refused_by_the_database(engine):
    _fill(engine, 2)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_log SET actor = 'someone else' WHERE seq = 1")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_log WHERE seq = 2")


def test_an_edited_entry_is_detected(engine):
    _fill(engine)
    _drop_triggers(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_log SET detail = '{\"person_id\":\"P999999\"}' WHERE seq = 3")
    r = audit.verify(engine)
    assert not r.ok
    assert any(p.startswith("#3:") and "edited" in p for p in r.problems)
    with pytest.raises(AuditTampered, match="TAMPERED"):
        audit.verify(engine, strict=True)


def test_a_deleted_entry_is_detected(engine):
    _fill(engine)
    _drop_triggers(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_log WHERE seq = 2")
    r = audit.verify(engine)
    assert not r.ok and any("missing" in p for p in r.problems)


def test_a_deleted_tail_is_detected_by_the_head(engine):
    _fill(engine)
    _drop_triggers(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_log WHERE seq = 5")
    r = audit.verify(engine)
    assert not r.ok and any(p.startswith("audit_head") for p in r.problems)


def test_a_rewritten_chain_is_caught_by_a_published_head(engine):
    _fill(engine)
    published = audit.head(engine)[1]
    _drop_triggers(engine)
    with engine.begin() as conn:  # rewrite everything consistently, as an insider with the algorithm could
        conn.exec_driver_sql("DELETE FROM audit_log")
        conn.exec_driver_sql("UPDATE audit_head SET seq = 0, hash = '" + "0" * 64 + "'")
    _fill(engine, 3)
    assert audit.verify(engine).ok  # internally consistent ...
    r = audit.verify(engine, expected_head=published)
    assert not r.ok and any("rewritten" in p for p in r.problems)  # ... but not the chain we published


def test_record_in_a_session_rolls_back_with_it(engine):
    from sqlalchemy.orm import Session

    with pytest.raises(RuntimeError), Session(engine) as s, s.begin():
        audit.record(s, "reviewer", "case.decide", "alert:1", {"decision": "approve"})
        raise RuntimeError("the audited act failed")
    assert audit.verify(engine).entries == 0


def test_bad_arguments_say_what_to_give(engine):
    with pytest.raises(AuditWriteError, match="give a non-empty string"):
        audit.record(engine, "", "case.view", "alert:1")
    with pytest.raises(AuditWriteError, match="give a SQLAlchemy Session, Connection or Engine"):
        audit.record("sqlite://", "a", "case.view", "alert:1")


def test_concurrent_writers_keep_one_chain(engine):
    def work(k):
        for i in range(10):
            audit.record(engine, f"w{k}", "case.view", f"alert:{i}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r = audit.verify(engine)
    assert r.ok and r.entries == 40


_acts = st.lists(st.tuples(st.sampled_from(["apikey:k1 push", "reviewer01", "审核员"]),
                           st.sampled_from(["api.explain", "api.score", "case.view"]),
                           st.text(min_size=1, max_size=30).filter(str.strip),
                           st.dictionaries(st.sampled_from(["key_id", "endpoint", "n"]),
                                           st.one_of(st.integers(), st.text(max_size=8)), max_size=3)),
                 min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(acts=_acts, split=st.integers(min_value=0, max_value=12))
def test_a_batched_append_writes_the_same_chain_as_one_append_per_act(tmp_path_factory, acts, split):
    from datetime import UTC, datetime, timedelta

    at = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)
    # each act its own time (a request's), as the scoring service's write-behind hands them over
    acts = [(*a, at + timedelta(milliseconds=7 * i)) for i, a in enumerate(acts)]
    chains = []
    for batched in (False, True):
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('chain')}/a.db")
        upgrade(engine)
        try:
            audit.record(engine, "admin", "login.ok", "user:admin", at=at)        # an existing head
            if batched:
                audit.record_many(engine, acts[:split], at=at)
                audit.record_many(engine, acts[split:], at=at)
            else:
                for actor, action, subject, detail, when in acts:
                    audit.record(engine, actor, action, subject, detail, at=when)
            assert audit.verify(engine).ok
            chains.append(sorted(audit.entries(engine, limit=100), key=lambda e: e.seq))
        finally:
            engine.dispose()
    assert [(e.seq, e.hash, e.prev_hash) for e in chains[0]] == [(e.seq, e.hash, e.prev_hash) for e in chains[1]]
    assert [e.at for e in chains[1][1:]] == [a[4] for a in acts]
    assert len(chains[1]) == len(acts) + 1


def test_a_batched_append_checks_every_act_before_writing_any(engine):
    with pytest.raises(AuditWriteError):
        audit.record_many(engine, [("a", "api.score", "person:1", {}), ("a", "", "person:2", {})])
    assert audit.head(engine)[0] == 0


def test_observe_versions_records_changes_once(engine):
    assert len(audit.observe_versions(engine, model_version="7", ruleset_version="rules-1")) == 2
    assert audit.observe_versions(engine, model_version="7", ruleset_version="rules-1") == []
    added = audit.observe_versions(engine, model_version="8")
    assert [e.action for e in added] == ["model.promotion"] and added[0].detail["previous"] == "7"


def test_cli_verify_catches_a_tampered_entry(engine):
    from weimeng.commands.console import app

    _fill(engine)
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    r = runner.invoke(app, ["audit", "verify", "--url", url])
    assert r.exit_code == 0 and "intact" in r.output
    _drop_triggers(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_log SET actor = 'nobody' WHERE seq = 4")
    r = runner.invoke(app, ["audit", "verify", "--url", url])
    assert r.exit_code == 1 and "TAMPERED" in r.output and "#4" in r.output


@pytest.mark.service
def test_tampering_is_detected_on_postgresql():
    with temporary_database("weimeng_audit_test") as url:
        _tamper_on(make_engine(url))


def _tamper_on(engine):
    try:
        upgrade(engine)
        _fill(engine)
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM audit_log WHERE seq = 2")
        _drop_triggers(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE audit_log SET subject = 'alert:999' WHERE seq = 2")
        r = audit.verify(engine)
        assert not r.ok and any(p.startswith("#2:") for p in r.problems)
    finally:
        engine.dispose()


# -- checkpoints outside the database: truncation and wipes ------------------------------------------

def _cli(url, *args):
    from weimeng.commands.console import app

    return CliRunner().invoke(app, ["audit", *args, "--url", url])


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("WEIMENG_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_a_cut_tail_with_a_rewound_head_is_caught_by_a_plain_verify(engine, home):
    _fill(engine)
    url = engine.url.render_as_string(hide_password=False)
    first = _cli(url, "verify")
    assert first.exit_code == 0 and "首次校验" in first.output          # no checkpoint yet: one is written
    assert (home / "audit" / "checkpoints.jsonl").is_file()
    assert oct((home / "audit" / "checkpoint.key").stat().st_mode)[-3:] == "600"
    _drop_triggers(engine)
    with engine.begin() as conn:  # delete the last two entries and rewind the head: internally consistent
        prev = conn.exec_driver_sql("SELECT hash FROM audit_log WHERE seq = 3").scalar()
        conn.exec_driver_sql("DELETE FROM audit_log WHERE seq > 3")
        conn.exec_driver_sql(f"UPDATE audit_head SET seq = 3, hash = '{prev}'")
    assert audit.verify(engine).ok                                    # the chain alone cannot tell
    r = _cli(url, "verify")
    assert r.exit_code == 1 and "TAMPERED" in r.output and "#5" in r.output


def test_a_wiped_log_is_caught_by_a_plain_verify(engine, home):
    _fill(engine, 4)
    url = engine.url.render_as_string(hide_password=False)
    assert _cli(url, "checkpoint").exit_code == 0
    _drop_triggers(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_log")
        conn.exec_driver_sql("UPDATE audit_head SET seq = 0, hash = '" + "0" * 64 + "'")
    r = _cli(url, "verify")
    assert r.exit_code == 1 and "wiped" in r.output


def test_a_rewritten_chain_is_caught_by_the_checkpoint_without_flags(engine, home):
    _fill(engine, 3)
    url = engine.url.render_as_string(hide_password=False)
    assert _cli(url, "verify").exit_code == 0
    _drop_triggers(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_log")
        conn.exec_driver_sql("UPDATE audit_head SET seq = 0, hash = '" + "0" * 64 + "'")
    _fill(engine, 3)                                                 # same length, other entries
    r = _cli(url, "verify")
    assert r.exit_code == 1 and "rewritten" in r.output


def test_a_forged_checkpoint_is_refused(engine, home):
    import json

    from serving.operations.audit.anchor import CheckpointStore, verify_against

    _fill(engine, 3)
    store = CheckpointStore(home / "audit")
    cp = store.append(engine)
    line = json.loads(store.path.read_text(encoding="utf-8"))
    line["seq"] = 1                                                  # an insider rewinds the checkpoint too
    store.path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    result, anchor = verify_against(engine, store)
    assert anchor is None and not result.ok and any("bad signature" in p for p in result.problems)
    assert cp is not None and cp.seq == 3
