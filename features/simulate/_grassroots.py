"""The grassroots channels of the synthetic world: cadres' field reports and residents' anonymous tips.

Both channels see part of the **hidden** tension ``H`` that police records never show. For every person-day
with an open dispute (the oracle's rows), ``ratio = hazard_full / hazard_records`` is how much the hidden part
raises the hazard over what the records imply (1 = the mean; above 1 = worse than the records say):

* **cadres on rounds** report a person with daily probability ``report_rate * ratio ** report_sensitivity``
  (capped), naming the person (``report_named``) or only the address; what they tick grows with the ratio
  (conflict rising, threat, violence, emotion, harm risk) and so does the urgency. A few reports have nothing
  behind them (``false_report_rate`` per person-day, anyone);
* **residents** tip about the address with daily probability ``tip_rate * ratio ** tip_sensitivity``, times
  ``tip_unrecorded_boost`` while the dispute has never reached 110 (the disputes people find too troublesome
  or too risky to report); with noise: vague tips (nothing ticked, category "other"), duplicates (the same tip
  again within hours), false tips at random addresses, and malicious bursts at a few targeted addresses.

All draws come from their own random stream (``simulate`` seeds it from the world's seed), so the rest of the
world is identical with the channels on or off, and "the same world with the channels withheld" is this world
without ``field_reports.parquet`` and ``tips.parquet``. Every constant is a field of :class:`GrassrootsParams`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.simulate._params import CATEGORIES

__all__ = ["GrassrootsParams", "grassroots_tables"]


@dataclass(frozen=True)
class GrassrootsParams:
    # --- cadres' field reports (掌上排查上报) ---------------------------------------------------------
    report_rate: float = 0.0015          # per person-day in a dispute whose hidden tension is at its mean
    report_sensitivity: float = 1.5      # exponent on the hidden-tension ratio
    report_named: float = 0.8            # share of reports that name the person (else the address only)
    false_report_rate: float = 2.0e-6    # per person-day, anyone: reports with nothing behind them
    # --- residents' anonymous tips (四川e码) ----------------------------------------------------------
    tip_rate: float = 0.0006
    tip_sensitivity: float = 1.0
    tip_unrecorded_boost: float = 3.0    # a dispute that never reached 110 draws this many times more tips
    p_vague_tip: float = 0.3             # nothing ticked, category "other"
    p_duplicate_tip: float = 0.15        # the same tip sent again (1-3 copies within hours)
    false_tip_rate: float = 0.01         # per address and year, at random addresses
    malicious_targets_per_100k: float = 5.0   # addresses targeted by bursts of malicious tips
    malicious_burst: tuple[int, int] = (5, 20)
    ratio_cap: float = 20.0


_REPORT_NOTES = {
    "family": ["家中争吵频繁", "夫妻矛盾未化解", "子女赡养问题争执"],
    "marital": ["感情纠纷反复", "分手后纠缠", "离婚财产争执"],
    "neighbour": ["邻里因漏水争吵", "噪音扰民引发口角", "楼道堆物起争执"],
    "labour": ["工地欠薪工人聚集", "工资结算争议"],
    "land": ["宅基地边界争议", "征地补偿不满"], "debt": ["欠款纠纷上门催讨", "借贷纠纷双方对峙"],
    "consumer": ["装修质量纠纷", "商户与顾客争执"], "other": ["矛盾有升级苗头", "情况待进一步了解"],
}
_TIP_NOTES = ["楼上经常吵架", "听到有人摔东西", "邻居说要报复", "有人天天来堵门要债", "隔壁打孩子", "有人喝酒后闹事"]
_VAGUE = ["有矛盾，请关注", "这里有问题", "希望有人来看看"]


def _pick(rng, options, n) -> np.ndarray:
    return np.asarray(options, dtype=object)[rng.integers(0, len(options), n)]


def _person_day_ratio(raw) -> pd.DataFrame:
    df = pd.DataFrame({"p": raw.z_person, "d": raw.z_day, "full": raw.z_full.astype(np.float64),
                       "rec": raw.z_records.astype(np.float64)})
    agg = df.groupby(["p", "d"], sort=True).sum().reset_index()
    agg["ratio"] = agg["full"] / np.maximum(agg["rec"], 1e-12)
    return agg[["p", "d", "ratio"]]


def _dispute_of(raw, p: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(category index, reached 110 by that day) of the person's latest dispute started by day ``d``."""
    order = np.lexsort((raw.d_start[raw.p_disp], raw.p_person))
    pp, dd = raw.p_person[order], raw.p_disp[order]
    key = pp.astype(np.int64) * 100_000 + raw.d_start[dd].astype(np.int64)
    i = np.searchsorted(key, p.astype(np.int64) * 100_000 + d.astype(np.int64), side="right") - 1
    ok = (i >= 0) & (pp[np.maximum(i, 0)] == p)
    disp = dd[np.maximum(i, 0)]
    cat = np.where(ok, raw.d_cat[disp], CATEGORIES.index("other"))
    first = raw.d_first_call[disp]
    called = ok & (first >= 0) & (first <= d)
    return cat.astype(np.int64), called


def _times(rng, start: pd.Timestamp, days: np.ndarray, lo_h: float, hi_h: float) -> np.ndarray:
    secs = rng.uniform(lo_h * 3600, hi_h * 3600, len(days)).astype("int64")
    return (np.datetime64(start.to_datetime64(), "s") + days.astype("int64") * 86400 + secs).astype("datetime64[ns]")


def _observations(rng, strength: np.ndarray, cat: np.ndarray) -> dict[str, np.ndarray]:
    n = len(strength)
    family = np.isin(cat, [CATEGORIES.index("family"), CATEGORIES.index("marital")])
    return {"obs_conflict_rising": rng.random(n) < 0.2 + 0.6 * strength,
            "obs_threat": rng.random(n) < 0.03 + 0.30 * strength,
            "obs_violence": rng.random(n) < 0.03 + 0.20 * strength,
            "obs_emotion": rng.random(n) < 0.08 + (0.25 + 0.2 * family) * strength,
            "obs_harm_risk": rng.random(n) < 0.01 + 0.05 * strength}


def _urgency(rng, strength: np.ndarray) -> np.ndarray:
    u = rng.random(len(strength))
    return np.where(u < 0.1 + 0.5 * strength, "urgent", np.where(u < 0.4 + 0.4 * strength, "soon", "routine"))


def grassroots_tables(raw, persons: pd.DataFrame, tables: dict[str, pd.DataFrame], start_date: str,
                      rng: np.random.Generator, days: int, gp: GrassrootsParams | None = None
                      ) -> dict[str, pd.DataFrame]:
    """``field_reports`` and ``tips`` frames in the data contracts' layout (times from ``start_date``, the first
    simulated day, burn-in included)."""
    gp = gp or GrassrootsParams()
    start = pd.Timestamp(start_date)
    pid = persons["person_id"].to_numpy()
    res = persons["residence_address_code"].to_numpy()
    n_people = len(pid)
    z = _person_day_ratio(raw)
    ratio = np.minimum(z["ratio"].to_numpy(), gp.ratio_cap)
    p, d = z["p"].to_numpy(), z["d"].to_numpy()
    strength = np.clip(np.log(np.maximum(ratio, 1.0)) / np.log(gp.ratio_cap) * 2, 0, 1)
    cat, called = _dispute_of(raw, p, d)

    # --- field reports ----------------------------------------------------------------------------
    hit = rng.random(len(p)) < np.minimum(gp.report_rate * ratio ** gp.report_sensitivity, 0.5)
    n_false = rng.poisson(gp.false_report_rate * n_people * days)
    rp = np.concatenate([p[hit], rng.integers(0, n_people, n_false)])
    rd = np.concatenate([d[hit], rng.integers(0, days, n_false)])
    rs = np.concatenate([strength[hit], np.zeros(n_false)])
    rc = np.concatenate([cat[hit], rng.integers(0, len(CATEGORIES), n_false)])
    addr = res[rp]
    grid_of = tables["addresses"].set_index("address_code")["grid_id"]
    staff = tables["staff"]
    staff = staff[staff["role"].isin(["grid_worker", "cadre", "community_officer"]) & staff["grid_id"].notna()]
    first_staff = staff.drop_duplicates("grid_id").set_index("grid_id")
    grids = pd.Series(addr).map(grid_of)
    reporter = grids.map(first_staff["staff_id"]).fillna("SIMCADRE").to_numpy()
    role = grids.map(first_staff["role"]).fillna("cadre").to_numpy()
    t = _times(rng, start, rd, 8, 19)
    named = rng.random(len(rp)) < gp.report_named
    cats = np.asarray(CATEGORIES, dtype=object)[rc]
    notes = np.array([_REPORT_NOTES[c][i % len(_REPORT_NOTES[c])] for i, c in
                      zip(rng.integers(0, 3, len(rp)), cats, strict=True)], dtype=object)
    reports = pd.DataFrame({
        "report_id": np.char.add("FR", np.char.zfill(np.arange(len(rp)).astype(str), 8)),
        "time": t, "recorded_at": t + rng.integers(0, 7200, len(rp)).astype("timedelta64[s]"),
        "reporter_id": reporter, "reporter_role": role, "provenance": "simulated",
        "person_id": np.where(named, pid[rp], None), "address_code": addr, "category": cats,
        "urgency": _urgency(rng, rs), **_observations(rng, rs, rc), "note": notes,
    }).sort_values("time", kind="stable").reset_index(drop=True)

    # --- tips ----------------------------------------------------------------------------------------
    boost = np.where(called, 1.0, gp.tip_unrecorded_boost)
    thit = rng.random(len(p)) < np.minimum(gp.tip_rate * ratio ** gp.tip_sensitivity * boost, 0.5)
    tp, td, ts, tc = p[thit], d[thit], strength[thit], cat[thit]
    taddr = res[tp]
    codes = tables["addresses"]["address_code"].to_numpy()
    n_false_tips = rng.poisson(gp.false_tip_rate * len(codes) * days / 365)
    n_targets = rng.poisson(gp.malicious_targets_per_100k * n_people / 100_000)
    targets = codes[rng.integers(0, len(codes), n_targets)] if len(codes) else np.zeros(0, dtype=object)
    bursts = rng.integers(gp.malicious_burst[0], gp.malicious_burst[1] + 1, n_targets)
    burst_start = rng.integers(0, max(days - 60, 1), n_targets)
    m_addr = np.repeat(targets, bursts)
    m_day = np.repeat(burst_start, bursts) + rng.integers(0, 60, int(bursts.sum()))
    all_addr = np.concatenate([taddr, codes[rng.integers(0, len(codes), n_false_tips)], m_addr])
    all_day = np.concatenate([td, rng.integers(0, days, n_false_tips), m_day])
    all_s = np.concatenate([ts, np.zeros(n_false_tips), np.full(len(m_addr), 0.8)])   # malicious: alarming words
    all_c = np.concatenate([tc, rng.integers(0, len(CATEGORIES), n_false_tips),
                            np.full(len(m_addr), CATEGORIES.index("neighbour"))])
    n = len(all_addr)
    vague = rng.random(n) < gp.p_vague_tip
    obs = _observations(rng, all_s, all_c)
    obs = {k: v & ~vague for k, v in obs.items()}
    tt = _times(rng, start, all_day, 0, 24)
    tips = pd.DataFrame({
        "time": tt, "recorded_at": tt, "address_code": all_addr,
        "category": np.where(vague, "other", np.asarray(CATEGORIES, dtype=object)[all_c]),
        "urgency": np.where(vague, "routine", _urgency(rng, all_s)), **obs,
        "note": np.where(vague, _pick(rng, _VAGUE, n), _pick(rng, _TIP_NOTES, n)),
        "linked_person_id": None, "verdict": None,
    })
    dup = rng.random(n) < gp.p_duplicate_tip
    copies = tips.loc[np.repeat(np.flatnonzero(dup), rng.integers(1, 4, int(dup.sum())))].copy()
    shift = rng.integers(60, 6 * 3600, len(copies)).astype("timedelta64[s]")
    copies["time"] = copies["time"].to_numpy() + shift
    copies["recorded_at"] = copies["time"]
    tips = pd.concat([tips, copies], ignore_index=True).sort_values("time", kind="stable").reset_index(drop=True)
    tips.insert(0, "tip_id", np.char.add("TP", np.char.zfill(np.arange(len(tips)).astype(str), 8)))
    return {"field_reports": reports, "tips": tips}
