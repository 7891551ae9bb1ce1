"""Sichuan's real administrative divisions (GB/T 2260): 21 prefecture-level divisions, 183 counties.

Shipped as ``features/data/sichuan_divisions.csv`` (code, name, level, parent, prefecture, a rough
urban share and population used only as sampling weights by the simulator).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

__all__ = ["load_divisions", "prefectures", "counties", "AUTONOMOUS_PREFECTURES", "PROVINCE_CODE"]

PROVINCE_CODE = "510000"
#: 阿坝藏族羌族自治州, 甘孜藏族自治州, 凉山彝族自治州.
AUTONOMOUS_PREFECTURES = frozenset({"513200", "513300", "513400"})


@lru_cache(maxsize=1)
def load_divisions() -> pd.DataFrame:
    with resources.files("features").joinpath("data/sichuan_divisions.csv").open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype={"code": str, "parent_code": str, "prefecture_code": str})
    df["is_autonomous"] = df["prefecture_code"].isin(AUTONOMOUS_PREFECTURES)
    return df


def prefectures() -> pd.DataFrame:
    df = load_divisions()
    return df[df["level"] == "prefecture"].reset_index(drop=True)


def counties() -> pd.DataFrame:
    df = load_divisions()
    out = df[df["level"] == "county"].reset_index(drop=True)
    names = prefectures().set_index("code")["name"]
    out["prefecture_name"] = out["prefecture_code"].map(names)
    return out
