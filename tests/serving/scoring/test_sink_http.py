"""Over HTTP: an urgent event posted to a running `weimeng serve` (default configuration: the alert store
sink) is in the review console's queue of the person's county within a second, and not in another
county's (marked `service`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._shared import free_port, migrated_sqlite
from tests.serving.scoring.conftest import AS_OF

pytestmark = pytest.mark.service

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def store_url(tmp_path_factory):
    return f"sqlite:///{migrated_sqlite(tmp_path_factory.mktemp('sink_http') / 'alerts.db')}"


@pytest.fixture(scope="module")
def served(settings, keys, small_world, tracking_uri, serving_home, store_url, tmp_path_factory):
    """`weimeng serve` (the CLI, default alert_sink) on a free port; yields its URL."""
    import httpx

    tmp = tmp_path_factory.mktemp("sink_http_srv")
    config = tmp / "serving.yaml"
    config.write_text(f"default_as_of: '{AS_OF}'\nregistry_poll_seconds: 0\n", encoding="utf-8")
    env = {**os.environ, "WEIMENG_HOME": str(serving_home), "WEIMENG_DATABASE_URL": store_url,
           "WEIMENG_PROGRESS": "0", "BENTOML_DO_NOT_TRACK": "true"}
    log = tmp / "serve.log"
    proc = None
    for _ in range(3):  # BentoML's internal ports can be taken between its pick and its bind
        port = free_port()
        cmd = [sys.executable, "-m", "weimeng.cli", "serve", "--port", str(port), "--config", str(config),
               "--data", str(small_world), "--tracking-uri", tracking_uri]
        with open(log, "w") as fh:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 90
        while time.time() < deadline and proc.poll() is None:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        if proc.poll() is None and time.time() < deadline:
            break
        text = log.read_text()
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if "Address already in use" not in text:
            pytest.fail(f"weimeng serve did not become ready:\n{text[-3000:]}")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def console(store_url, small_store, tmp_path_factory):
    """The review console in-process on the same store, with one reviewer in each of two counties."""
    from fastapi.testclient import TestClient

    from serving.operations.alerts.db import make_engine
    from serving.operations.auth import UserStore
    from serving.operations.console import ConsoleSettings, World, create_app
    from tests.serving.operations.console.kit import PASSWORD, login, people_by_county, two_counties

    world = World(event_store=small_store)
    county_a, county_b = two_counties(world)
    engine = make_engine(store_url)
    users = UserStore(engine)
    users.add("reviewer-a", "甲县审核民警", role="reviewer", jurisdiction=county_a, password=PASSWORD)
    users.add("reviewer-b", "乙县审核民警", role="reviewer", jurisdiction=county_b, password=PASSWORD)
    reports = tmp_path_factory.mktemp("sink_http_reports")
    app = create_app(ConsoleSettings(reports_dir=reports), engine=engine, world=world)
    clients = {}
    with TestClient(app) as a, TestClient(app) as b:
        assert login(a, "reviewer-a").status_code in (200, 303)
        assert login(b, "reviewer-b").status_code in (200, 303)
        clients = {"a": a, "b": b}
        yield clients, people_by_county(world)[county_a], county_a
    engine.dispose()


def _queue_ids(client) -> set[int]:
    r = client.get("/api/queue")
    assert r.status_code == 200, r.text
    return {item["alert_id"] for item in r.json()["items"]}


def test_an_urgent_event_reaches_the_right_countys_console_queue_within_a_second(served, keys, console):
    import httpx

    clients, people, county_a = console
    pid = people[0]
    before_a, before_b = _queue_ids(clients["a"]), _queue_ids(clients["b"])
    event = {"incident_id": "I-SINK-HTTP-1", "person_id": pid, "role": "party",
             "event_time": "2024-11-30T22:40:00+08:00", "category": "family", "flag_threat": True,
             "note": "扬言要同归于尽"}
    r = httpx.post(served + "/v1/event", json={"event": event}, headers={"X-API-Key": keys["province"]}, timeout=30)
    answered = time.monotonic()  # the sink runs inside the request: from here the alert must be visible
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["urgent"] is True and body["level"] == "red" and body["sink"] == "ok", body
    (alert_id,) = body["sink_report"]["alert_ids"]
    seen: set[int] = set()
    while True:
        seen = _queue_ids(clients["a"]) - before_a
        if alert_id in seen or time.monotonic() - answered > 1.0:
            break
        time.sleep(0.05)
    assert alert_id in seen, f"alert {alert_id} not in county {county_a}'s queue within a second ({seen})"
    items = {i["alert_id"]: i for i in clients["a"].get("/api/queue").json()["items"]}
    assert items[alert_id]["urgent"] is True and items[alert_id]["state"] == "created"
    assert county_a in items[alert_id]["counties"]
    assert alert_id not in _queue_ids(clients["b"]) and _queue_ids(clients["b"]) == before_b


def test_the_service_reports_its_sink_open(served):
    import httpx

    status = httpx.post(served + "/v1/status", json={}, timeout=30).json()
    assert status["alert_sink"] == {"configured": True, "open": True, "error": None}
