"""The alert funnel reads the store's aware-UTC columns the same way on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.clock import utcnow
from common.records import Explanation, RuleHitView, ScoredPerson
from tests._postgres import temporary_database


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"),
                        pytest.param("postgresql", id="postgresql", marks=pytest.mark.service)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'alerts.db'}"
    else:
        with temporary_database("weimeng_funnel_times") as url:
            yield url


def test_funnel_hours_and_window_are_the_same_on_both_backends(store_url, small_store):
    from monitoring.funnel import alert_funnel
    from serving.operations.alerts import AlertStore, Directory, upgrade
    from serving.operations.push.config import PushConfig
    from serving.operations.push.worker import PushWorker, build_adapters

    upgrade(store_url)
    created = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    now = [created]
    store = AlertStore.open(store_url, directory=Directory.from_event_store(small_store), clock=lambda: now[0])
    pids = small_store.population("2024-10-01").head(3).tolist()
    hit = RuleHitView("RD002", "2", "repeat_dispute", "orange", False, "近7天因同一纠纷报警3次")
    store.ingest([ScoredPerson(person_id=p, as_of=datetime(2026, 11, 1), probability=0.2, level="orange",
                               categories=("repeat_dispute",), explanation=Explanation("近期反复报警", (hit,)),
                               ruleset_version="r1", model_version="1", catalog_version="c1",
                               snapshot_time=created) for p in pids])
    now[0] = created + timedelta(hours=5)
    first, second = store.review_queue()[:2]
    store.dismiss(first.id, by="reviewer01", reason="测试：已化解")
    store.approve(second.id, by="reviewer01", reason="测试：事实清楚，推送走访")
    worker = PushWorker(store.engine, build_adapters(store.engine, PushConfig()), clock=lambda: now[0])
    worker.run(drain=True, poll_seconds=0.01)
    # the window is read in UTC: 08:00Z is inside [08:00, 08:01) and outside [00:00, 08:00)
    f = alert_funnel(store.engine, small_store, "2026-11-01 08:00", "2026-11-01 08:01", stale_days=1,
                     now=utcnow() + timedelta(days=2))  # the local inbox stamps its items with the wall clock
    assert len(f.alerts) == 3 and f.totals()["reviewed"] == 2 and f.totals()["delivered"] == 1
    assert f.median_hours("review_hours") == pytest.approx(5.0)
    assert set(f.stale["alert_id"]) == {second.id}     # delivered 2 days before "now", never acknowledged
    fresh = alert_funnel(store.engine, small_store, "2026-11-01 08:00", "2026-11-01 08:01", stale_days=1)
    assert fresh.stale.empty
    assert alert_funnel(store.engine, small_store, "2026-11-01", "2026-11-01 08:00").alerts.empty
    store.engine.dispose()
