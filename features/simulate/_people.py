"""Synthetic people: residence and household registration (often different), and hidden traits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.simulate._geography import Geography
from features.simulate._params import SimParams


@dataclass
class People:
    table: pd.DataFrame            # the persons contract (what the records hold)
    res_grid: np.ndarray           # residence grid index per person
    res_addr: np.ndarray           # residence address index
    county: np.ndarray             # residence county code (str)
    village: np.ndarray
    age: np.ndarray                # age at the start date
    male: np.ndarray
    migrant: np.ndarray
    proneness: np.ndarray          # hidden: how often the person gets into disputes
    vulnerability: np.ndarray      # hidden: log-hazard offset
    mentally_ill: np.ndarray       # hidden unless registered
    registered: np.ndarray         # has care records


def pseudonymous_ids(n: int, rng: np.random.Generator, prefix: str = "P") -> np.ndarray:
    """Unique, non-sequential ids: an odd-multiplier bijection of a random permutation."""
    if n == 0:
        return np.zeros(0, dtype="<U9")
    salt = int(rng.integers(0, 2**32))
    x = (rng.permutation(n).astype(np.uint64) * np.uint64(2654435761) + np.uint64(salt)) % np.uint64(2**32)
    return np.char.add(prefix, np.char.zfill(np.char.upper(np.array([format(int(v), "x") for v in x])), 8))


def build_people(n: int, geo: Geography, grid_pops: np.ndarray, params: SimParams,
                 rng: np.random.Generator) -> People:
    grids = geo.grids
    res_grid = np.repeat(np.arange(len(grids)), grid_pops)[:n]
    if len(res_grid) < n:  # rounding guard
        res_grid = np.concatenate([res_grid, rng.integers(0, len(grids), n - len(res_grid))])
    rng.shuffle(res_grid)
    res_addr = geo.grid_addr_start[res_grid] + (rng.random(n) * geo.grid_addr_count[res_grid]).astype(int)

    is_urban = grids["is_urban"].to_numpy()[res_grid]
    county = grids["county_code"].to_numpy()[res_grid]
    village = grids["village_code"].to_numpy()[res_grid]

    # Migrant workers mostly live in urban communities and are registered in rural villages elsewhere.
    p_mig = np.where(is_urban, params.migrant_share * 1.6, params.migrant_share * 0.45)
    migrant = rng.random(n) < p_mig
    local_mover = (~migrant) & (rng.random(n) < params.local_mover_share)

    hukou_addr = res_addr.copy()
    rural_grids = np.flatnonzero(~grids["is_urban"].to_numpy())
    pool = rural_grids if len(rural_grids) else np.arange(len(grids))
    w = grid_pops[pool] / grid_pops[pool].sum()
    mig_idx = np.flatnonzero(migrant)
    hg = rng.choice(pool, size=len(mig_idx), p=w)
    hukou_addr[mig_idx] = geo.grid_addr_start[hg] + (rng.random(len(mig_idx)) * geo.grid_addr_count[hg]).astype(int)
    # Local movers: another grid of the same county (approximated by a nearby grid index).
    mov_idx = np.flatnonzero(local_mover)
    shift = rng.integers(-3, 4, len(mov_idx))
    mg = np.clip(res_grid[mov_idx] + shift, 0, len(grids) - 1)
    same_county = grids["county_code"].to_numpy()[mg] == county[mov_idx]
    mg = np.where(same_county, mg, res_grid[mov_idx])
    hukou_addr[mov_idx] = geo.grid_addr_start[mg] + (rng.random(len(mov_idx)) * geo.grid_addr_count[mg]).astype(int)

    age = np.clip(rng.normal(44, 16, n), 16, 92).astype(int)
    male = rng.random(n) < 0.51
    start = pd.Timestamp(params.start_date)
    years_here = np.where(migrant, rng.exponential(3.0, n), rng.exponential(14.0, n))
    years_here = np.minimum(years_here, np.maximum(age - 1, 0.1))
    residence_since = (start - pd.to_timedelta((years_here * 365.25).astype(int), unit="D")).normalize()

    # Dispute proneness: working age and migrants a little more exposed (labour disputes).
    age_w = np.where((age >= 22) & (age <= 62), 1.0, 0.55)
    proneness = rng.lognormal(-params.proneness_sigma ** 2 / 2, params.proneness_sigma, n) * age_w
    vulnerability = rng.normal(-params.vulnerability_sigma ** 2 / 2, params.vulnerability_sigma, n)
    mentally_ill = rng.random(n) < params.mental_illness_share
    registered = mentally_ill & (rng.random(n) < params.mental_illness_registered)

    addr_codes = geo.addresses["address_code"].to_numpy()
    table = pd.DataFrame({
        "person_id": pseudonymous_ids(n, rng),
        "birth_year": (start.year - age).astype("int64"),
        "sex": np.where(male, "M", "F"),
        "hukou_address_code": addr_codes[hukou_addr],
        "residence_address_code": addr_codes[res_addr],
        "residence_since": residence_since,
    })
    return People(table, res_grid, res_addr, county, village, age, male, migrant | local_mover,
                  proneness, vulnerability, mentally_ill, registered)
