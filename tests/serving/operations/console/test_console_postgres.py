"""The console's queries on PostgreSQL (the production store): queue with filters, scope refusal,
case page, an approval with its outbox rows and audit entry, and concurrent audit writers."""

from __future__ import annotations

import secrets
import threading

import pytest
import sqlalchemy as sa

from serving.operations import audit
from serving.operations.alerts.db import make_engine, upgrade
from serving.operations.alerts.models import Delivery

from .kit import add_users, csrf_from, login, seed_alerts

pytestmark = pytest.mark.service


@pytest.fixture
def pg_engine():
    psycopg = pytest.importorskip("psycopg", reason="psycopg (the project's test extra) is needed for PostgreSQL")
    try:
        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3",
                                autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc}")
    name = f"weimeng_console_test_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_console_on_postgresql(pg_engine, console_world, counties):
    from fastapi.testclient import TestClient

    from serving.operations.console import ConsoleSettings, create_app

    a, b = counties
    alerts = seed_alerts(pg_engine, console_world, a, b)
    add_users(pg_engine, a, b)
    with TestClient(create_app(ConsoleSettings(), engine=pg_engine, world=console_world)) as c:
        r = login(c, "reviewer-a")
        csrf = csrf_from(r.text)
        assert {i["alert_id"] for i in c.get("/api/queue").json()["items"]} == set(alerts[a])
        fam = c.get("/api/queue?category=family_emotion&status=all").json()["items"]
        assert all("family_emotion" in i["categories"] for i in fam)
        assert c.get(f"/api/cases/{alerts[b][0]}").status_code == 404
        assert c.get(f"/cases/{alerts[a][0]}").status_code == 200
        r = c.post(f"/cases/{alerts[a][0]}/decision", data={"decision": "approve", "reason": "多次报警，批准走访",
                                                             "csrf_token": csrf})
        assert r.status_code == 200 and "已批准推送" in r.text
    with pg_engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Delivery)
                           .where(Delivery.alert_id == alerts[a][0])) >= 1
    assert audit.entries(pg_engine, action="case.decide")[0].subject == f"alert:{alerts[a][0]}"

    def work(k):
        for i in range(10):
            audit.record(pg_engine, f"w{k}", "case.view", f"alert:{i}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert audit.verify(pg_engine).ok
