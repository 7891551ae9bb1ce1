"""Migrations match the models; the CLI migrates, runs the worker, and refuses a second SQLite worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from serving.operations.alerts import DatabaseNotMigrated
from serving.operations.alerts.db import (
    current_revision,
    database_url_from_env,
    downgrade,
    head_revision,
    make_engine,
    require_current,
    upgrade,
)
from serving.operations.alerts.models import Base
from tests._shared import schema_diff
from weimeng.commands.alerts import app

from .helpers import person_with_one_place, scored

ROOT = Path(__file__).resolve().parents[4]


def test_the_migrated_schema_matches_the_models(engine):
    assert schema_diff(engine, Base.metadata.tables) == []
    assert current_revision(engine) == head_revision()


def test_downgrade_and_upgrade_round_trip(engine):
    downgrade(engine, "base")
    assert current_revision(engine) is None
    with pytest.raises(DatabaseNotMigrated, match="run `weimeng db upgrade`"):
        require_current(engine)
    assert upgrade(engine) == head_revision()


def test_database_url_from_env():
    assert database_url_from_env({"WEIMENG_DATABASE_URL": "postgresql://u@h/db"}) == "postgresql+psycopg://u@h/db"
    assert database_url_from_env({}).endswith("weimeng-data/weimeng.db")


def test_unsupported_url_is_a_clear_error():
    from serving.operations.alerts import ConfigurationError

    with pytest.raises(ConfigurationError, match="unsupported database URL 'mysql://x'"):
        make_engine("mysql://x")


def test_cli_db_upgrade_current_and_worker(tmp_path, world_tables, directory):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    r = runner.invoke(app, ["db", "current", "--url", url])
    assert r.exit_code == 1 and "未初始化" in r.output
    r = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert r.exit_code == 0 and head_revision() in r.output
    assert runner.invoke(app, ["db", "current", "--url", url]).exit_code == 0

    from serving.operations.alerts import AlertStore

    store = AlertStore.open(url, directory=directory)
    [a] = store.ingest([scored(person_with_one_place(world_tables, directory))])
    store.approve(a.alert_id, by="r", reason="x")
    r = runner.invoke(app, ["push-worker", "--url", url, "--drain", "--poll", "0.01"])
    assert r.exit_code == 0, r.output
    assert "delivered=" in r.output and store.get(a.alert_id).state == "delivered"
    token = runner.invoke(app, ["alerts", "issue-token", "--url", url, "--inbox-id", "o-x"]).output.strip()
    assert token.startswith("wm_")
    assert "没有死信" in runner.invoke(app, ["alerts", "dead-letters", "--url", url]).output
    assert "expired: 0" in runner.invoke(app, ["alerts", "sweep", "--url", url]).output
    r = runner.invoke(app, ["push-worker", "--url", url, "--channels", "inbox,wechat", "--drain"])
    assert r.exit_code == 2 and "no 'wechat:' section" in r.output


def test_cli_refuses_an_unmigrated_database(tmp_path):
    r = CliRunner().invoke(app, ["push-worker", "--url", f"sqlite:///{tmp_path / 'none.db'}", "--drain"])
    assert r.exit_code == 2 and "weimeng db upgrade" in r.output


def test_a_second_sqlite_worker_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'one.db'}"
    upgrade(make_engine(url))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEIMENG_")}
    cmd = [sys.executable, "-m", "weimeng.commands.alerts", "push-worker", "--url", url, "--poll", "0.05"]
    first = subprocess.Popen(cmd + ["--max-seconds", "20"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        import time

        lock = Path(f"{tmp_path / 'one.db'}.push-worker.lock")
        for _ in range(200):
            if lock.exists():
                break
            time.sleep(0.05)
        time.sleep(0.3)
        second = subprocess.run(cmd + ["--drain"], cwd=ROOT, env=env, capture_output=True, timeout=60)
        assert second.returncode == 2 and "SQLite supports one worker" in second.stderr.decode()
    finally:
        first.terminate()
        first.wait(20)
    assert first.returncode == 0                                 # SIGTERM: stops cleanly
