"""Synthetic townships, villages/communities, grids, stations, staff and addresses under real counties.

Counties and prefectures are real (GB/T 2260, ``features/data``); everything below county level is
synthetic but follows the code conventions: 9-digit township codes (街道 0xx, 镇 1xx, 乡 2xx) and
12-digit village codes (社区居委会 0xx-1xx, 村委会 2xx-3xx).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.divisions import counties
from features.simulate._params import SimParams

_SYLL = list("东西南北中新安和平兴华福龙凤金石桥河山水林青云泉花桃李柳松竹梅马牛白红黄杨高长永乐富民顺德仁义")
_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘")


@dataclass
class Geography:
    grids: pd.DataFrame
    stations: pd.DataFrame
    staff: pd.DataFrame
    addresses: pd.DataFrame
    #: per grid: first address row and number of addresses (grids are contiguous in ``addresses``)
    grid_addr_start: np.ndarray
    grid_addr_count: np.ndarray


def _name(rng: np.random.Generator, n: int, k: int = 2) -> list[str]:
    picks = rng.integers(0, len(_SYLL), size=(n, k))
    return ["".join(_SYLL[i] for i in row) for row in picks]


def _openid(rng: np.random.Generator, n: int) -> np.ndarray:
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
    chars = alphabet[rng.integers(0, len(alphabet), size=(n, 27))]
    return np.array(["o" + "".join(r) for r in chars])


def build_geography(n_people: int, params: SimParams, rng: np.random.Generator) -> tuple[Geography, np.ndarray]:
    """Lay out grids for ``n_people`` residents; return the geography and each grid's population."""
    cty = counties()
    weights = cty["population_10k"].to_numpy(float)
    per_county = rng.multinomial(n_people, weights / weights.sum())

    grid_rows, station_rows, grid_pops = [], [], []
    for ci in np.flatnonzero(per_county):
        c = cty.iloc[ci]
        people = int(per_county[ci])
        n_grids = max(1, int(round(people / params.people_per_grid)))
        pops = rng.multinomial(people, np.full(n_grids, 1.0 / n_grids))
        gi = 0
        n_urban_t = n_rural_t = 0
        while gi < n_grids:
            urban = rng.random() < float(c["urban_share"])
            if urban:
                n_urban_t += 1
                t_seq, t_suffix = n_urban_t, "街道"
            else:
                n_rural_t += 1
                t_seq, t_suffix = 100 + n_rural_t, ("镇" if rng.random() < 0.7 else "乡")
            township_code = f"{c['code']}{t_seq:03d}"
            township_name = _name(rng, 1)[0] + t_suffix
            station_id = f"S{township_code}"
            station_rows.append((station_id, township_name.removesuffix("街道").removesuffix("镇").removesuffix("乡")
                                 + "派出所", township_code, c["code"]))
            n_villages = int(rng.integers(params.villages_per_township[0], params.villages_per_township[1] + 1))
            for v in range(n_villages):
                if gi >= n_grids:
                    break
                v_seq = (1 + v) if urban else (200 + v)
                village_code = f"{township_code}{v_seq:03d}"
                village_name = _name(rng, 1)[0] + ("社区" if urban else "村")
                k = int(rng.integers(params.grids_per_village[0], params.grids_per_village[1] + 1))
                for g in range(min(k, n_grids - gi)):
                    grid_rows.append((f"G{village_code}{g + 1:02d}", village_code, village_name, township_code,
                                      township_name, c["code"], c["prefecture_code"], urban, station_id))
                    grid_pops.append(int(pops[gi]))
                    gi += 1

    grids = pd.DataFrame(grid_rows, columns=["grid_id", "village_code", "village_name", "township_code",
                                             "township_name", "county_code", "prefecture_code", "is_urban",
                                             "station_id"])
    grid_pops = np.maximum(np.asarray(grid_pops), 1)
    grids["population"] = grid_pops
    stations = pd.DataFrame(station_rows, columns=["station_id", "name", "township_code", "county_code"])

    # Addresses: households per grid, house numbers running per village.
    n_house = np.maximum(1, np.ceil(grid_pops / params.household_size).astype(int))
    village_of = grids["village_code"].to_numpy()
    house_no = np.concatenate([np.arange(n) for n in n_house])
    # offset house numbers so that grids of one village do not collide
    first_in_village = ~pd.Series(village_of).duplicated().to_numpy()
    offsets = np.zeros(len(grids), dtype=int)
    running = 0
    for i in range(len(grids)):
        running = 0 if first_in_village[i] else running
        offsets[i] = running
        running += n_house[i]
    house_no = house_no + np.repeat(offsets, n_house) + 1
    grid_idx = np.repeat(np.arange(len(grids)), n_house)
    addresses = pd.DataFrame({
        "address_code": [f"{v}-{h:04d}" for v, h in zip(village_of[grid_idx], house_no, strict=True)],
        "grid_id": grids["grid_id"].to_numpy()[grid_idx],
        "village_code": village_of[grid_idx],
    })
    starts = np.concatenate([[0], np.cumsum(n_house)[:-1]])

    staff = _build_staff(grids, params, rng)
    return Geography(grids, stations, staff, addresses, starts, n_house), grid_pops


def _build_staff(grids: pd.DataFrame, params: SimParams, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    seq = 0

    def new_id(prefix: str) -> str:
        nonlocal seq
        seq += 1
        return f"{prefix}{seq:07d}"

    def person_name(role_label: str) -> str:
        return f"{_SURNAMES[rng.integers(len(_SURNAMES))]}某（{role_label}）"

    for g in grids.itertuples(index=False):
        for _ in range(1 + int(rng.random() < 0.25)):
            rows.append((new_id("W"), "grid_worker", g.grid_id, g.township_code, person_name("网格员")))
    for (_village, township), vg in grids.groupby(["village_code", "township_code"], sort=False):
        cadre = new_id("C")
        name = person_name("社区干部" if vg["is_urban"].iloc[0] else "村干部")
        rows.extend((cadre, "cadre", gid, township, name) for gid in vg["grid_id"])
    for township, tg in grids.groupby("township_code", sort=False):
        villages = tg["village_code"].unique()
        for chunk in np.array_split(villages, max(1, int(np.ceil(len(villages) / 3)))):
            officer = new_id("M")
            name = person_name("社区民警")
            rows.extend((officer, "community_officer", gid, township, name)
                        for gid in tg.loc[tg["village_code"].isin(chunk), "grid_id"])
        rows.append((new_id("F"), "township_fallback", None, township, "乡镇（街道）综治中心值班"))
    staff = pd.DataFrame(rows, columns=["staff_id", "role", "grid_id", "township_code", "display_name"])
    ids = staff["staff_id"].unique()
    openids = dict(zip(ids, _openid(rng, len(ids)), strict=True))
    staff["inbox_id"] = staff["staff_id"].map(openids)
    staff["active"] = True
    unreachable = grids["grid_id"].to_numpy()[rng.random(len(grids)) < params.unreachable_grid_share]
    staff.loc[staff["grid_id"].isin(unreachable), "active"] = False
    return staff
