"""Shared fixtures: the one small simulated world, built once per session in a temp folder.

Every suite that needs a world (features, rules, scoring, alerts, console, browser) uses ``small_world``
(the folder) or ``small_store`` (an event store opened on it) instead of simulating its own."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("WEIMENG_PROGRESS", "0")


@pytest.fixture(scope="session")
def small_world(tmp_path_factory):
    """A 6,000-person, one-year world (a few seconds to build), shared by the whole session: read it, never write."""
    from features.simulate import simulate

    out = tmp_path_factory.mktemp("world_small")
    simulate(people=6000, days=365, seed=11, out=out, progress=False)
    return out


@pytest.fixture(scope="session")
def small_store(small_world):
    from features.store import EventStore

    return EventStore.open(small_world, progress=False)
