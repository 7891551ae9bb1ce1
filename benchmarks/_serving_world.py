"""The serving benchmarks' shared set-up: a simulated world and a registered 300-tree model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ServingWorld", "serving_world"]


@dataclass(frozen=True)
class ServingWorld:
    world: Path        # the world directory
    store: object      # its features.store.EventStore
    as_of: str         # the day after the last recorded incident (YYYY-MM-DD)
    tracking_uri: str  # the MLflow registry holding the model


def serving_world(tmp: Path, people: int, days: int, seed: int) -> ServingWorld:
    """Simulate a world under ``tmp`` and register a 300-tree model (max depth 6, 31 leaves) trained on four
    quarterly snapshots of its last year, the model both serving benchmarks measure."""
    import pandas as pd

    from features.simulate import simulate
    from features.store import EventStore
    from tests.serving.scoring.modelkit import register_model

    world = tmp / "world"
    simulate(people=people, days=days, seed=seed, out=world, progress=False)
    store = EventStore.open(world, progress=False)
    end = pd.Timestamp(store.table("incidents")["recorded_at"].max()).normalize()
    as_of = (end + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    dates = [end - pd.DateOffset(months=k) for k in (12, 9, 6, 3)]
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    register_model(store, uri, dates, rounds=300, max_depth=6, num_leaves=31)
    return ServingWorld(world, store, as_of, uri)
