"""Fixtures of the console tests: one small simulated world per session, a fresh migrated SQLite
store per test (copied from a template), alerts in two counties and accounts for each role."""

from __future__ import annotations

import shutil

import pytest

from serving.operations.alerts.db import make_engine
from tests._shared import migrated_sqlite

from .kit import add_users, seed_alerts, two_counties


@pytest.fixture(scope="session")
def console_world(small_world):
    from features.store import EventStore
    from serving.operations.console import World

    return World(event_store=EventStore.open(small_world, progress=False))   # the session's one small world


@pytest.fixture(scope="session")
def counties(console_world):
    return two_counties(console_world)


@pytest.fixture(scope="session")
def db_template(tmp_path_factory):
    return migrated_sqlite(tmp_path_factory.mktemp("console_db") / "template.db")


@pytest.fixture
def engine(db_template, tmp_path):
    path = tmp_path / "console.db"
    shutil.copy(db_template, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def seeded_template(db_template, console_world, counties, tmp_path_factory):
    """A migrated store with alerts in two counties and one account per role, built once."""
    path = tmp_path_factory.mktemp("console_seeded") / "seeded.db"
    shutil.copy(db_template, path)
    eng = make_engine(f"sqlite:///{path}")
    a, b = counties
    alerts = seed_alerts(eng, console_world, a, b)
    add_users(eng, a, b)
    with eng.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    eng.dispose()
    return path, alerts


@pytest.fixture
def seeded(seeded_template, console_world, tmp_path):
    """(engine, world, {county: [alert ids]}) with accounts reviewer-a/-b/-pref/-prov, analyst, leader, admin."""
    template, alerts = seeded_template
    path = tmp_path / "seeded.db"
    shutil.copy(template, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng, console_world, alerts
    eng.dispose()


@pytest.fixture
def client(seeded, tmp_path):
    from fastapi.testclient import TestClient

    from serving.operations.console import ConsoleSettings, create_app

    engine, world, _ = seeded
    reports = tmp_path / "reports"
    (reports / "2026-11").mkdir(parents=True)
    (reports / "2026-11" / "leadership.html").write_text("<html><body><h1>月度报告</h1></body></html>",
                                                         encoding="utf-8")
    (tmp_path / "secret.html").write_text("secret", encoding="utf-8")
    app = create_app(ConsoleSettings(reports_dir=reports), engine=engine, world=world)
    with TestClient(app) as c:
        yield c
