"""Fixtures: a small world, a registered model in a temp MLflow store, a started ScoringApp, API keys."""

from __future__ import annotations

import logging
import os

import pandas as pd
import pytest

from tests.serving.scoring.modelkit import register_model

AS_OF = "2024-12-01"
DATES = ["2024-09-01", "2024-10-01", "2024-11-01", "2024-12-01"]


@pytest.fixture(scope="session")
def serving_home(tmp_path_factory):
    return tmp_path_factory.mktemp("serving_home")


@pytest.fixture(scope="session")
def tracking_uri(serving_home, small_store):
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = f"sqlite:///{serving_home / 'mlflow.db'}"
    register_model(small_store, uri, DATES, version_note="v1")
    return uri


@pytest.fixture(scope="session")
def settings(serving_home, small_world, tracking_uri):
    from serving.scoring.settings import ServingSettings

    return ServingSettings.load(None, overrides={
        "home": str(serving_home), "data_dir": str(small_world), "tracking_uri": tracking_uri,
        "default_as_of": AS_OF, "watch_seconds": 0.2, "registry_poll_seconds": 0})


@pytest.fixture(scope="session")
def sink_calls():
    return []


@pytest.fixture(scope="session")
def audit_calls():
    return []


@pytest.fixture(scope="session")
def app(settings, sink_calls, audit_calls):
    from common.records import SinkReport
    from serving.scoring.app import ScoringApp

    def record(scored):  # an AlertSink that keeps what it was handed
        sink_calls.extend(scored)
        return SinkReport(filed=len(scored))

    a = ScoringApp.start(settings, sink=record, watch=False, audit=audit_calls.extend)
    yield a
    a.close()


@pytest.fixture(scope="session")
def keys(app):
    """name -> key: province (510000), one prefecture (510100 成都市), admin."""
    ks = app.keys
    return {
        "province": ks.create("省平台", ["510000"]),
        "chengdu": ks.create("成都市平台", ["510100"]),
        "admin": ks.create("运维", ["510000"], admin=True),
    }


@pytest.fixture(scope="session")
def population(app):
    return app.source.population_frame(pd.Timestamp(AS_OF))


@pytest.fixture(scope="session")
def split_ids(app, population):
    """Ids in and out of 成都市 (5101), for scope tests."""
    inside, outside = [], []
    for pid in population["person_id"]:
        codes = [p.address_code for p in app.source.places(pid) if p.address_code]
        (inside if any(c.startswith("5101") for c in codes) else outside).append(pid)
    assert inside and outside
    return inside, outside
