"""Shared fixtures: small simulated worlds, built once per session in a temp folder."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("WEIMENG_PROGRESS", "0")


@pytest.fixture(scope="session")
def small_world(tmp_path_factory):
    """A 6,000-person, one-year world (about a second to build)."""
    from features.simulate import simulate

    out = tmp_path_factory.mktemp("world_small")
    simulate(people=6000, days=365, seed=11, out=out, progress=False)
    return out


@pytest.fixture(scope="session")
def small_store(small_world):
    from features.store import EventStore

    return EventStore.open(small_world, progress=False)
