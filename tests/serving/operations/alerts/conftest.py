"""Fixtures for the alert/push/inbox tests: a tiny simulated world, and an alert store on each backend.

Every store-backed test runs twice: on SQLite (a fresh migrated file) and on PostgreSQL
(127.0.0.1:5432, trust auth; one database ``weimeng_alerts_test_<random>`` per session, created,
migrated once, emptied before each test, dropped at the end). PostgreSQL runs are marked ``service``
and skip with a message when the server or the driver is missing.
"""

from __future__ import annotations

import shutil
from datetime import datetime

import pytest

from serving.operations.alerts import AlertStore, Directory
from serving.operations.alerts.db import make_engine, upgrade
from serving.operations.alerts.models import Base
from tests._postgres import temporary_database
from tests._shared import migrated_sqlite

from .helpers import Clock

BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql", marks=pytest.mark.service)]


# -- the world ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def alerts_world(small_world):
    return small_world              # the session's one small world (tests/conftest.py)


@pytest.fixture(scope="session")
def world_tables(alerts_world):
    from features.store import EventStore

    es = EventStore.open(alerts_world, progress=False)
    return {t: es.table(t).reset_index(drop=True) for t in ("persons", "addresses", "grids", "staff")}


@pytest.fixture(scope="session")
def directory(world_tables):
    return Directory.from_frames(**world_tables)


# -- databases -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    return migrated_sqlite(tmp_path_factory.mktemp("alerts_db") / "template.db")


@pytest.fixture(scope="session")
def pg_database():
    with temporary_database("weimeng_alerts_test") as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


def _empty(engine) -> None:
    with engine.begin() as conn:  # DELETE is much faster than TRUNCATE on tiny tables
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "alerts.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
        engine = make_engine(url)
        _empty(engine)
        engine.dispose()
        yield url


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 1, 8, 0, 0))


@pytest.fixture
def store(engine, directory, clock):
    return AlertStore(engine, directory=directory, clock=clock)
