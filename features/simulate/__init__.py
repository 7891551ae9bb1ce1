"""The synthetic world: Sichuan geography, people, disputes, messy records and the oracle.

>>> from features.simulate import simulate
>>> summary = simulate(people=2000, days=60, seed=7, out="/tmp/weimeng-doctest-world", progress=False)
>>> sorted(summary["tables"])[:3]
['addresses', 'care_records', 'dispute_parties']
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from features.contracts import TABLES
from features.errors import SimulationConfigError
from features.progress import progress_task
from features.simulate._dynamics import run_dynamics
from features.simulate._geography import build_geography
from features.simulate._params import SCENARIOS, SimParams
from features.simulate._people import build_people
from features.simulate._records import build_tables

__all__ = ["simulate", "oracle_scores", "load_world_meta", "SimParams", "GENERATOR_VERSION"]

GENERATOR_VERSION = "1.1"  # 1.1: a burn-in year before the window
ORACLE_FILE = Path("oracle") / "hazard.parquet"


def simulate(people: int, days: int, seed: int, out: str | Path, params: SimParams | None = None,
             progress: bool | None = None, **overrides) -> dict:
    """Generate a world of ``people`` persons over ``days`` days into ``out``; return a summary.

    Deterministic for a seed. ``overrides`` replace single :class:`SimParams` fields
    (e.g. ``start_date="2025-01-01"``).
    """
    if people < 100:
        raise SimulationConfigError(f"people={people}: a world needs at least 100 people.")
    if not 30 <= days <= 3660:
        raise SimulationConfigError(f"days={days}: choose between 30 and 3660 days.")
    unknown = set(overrides) - set(SimParams.__dataclass_fields__)
    if unknown:
        raise SimulationConfigError(f"unknown simulation parameter(s) {sorted(unknown)}; "
                                    "see features/simulate/_params.py")
    params = replace(params or SimParams(), **overrides)
    if not 0 <= params.burn_in_days <= 3660:
        raise SimulationConfigError(f"burn_in_days={params.burn_in_days}: choose between 0 and 3660 days.")
    if params.scenario not in SCENARIOS:
        raise SimulationConfigError(f"scenario={params.scenario!r}: choose one of {list(SCENARIOS)}.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    geo, grid_pops = build_geography(people, params, rng)
    persons = build_people(people, geo, grid_pops, params, rng)
    # The dynamics run over burn-in + window from the burn-in's first day (scenario days stay relative
    # to the window); people are described as of the window's start.
    burn = params.burn_in_days
    start = pd.Timestamp(params.start_date)
    history = replace(params, start_date=str((start - pd.Timedelta(days=burn)).date()),
                      scenario_day=None if params.scenario_day is None else params.scenario_day + burn)
    total = days + burn
    with progress_task("模拟纠纷与警情 (simulating days)", total=total, enabled=progress) as advance:
        raw = run_dynamics(persons, total, history, rng, progress=lambda t: advance(1))
    tables = build_tables(raw, persons, geo, history, rng, total)
    if params.grassroots:  # own random stream: the rest of the world is the same with the channels on or off
        from features.simulate._grassroots import grassroots_tables

        tables.update(grassroots_tables(raw, persons.table, tables, history.start_date,
                                        np.random.default_rng([seed, 18]), total))
    t_sim = time.perf_counter() - t0

    with progress_task("写入 Parquet (writing tables)", total=len(tables) + 1, enabled=progress) as advance:
        for name, df in tables.items():
            assert name in TABLES, name
            df.to_parquet(out / f"{name}.parquet", index=False)
            advance(1)
        oracle = _oracle_frame(raw, persons.table["person_id"].to_numpy(), history, first_day=burn)
        (out / ORACLE_FILE).parent.mkdir(exist_ok=True)
        oracle.to_parquet(out / ORACLE_FILE, index=False)
        advance(1)

    involved = tables["incident_parties"]["person_id"].nunique()
    summary = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "people": people,
        "days": days,
        "start_date": str(start.date()),
        "end_date": str((start + pd.Timedelta(days=days)).date()),
        "burn_in_days": burn,
        "history_start": history.start_date,
        "background_hazard": params.background_hazard,
        "tables": {name: int(len(df)) for name, df in tables.items()},
        "involved_people": int(involved),
        "outcomes": int(len(tables["outcomes"])),
        "outcome_kinds": tables["outcomes"]["kind"].value_counts().to_dict(),
        "seconds": round(time.perf_counter() - t0, 2),
        "seconds_simulation": round(t_sim, 2),
        "params": _jsonable(asdict(params)),
        "scenario": {"name": params.scenario, "start_day": params.scenario_start(days),
                     "start_date": str((start + pd.Timedelta(days=params.scenario_start(days))).date()),
                     "prefecture": params.scenario_prefecture} if params.scenario != "none" else None,
        "simulated": True,
    }
    (out / "world.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return summary


def _jsonable(d):
    return json.loads(json.dumps(d, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))


def _oracle_frame(raw, person_ids: np.ndarray, params: SimParams, first_day: int = 0) -> pd.DataFrame:
    """Daily hazards per person (summed over disputes and crisis), only where above background, from
    ``first_day`` (the window's first day) on."""
    start = np.datetime64(params.start_date, "D")
    keep = raw.z_day >= first_day
    df = pd.DataFrame({"p": raw.z_person[keep], "d": raw.z_day[keep], "full": raw.z_full[keep].astype(np.float64),
                       "rec": raw.z_records[keep].astype(np.float64)})
    agg = df.groupby(["p", "d"], sort=True).sum().reset_index()
    bg = params.background_hazard
    return pd.DataFrame({
        "person_id": person_ids[agg["p"].to_numpy()],
        "date": (start + agg["d"].to_numpy().astype("timedelta64[D]")).astype("datetime64[ns]"),
        "hazard_full": (agg["full"].to_numpy() + bg).astype(np.float32),
        "hazard_records": (agg["rec"].to_numpy() + bg).astype(np.float32),
    })


def load_world_meta(data_dir: str | Path) -> dict | None:
    """``world.json`` of a simulated world, or None for real data."""
    path = Path(data_dir) / "world.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def oracle_scores(data_dir: str | Path, as_of, horizon_days: int = 90,
                  person_ids=None) -> pd.DataFrame:
    """Oracle scores at a snapshot, for evaluation only (never an input to features).

    The score is the probability of an outcome within the horizon if the hazard of the last day
    before ``as_of`` persisted: ``1 - exp(-horizon * h)``. ``oracle_full`` uses the true hazard,
    ``oracle_records`` the part the records could reveal (the best achievable).
    """
    meta = load_world_meta(data_dir)
    if meta is None:
        raise SimulationConfigError(f"{data_dir}: not a simulated world (no world.json); no oracle exists.")
    day = pd.Timestamp(as_of).normalize() - pd.Timedelta(days=1)
    oracle = pd.read_parquet(Path(data_dir) / ORACLE_FILE, filters=[("date", "==", day)])
    bg = float(meta["background_hazard"])
    if person_ids is None:
        person_ids = pd.read_parquet(Path(data_dir) / "persons.parquet", columns=["person_id"])["person_id"]
    out = pd.DataFrame({"person_id": pd.Series(person_ids, dtype=object).to_numpy()})
    h = oracle.set_index("person_id")
    full = out["person_id"].map(h["hazard_full"]).fillna(bg).to_numpy(float)
    rec = out["person_id"].map(h["hazard_records"]).fillna(bg).to_numpy(float)
    out["oracle_full"] = 1 - np.exp(-horizon_days * full)
    out["oracle_records"] = 1 - np.exp(-horizon_days * rec)
    return out
