"""Turn the raw dynamics into the tables a police system would hold: Chinese notes and real mess.

Mess injected on purpose (each rate in ``_params``): missing fields, threats present only in the
note text, homophone typos that defeat keyword search, Chinese labels instead of codes, duplicate
calls, late-arriving records and a few unusable rows that validation must quarantine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contracts import CATEGORY_LABELS
from features.simulate._dynamics import RawWorld, _ranges
from features.simulate._geography import Geography
from features.simulate._params import CATEGORIES, SimParams
from features.simulate._people import People, pseudonymous_ids

_TOPICS = {
    "family": ["家庭琐事", "赡养老人问题", "子女抚养问题", "家庭财产分配"],
    "marital": ["感情问题", "离婚财产分割", "恋爱关系破裂", "怀疑对方有外遇"],
    "neighbour": ["噪音扰民", "楼上漏水", "宅基地边界", "占用公共通道", "饲养宠物扰民"],
    "labour": ["拖欠工资", "工伤赔偿", "解除劳动合同", "工程款结算"],
    "land": ["征地补偿", "土地承包经营权", "房屋拆迁补偿", "林地边界"],
    "debt": ["借款未还", "合伙生意账目", "民间借贷", "担保债务"],
    "consumer": ["商品质量问题", "装修工程款", "预付卡退费"],
    "other": ["琐事口角", "停车位", "交通事故赔偿"],
}
_OTHER = {"family": "家人", "marital": "配偶（前任）", "neighbour": "邻居", "labour": "包工头",
          "land": "同村村民", "debt": "债务人", "consumer": "商家", "other": "他人"}
_WHO = ["报警人", "群众", "当事人"]
_VIOLENCE = ["，双方发生肢体冲突", "，双方发生推搡", "，一方被打伤"]
_WEAPON = ["，一方持菜刀", "，现场有持棍棒情形"]
_ALCOHOL = ["，一方系酒后"]
_THREAT = {
    1: ["，一方扬言要报复对方", "，一方称要与对方同归于尽", "，一方扬言“弄死他”", "，扬言要让对方全家不得安宁"],
    2: ["，称政府不管就报复社会", "，扬言要到人多的地方闹事", "，称社会不公要报复社会"],
    3: ["，一方情绪激动称不想活了", "，一方扬言要跳楼", "，称要喝农药一了百了"],
}
_HIGH = ["，双方积怨较深", "，此前已多次报警", "，双方情绪激动"]
_CRISIS = ["家属报警称当事人精神病发作，情绪失控，砸毁家中物品", "群众报警称有人疑似精神障碍在街上滋扰他人",
           "家属报警称当事人长期未服药，近日言行异常"]
_DISPOSITION = ["。民警到场后现场调解，双方达成谅解。", "。已移交司法所进一步调处。", "。已受案调查。",
                "。经现场调解未果，已告知双方通过法律途径解决。"]
_DISPOSITION_CODES = np.array(["mediated", "referred", "case_filed", "unresolved"], dtype=object)
_TYPOS = [("报复", "报付"), ("同归于尽", "同归于近"), ("跳楼", "跳搂"), ("不想活", "不相活"), ("精神病", "神经病"),
          ("纠纷", "纠份"), ("调解", "调节"), ("报警", "抱警")]


def _pick(rng, options, n):
    arr = np.array(options, dtype=object)
    return arr[rng.integers(0, len(arr), n)]


def _times(rng, days: np.ndarray, start: pd.Timestamp, night: np.ndarray) -> np.ndarray:
    """Event timestamps: day + a time of day, night (22:00-05:00) where ``night``."""
    day_s = rng.uniform(7 * 3600, 22 * 3600, len(days))
    night_s = np.where(rng.random(len(days)) < 0.3, rng.uniform(22 * 3600, 24 * 3600, len(days)),
                       rng.uniform(0, 5 * 3600, len(days)))
    secs = np.where(night, night_s, day_s).astype("int64")
    return (np.datetime64(start.to_datetime64(), "s") + days.astype("int64") * 86400 + secs).astype("datetime64[ns]")


def _recorded(rng, t: np.ndarray, p_late: float, typical_minutes: float = 40.0) -> np.ndarray:
    delay = rng.lognormal(np.log(typical_minutes), 0.8, len(t)) * 60
    late = rng.random(len(t)) < p_late
    delay = np.where(late, rng.uniform(1, 30, len(t)) * 86400, delay)
    return t + delay.astype("timedelta64[s]").astype("timedelta64[ns]")


def build_tables(raw: RawWorld, people: People, geo: Geography, params: SimParams,
                 rng: np.random.Generator, days: int) -> dict[str, pd.DataFrame]:
    P = params
    start = pd.Timestamp(P.start_date)
    pid = people.table["person_id"].to_numpy()
    res_addr_code = people.table["residence_address_code"].to_numpy()
    grid_station = geo.grids["station_id"].to_numpy()
    n_disp = len(raw.d_cat)
    dispute_ids = pseudonymous_ids(n_disp, rng, prefix="D") if n_disp else np.zeros(0, dtype=object)
    party_start = np.searchsorted(raw.p_disp, np.arange(n_disp))
    party_count = np.searchsorted(raw.p_disp, np.arange(n_disp), side="right") - party_start

    # --- incidents ---------------------------------------------------------------------------------
    k = len(raw.c_day)
    is_crisis = raw.c_disp < 0
    cat_idx = np.where(is_crisis, np.where(rng.random(k) < 0.3, 0, CATEGORIES.index("other")),
                       raw.d_cat[np.maximum(raw.c_disp, 0)])
    cat_codes = np.array(CATEGORIES, dtype=object)[cat_idx]
    night = rng.random(k) < np.where(raw.c_alcohol, 0.5, 0.22) + 0.1 * np.minimum(raw.c_tension, 2)
    event_time = _times(rng, raw.c_day, start, night)
    recorded_at = _recorded(rng, event_time, P.p_late_record)
    threat = raw.c_threat_kind > 0

    texts: list[str] = []
    topic_pick = rng.random(k)
    who = _pick(rng, _WHO, k)
    frag_v, frag_w, frag_a = _pick(rng, _VIOLENCE, k), _pick(rng, _WEAPON, k), _pick(rng, _ALCOHOL, k)
    frag_h = _pick(rng, _HIGH, k)
    frag_t = {kind: _pick(rng, opts, k) for kind, opts in _THREAT.items()}
    frag_c = _pick(rng, _CRISIS, k)
    high = raw.c_tension > 1.5
    for i in range(k):
        if is_crisis[i]:
            s = frag_c[i]
        else:
            c = cat_codes[i]
            topics = _TOPICS[c]
            s = f"{who[i]}报警称与{_OTHER[c]}因{topics[int(topic_pick[i] * len(topics))]}发生纠纷"
        if raw.c_alcohol[i]:
            s += frag_a[i]
        if raw.c_violence[i]:
            s += frag_v[i]
        if raw.c_weapon[i]:
            s += frag_w[i]
        tk = raw.c_threat_kind[i]
        if tk:
            s += frag_t[int(tk)][i]
        elif high[i]:
            s += frag_h[i]
        s += _DISPOSITION[int(raw.c_disposition[i])]
        texts.append(s)
    notes = np.array(texts, dtype=object)
    typo = rng.random(k) < P.p_typo
    for j in np.flatnonzero(typo):
        a, b = _TYPOS[int(rng.integers(len(_TYPOS)))]
        notes[j] = notes[j].replace(a, b)

    flag_threat = threat & (rng.random(k) >= P.p_threat_flag_unset)
    incidents = pd.DataFrame({
        "incident_id": pseudonymous_ids(k, rng, prefix="J"),
        "event_time": event_time,
        "recorded_at": recorded_at,
        "address_code": res_addr_code[raw.c_person],
        "category": cat_codes,
        "disposition": _DISPOSITION_CODES[raw.c_disposition],
        "flag_violence": raw.c_violence,
        "flag_weapon": raw.c_weapon,
        "flag_alcohol": raw.c_alcohol,
        "flag_minor_present": np.isin(cat_idx, [0, 1]) & (rng.random(k) < 0.2),
        "flag_threat": flag_threat,
        "note": notes,
        "dispute_id": np.where(~is_crisis & (rng.random(k) < P.p_dispute_link),
                               dispute_ids[np.maximum(raw.c_disp, 0)] if n_disp else None, None),
        "station_id": grid_station[people.res_grid[raw.c_person]],
    })

    # --- incident parties ----------------------------------------------------------------------------
    disp_calls = np.flatnonzero(~is_crisis)
    only_caller = rng.random(k) < P.p_party_unrecorded
    full = disp_calls[~only_caller[disp_calls]]
    pr = _ranges(party_start[raw.c_disp[full]], party_count[raw.c_disp[full]])
    call_of = np.repeat(full, party_count[raw.c_disp[full]])
    person = raw.p_person[pr]
    is_caller = person == raw.c_person[call_of]
    violent = raw.c_violence[call_of]
    maker = raw.c_threat_by[call_of]
    aggressor = raw.p_aggr[pr] | (person == maker)
    role = np.where(violent & aggressor, "suspect", np.where(violent, "victim",
                    np.where(is_caller, "caller", "party")))
    caller_only = np.concatenate([disp_calls[only_caller[disp_calls]], np.flatnonzero(is_crisis)])
    parties = pd.DataFrame({
        "incident_id": np.concatenate([incidents["incident_id"].to_numpy()[call_of],
                                       incidents["incident_id"].to_numpy()[caller_only]]),
        "person_id": np.concatenate([pid[person], pid[raw.c_person[caller_only]]]),
        "role": np.concatenate([role, np.where(is_crisis[caller_only], "party", "caller")]),
    }).drop_duplicates(["incident_id", "person_id"])

    if P.scenario == "recording_change":
        # One prefecture changes how it records calls: flags left unticked, generic notes.
        day0 = P.scenario_start(days)
        pref = geo.grids["prefecture_code"].to_numpy()[people.res_grid[raw.c_person]]
        hit = (raw.c_day >= day0) & (pref == P.scenario_prefecture)
        for f in ("flag_violence", "flag_weapon", "flag_alcohol", "flag_minor_present", "flag_threat"):
            incidents[f] = incidents[f].astype("boolean")
            incidents.loc[hit & (rng.random(k) < 0.8), f] = pd.NA
        generic = hit & (rng.random(k) < 0.7)
        incidents.loc[generic, "note"] = "群众报警称发生纠纷，民警已到场处置。"

    # --- mess: labels instead of codes, missing fields, duplicates, bad rows ---------------------------
    lab = rng.random(k) < P.p_category_label
    incidents.loc[lab, "category"] = incidents.loc[lab, "category"].map(CATEGORY_LABELS) + " "
    incidents.loc[rng.random(k) < P.p_missing_address, "address_code"] = None
    incidents.loc[rng.random(k) < P.p_missing_disposition, "disposition"] = None
    for f in ("flag_violence", "flag_weapon", "flag_alcohol", "flag_minor_present", "flag_threat"):
        incidents[f] = incidents[f].astype("boolean")
        incidents.loc[rng.random(k) < P.p_missing_flag, f] = pd.NA
    dup = np.flatnonzero(rng.random(k) < P.p_duplicate_call)
    if len(dup):
        d = incidents.iloc[dup].copy()
        shift = pd.to_timedelta(rng.integers(60, 1200, len(dup)), unit="s")
        d["event_time"] = d["event_time"] + shift
        d["recorded_at"] = d["recorded_at"] + shift
        d["incident_id"] = pseudonymous_ids(len(dup), rng, prefix="K")
        dp = parties[parties["incident_id"].isin(set(incidents["incident_id"].to_numpy()[dup]))]
        id_map = dict(zip(incidents["incident_id"].to_numpy()[dup], d["incident_id"], strict=True))
        dp = dp.assign(incident_id=dp["incident_id"].map(id_map))
        incidents = pd.concat([incidents, d], ignore_index=True)
        parties = pd.concat([parties, dp], ignore_index=True)
    bad = np.flatnonzero(rng.random(len(incidents)) < P.p_bad_row)
    if len(bad):
        kinds = rng.integers(0, 3, len(bad))
        incidents["category"] = incidents["category"].astype(object)
        incidents.loc[bad[kinds == 0], "category"] = "？？"
        incidents.loc[bad[kinds == 1], "event_time"] = pd.NaT
        early = bad[kinds == 2]
        incidents.loc[early, "recorded_at"] = incidents.loc[early, "event_time"] - pd.Timedelta(days=3)
    incidents = incidents.sort_values("recorded_at", kind="stable", na_position="first").reset_index(drop=True)

    # --- disputes register, parties, mediations ------------------------------------------------------
    called = np.flatnonzero(raw.d_first_call >= 0)
    opened = _times(rng, raw.d_first_call[called], start, np.zeros(len(called), dtype=bool))
    med_count = np.bincount(raw.m_disp, minlength=n_disp) if len(raw.m_disp) else np.zeros(n_disp, int)
    status = np.select([raw.d_status[called] == 2, raw.d_status[called] == 1, med_count[called] > 0],
                       ["escalated", "resolved", "mediating"], "open")
    first_party = raw.p_person[party_start[called]]
    disputes = pd.DataFrame({
        "dispute_id": dispute_ids[called],
        "category": np.array(CATEGORIES, dtype=object)[raw.d_cat[called]],
        "opened_at": opened,
        "recorded_at": opened + (rng.uniform(0.5, 5, len(called)) * 86400).astype("timedelta64[s]"),
        "status": status,
        "grid_id": geo.grids["grid_id"].to_numpy()[people.res_grid[first_party]],
    })
    rows = _ranges(party_start[called], party_count[called])
    dispute_parties = pd.DataFrame({"dispute_id": dispute_ids[raw.p_disp[rows]],
                                    "person_id": pid[raw.p_person[rows]]}).drop_duplicates()
    recorded_disp = raw.d_first_call[raw.m_disp] >= 0 if len(raw.m_disp) else np.zeros(0, bool)
    md, mday, mres = raw.m_disp[recorded_disp], raw.m_day[recorded_disp], raw.m_success[recorded_disp]
    mtime = _times(rng, mday, start, np.zeros(len(md), dtype=bool))
    mediations = pd.DataFrame({
        "mediation_id": pseudonymous_ids(len(md), rng, prefix="M"),
        "dispute_id": dispute_ids[md],
        "time": mtime,
        "recorded_at": _recorded(rng, mtime, P.p_late_record, typical_minutes=600),
        "result": np.array(["failed", "partial", "success"], dtype=object)[mres],
        "mediator": _pick(rng, ["committee", "committee", "police", "judicial", "other"], len(md)),
    })

    # --- care records and outcomes -----------------------------------------------------------------------
    ktime = _times(rng, raw.k_day, start, np.zeros(len(raw.k_day), dtype=bool))
    care = pd.DataFrame({
        "record_id": pseudonymous_ids(len(ktime), rng, prefix="R"),
        "person_id": pid[raw.k_person],
        "time": ktime,
        "recorded_at": _recorded(rng, ktime, 0.15, typical_minutes=1440),
        "kind": np.array(["followup", "missed_followup", "medication_stopped", "crisis"], dtype=object)[raw.k_kind],
    })
    otime = _times(rng, raw.o_day, start, rng.random(len(raw.o_day)) < 0.35)
    outcomes = pd.DataFrame({
        "outcome_id": pseudonymous_ids(len(otime), rng, prefix="O"),
        "person_id": pid[raw.o_person],
        "time": otime,
        "recorded_at": otime + (rng.uniform(0.2, 10, len(otime)) * 86400).astype("timedelta64[s]"),
        "kind": np.array(["violent_case", "extreme_incident", "self_harm"], dtype=object)[raw.o_kind],
        "source": _pick(rng, ["case_system", "case_system", "hospital", "police_report"], len(otime)),
    }).sort_values("time", kind="stable").reset_index(drop=True)

    return {
        "grids": geo.grids, "stations": geo.stations, "staff": geo.staff, "addresses": geo.addresses,
        "persons": people.table, "incidents": incidents, "incident_parties": parties.reset_index(drop=True),
        "disputes": disputes, "dispute_parties": dispute_parties, "mediations": mediations,
        "care_records": care, "outcomes": outcomes,
    }
