"""The daily dynamics: disputes, self-exciting calls, tension, mediation, crises and outcomes.

Vectorised over the open disputes of each day (a few thousand per million people), so two simulated
years are 730 small numpy steps. The output is raw event arrays; ``_records`` turns them into the
messy tables a police system would hold. See ``_params`` for the model and its constants.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from features.simulate._crn import KeyedDraws, StreamDraws
from features.simulate._intervention import DayState, Intervention
from features.simulate._params import CATEGORIES, SimParams
from features.simulate._people import People

Intervene = Callable[[int, DayState], Intervention | None]
FAMILY_LIKE = (CATEGORIES.index("family"), CATEGORIES.index("marital"))
SOCIETY_LIKE = (CATEGORIES.index("labour"), CATEGORIES.index("land"))
OUTCOME_KINDS = ("violent_case", "extreme_incident", "self_harm")
THREAT_KINDS = ("none", "retaliation", "society", "emotion")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class RawWorld:
    # disputes
    d_cat: np.ndarray
    d_start: np.ndarray
    d_end: np.ndarray          # last active day (days for open disputes)
    d_status: np.ndarray       # 0 open, 1 resolved, 2 escalated
    d_first_call: np.ndarray   # day of first call, -1 if never called (never recorded)
    p_disp: np.ndarray         # parties: dispute index
    p_person: np.ndarray       # parties: person index
    p_aggr: np.ndarray         # parties: aggressor flag (hidden)
    # calls (incidents), one row per call
    c_disp: np.ndarray         # dispute index, -1 for crisis disturbance calls
    c_person: np.ndarray       # for crisis calls: the person; else the caller person
    c_day: np.ndarray
    c_violence: np.ndarray
    c_weapon: np.ndarray
    c_alcohol: np.ndarray
    c_threat_kind: np.ndarray  # index into THREAT_KINDS
    c_threat_by: np.ndarray    # person index who made the statement (-1 none)
    c_disposition: np.ndarray  # 0 mediated, 1 referred, 2 case_filed, 3 unresolved
    c_tension: np.ndarray      # recorded tension at the call (drives note wording)
    # mediations
    m_disp: np.ndarray
    m_day: np.ndarray
    m_success: np.ndarray      # 0 failed, 1 partial, 2 success
    # care records (registered mentally ill persons)
    k_person: np.ndarray
    k_day: np.ndarray
    k_kind: np.ndarray         # 0 followup, 1 missed_followup, 2 medication_stopped, 3 crisis
    # outcomes
    o_person: np.ndarray
    o_day: np.ndarray
    o_kind: np.ndarray
    # oracle rows (person-day, non-background only)
    z_person: np.ndarray
    z_day: np.ndarray
    z_full: np.ndarray
    z_records: np.ndarray


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate ``arange(s, s + c)`` for each pair, vectorised."""
    if len(counts) == 0:
        return np.zeros(0, dtype=np.int64)
    total = int(counts.sum())
    offs = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return offs + np.arange(total)


def _choose_parties(n_disp, cat, people: People, params: SimParams, rng):
    """Primary party by proneness; counterparties near them (household/grid) or in the same county."""
    n = len(people.proneness)
    primary = np.empty(n_disp, dtype=np.int64)
    for ci, name in enumerate(CATEGORIES):
        idx = np.flatnonzero(cat == ci)
        if not len(idx):
            continue
        w = people.proneness.copy()
        if name == "labour":
            w = w * np.where(people.migrant, 2.5, 1.0) * np.where((people.age >= 20) & (people.age <= 60), 1.0, 0.2)
        elif name == "marital":
            w = w * np.where((people.age >= 20) & (people.age <= 55), 1.0, 0.15)
        elif name == "land":
            w = w * np.where(people.age >= 35, 1.0, 0.3)
        cdf = np.cumsum(w)
        primary[idx] = np.minimum(np.searchsorted(cdf, rng.random(len(idx)) * cdf[-1]), n - 1)

    # People sorted by residence grid / county, to draw neighbours quickly.
    by_grid = np.argsort(people.res_grid, kind="stable")
    g_sorted = people.res_grid[by_grid]
    g_start = np.searchsorted(g_sorted, people.res_grid)
    g_count = np.searchsorted(g_sorted, people.res_grid, side="right") - g_start
    county_codes, county_idx = np.unique(people.county, return_inverse=True)
    by_cty = np.argsort(county_idx, kind="stable")
    c_sorted = county_idx[by_cty]
    c_start = np.searchsorted(c_sorted, county_idx)
    c_count = np.searchsorted(c_sorted, county_idx, side="right") - c_start

    local = np.isin(cat, [CATEGORIES.index(c) for c in ("family", "marital", "neighbour", "land")])
    p = primary
    pick_g = by_grid[g_start[p] + (rng.random(n_disp) * g_count[p]).astype(np.int64)]
    pick_c = by_cty[c_start[p] + (rng.random(n_disp) * c_count[p]).astype(np.int64)]
    second = np.where(local, pick_g, pick_c)
    # marital: prefer the other sex (up to three tries)
    mar = np.flatnonzero(cat == CATEGORIES.index("marital"))
    for _ in range(3):
        same = mar[people.male[second[mar]] == people.male[p[mar]]]
        if not len(same):
            break
        second[same] = by_grid[g_start[p[same]] + (rng.random(len(same)) * g_count[p[same]]).astype(np.int64)]
    clash = second == p
    second[clash] = (p[clash] + 1 + rng.integers(0, n - 1, clash.sum())) % n

    third_mask = np.isin(cat, list(SOCIETY_LIKE)) & (rng.random(n_disp) < 0.3)
    third_of = np.flatnonzero(third_mask)
    third = by_grid[g_start[p[third_of]] + (rng.random(len(third_of)) * g_count[p[third_of]]).astype(np.int64)]

    p_disp = np.concatenate([np.arange(n_disp), np.arange(n_disp), third_of])
    p_person = np.concatenate([p, second, third])
    order = np.argsort(p_disp, kind="stable")
    p_disp, p_person = p_disp[order], p_person[order]

    # Aggressor: family/marital disputes usually have one, more often the man; others half the time.
    fam = np.isin(cat, list(FAMILY_LIKE))
    has_aggr = np.where(fam, rng.random(n_disp) < 0.75, rng.random(n_disp) < 0.5)
    first_idx = np.searchsorted(p_disp, np.arange(n_disp))
    m1 = people.male[p_person[first_idx]]
    m2 = people.male[p_person[first_idx + 1]]
    pick_second = np.where(fam & (m1 != m2), np.where(rng.random(n_disp) < 0.8, m2, m1), rng.random(n_disp) < 0.5)
    p_aggr = np.zeros(len(p_disp), dtype=bool)
    aggr_rows = first_idx + pick_second.astype(np.int64)
    p_aggr[aggr_rows[has_aggr]] = True
    return p_disp, p_person, p_aggr


def run_dynamics(people: People, days: int, params: SimParams, rng: np.random.Generator,
                 progress=None, intervene: Intervene | None = None, crn: int | None = None) -> RawWorld:
    """The daily loop. ``intervene(t, state)`` (see ``_intervention``), when given, is called at the start
    of each day and may return an :class:`Intervention` to apply; without it the world is unchanged.

    ``crn`` (the closed loop's mode): a key for common random numbers (``_crn.KeyedDraws``): every draw
    of the daily loop becomes a function of (key, dispute or person, day), so runs of one world under two
    policies share their luck wherever no visit changed the state. Without it (the default) the daily
    loop draws from ``rng`` in the historical order: a seed gives the same world bit for bit."""
    n = len(people.proneness)
    P = params
    n_disp = int(rng.poisson(n * P.disputes_per_person_year * days / 365.0))
    mix = np.array([P.category_mix[c] for c in CATEGORIES])
    cat = rng.choice(len(CATEGORIES), size=n_disp, p=mix / mix.sum())
    start = np.sort(rng.integers(0, days, n_disp))
    if P.scenario == "labour_surge":
        # A wave of wage disputes (e.g. a factory closure) from the scenario day on.
        s0 = P.scenario_start(days)
        base = n * P.disputes_per_person_year * P.category_mix["labour"] * (days - s0) / 365.0
        extra = int(rng.poisson(base * (P.scenario_strength - 1.0)))
        cat = np.concatenate([cat, np.full(extra, CATEGORIES.index("labour"))])
        start = np.concatenate([start, rng.integers(s0, days, extra)])
        order = np.argsort(start, kind="stable")
        cat, start = cat[order], start[order]
        n_disp = len(cat)
    p_disp, p_person, p_aggr = _choose_parties(n_disp, cat, people, P, rng)
    party_start = np.searchsorted(p_disp, np.arange(n_disp))
    party_count = np.searchsorted(p_disp, np.arange(n_disp), side="right") - party_start

    base_rate = np.array([P.base_call_rate[c] for c in CATEGORIES])
    h0 = np.array([P.dispute_h0[c] for c in CATEGORIES])
    fam_cat = np.isin(np.arange(len(CATEGORIES)), FAMILY_LIKE)
    soc_cat = np.isin(np.arange(len(CATEGORIES)), SOCIETY_LIKE)

    R = np.zeros(n_disp)
    H = np.zeros(n_disp)
    E = np.zeros(n_disp)
    failed = np.zeros(n_disp, dtype=np.int64)
    last_call = np.full(n_disp, -10_000)
    first_call = np.full(n_disp, -1)
    status = np.zeros(n_disp, dtype=np.int8)
    end = np.full(n_disp, days - 1)
    threat_mem = np.zeros(n)             # recorded statements by each person, decaying
    prior_out = np.zeros(n, dtype=np.int64)
    h_var = P.h_sigma ** 2 / (1 - P.h_rho ** 2)
    hidden_mean = np.exp(0.5 * (P.hazard_h ** 2) * h_var)   # E[exp(hazard_h * H)] at stationarity

    # mental illness state
    mi = np.flatnonzero(people.mentally_ill)
    C = rng.normal(0, P.crisis_sigma / np.sqrt(1 - P.crisis_rho ** 2), len(mi))
    stopped = np.zeros(len(mi), dtype=bool)
    stop_recorded = np.zeros(len(mi), dtype=bool)
    fu_offset = rng.integers(0, 30, len(mi))
    mi_reg = people.registered[mi]
    c_var = P.crisis_sigma ** 2 / (1 - P.crisis_rho ** 2)
    crisis_hidden_mean = np.exp(0.5 * P.hazard_crisis ** 2 * c_var)
    share_stopped = P.p_med_stop / (P.p_med_stop + P.p_med_resume)

    calls_out: defaultdict[str, list] = defaultdict(list)
    med_out: defaultdict[str, list] = defaultdict(list)
    care_out: defaultdict[str, list] = defaultdict(list)
    out_out: defaultdict[str, list] = defaultdict(list)
    ora_out: defaultdict[str, list] = defaultdict(list)
    pending_med: dict[int, list[np.ndarray]] = defaultdict(list)

    active = np.zeros(0, dtype=np.int64)
    tail = np.zeros(0, dtype=np.int64)      # resolved disputes whose grievance still lingers
    starts_at = np.searchsorted(start, np.arange(days + 1))
    decay_e = np.exp(-1.0 / P.hawkes_decay_days)

    D = StreamDraws(rng) if crn is None else KeyedDraws(crn)
    state = None if intervene is None else DayState(
        0, R, H, status, active, tail, party_start, party_count, p_person, mi, C, stopped, float(np.sqrt(h_var)),
        float(np.sqrt(c_var)), {"calls": calls_out, "mediations": med_out, "care": care_out, "outcomes": out_out,
                                "oracle": ora_out}, cat, start, first_call, p_disp, p_aggr)
    for t in range(days):
        if intervene is not None and state is not None:
            state.t, state.active, state.tail = t, active, tail
            _apply(intervene(t, state), R, H, C, stopped)
        new = np.arange(starts_at[t], starts_at[t + 1])
        if len(new):
            R[new] = D.uniform("r_initial", new, t, *P.r_initial)
            H[new] = D.normal("h_initial", new, t, np.sqrt(h_var) * 0.7)
            active = np.concatenate([active, new])
        threat_mem *= P.threat_memory
        a = active
        if len(a):
            H[a] = P.h_rho * H[a] + D.normal("h_innovation", a, t, P.h_sigma)
            lam = base_rate[cat[a]] * np.exp(P.call_tension_beta * np.minimum(R[a], P.r_cap)) + E[a]
            lam = np.where(start[a] == t, np.maximum(lam, 0.6), lam)   # most disputes surface with a call
            calls = D.poisson_capped("calls", a, t, lam, P.max_calls_per_day)
            E[a] = E[a] * decay_e + P.hawkes_alpha * calls
            called = calls > 0
            if called.any():
                cd = np.repeat(a[called], calls[called])
                k = len(cd)
                j = _ranges(np.zeros(int(called.sum()), dtype=np.int64), calls[called])   # call of the day
                r_here = np.minimum(R[cd], P.r_cap)
                viol = D.random("violence", cd, t, j) < _sigmoid(P.p_violence[0] + P.p_violence[1] * r_here)
                weapon = viol & (D.random("weapon", cd, t, j) < P.p_weapon_given_violence)
                alcohol = D.random("alcohol", cd, t, j) < P.p_alcohol * (1 + 0.6 * fam_cat[cat[cd]])
                threat = D.random("threat", cd, t, j) < _sigmoid(P.p_threat[0] + P.p_threat[1] * r_here
                                                  + P.p_threat_family_bonus * fam_cat[cat[cd]])
                # who made the statement: the aggressor if any, else a random party
                ps, pc = party_start[cd], party_count[cd]
                rand_party = ps + (D.random("rand_party", cd, t, j) * pc).astype(np.int64)
                aggr_party = ps + np.argmax(np.stack([p_aggr[np.minimum(ps + j, len(p_aggr) - 1)] & (j < pc)
                                                      for j in range(3)], axis=1), axis=1)
                has_aggr = p_aggr[aggr_party]
                maker_party = np.where(has_aggr, aggr_party, rand_party)
                maker = np.where(threat, p_person[maker_party], -1)
                tkind = np.zeros(k, dtype=np.int8)
                u = D.random("threat_kind", cd, t, j)
                is_fam = fam_cat[cat[cd]]
                is_soc = soc_cat[cat[cd]] & (failed[cd] >= 2)
                tkind[threat] = 1
                tkind[threat & is_fam & (u < 0.4)] = 3
                tkind[threat & is_soc & (u < 0.5)] = 2
                # the caller: usually the non-aggressor
                other_party = np.where(maker_party == ps, np.minimum(ps + 1, ps + pc - 1), ps)
                caller_party = np.where(has_aggr & (D.random("caller", cd, t, j) < 0.8), other_party, rand_party)
                disp_u = D.random("disposition", cd, t, j)
                disposition = np.where(viol & (disp_u < 0.35), 2,
                                       np.where(D.random("disposition_mediated", cd, t, j)
                                                < _sigmoid(1.2 - 0.6 * r_here), 0,
                                                np.where(D.random("disposition_referred", cd, t, j) < 0.5, 1, 3)))
                for key, val in (("disp", cd), ("person", p_person[caller_party]), ("day", np.full(k, t)),
                                 ("violence", viol), ("weapon", weapon), ("alcohol", alcohol),
                                 ("tkind", tkind), ("tby", maker), ("disposition", disposition),
                                 ("tension", r_here)):
                    calls_out[key].append(val)
                np.add.at(threat_mem, maker[threat], 1.0)
                # recorded tension rises with what was recorded
                dR = np.zeros(n_disp)
                np.add.at(dR, cd, P.r_per_call + P.r_per_violence * viol + P.r_per_threat * threat
                          - 0.08 * (disposition == 0))
                R[a] = R[a] * P.r_decay + dR[a]
                last_call[a[called]] = t
                fc = a[called]
                first_call[fc] = np.where(first_call[fc] < 0, t, first_call[fc])
                # schedule mediation attempts
                will = D.random("mediation_after_call", cd, t, j) < P.p_mediation_after_call
                med = cd[will]
                if len(med):
                    when = t + D.integers("mediation_delay", med, t, 1, 15, j[will])
                    for d_, w_ in zip(med, when, strict=True):
                        pending_med[int(w_)].append(d_)
            else:
                R[a] = R[a] * P.r_decay
            # mediation attempts due today
            if pending_med.get(t):
                md = np.unique(np.array(pending_med.pop(t)))
                md = md[(status[md] == 0) & (start[md] <= t)]
                if len(md):
                    p_ok = _sigmoid(P.p_mediation_success[0] + P.p_mediation_success[1] * R[md])
                    u = D.random("mediation_result", md, t)
                    result = np.where(u < p_ok, 2, np.where(u < p_ok + 0.15 * (1 - p_ok), 1, 0))
                    ok = result == 2
                    R[md[ok]] *= P.r_success_factor
                    H[md[ok]] *= 0.6
                    R[md[~ok]] += np.where(result[~ok] == 0, P.r_per_failed_mediation, 0.1)
                    failed[md[result == 0]] += 1
                    resolve = md[ok & (D.random("mediation_resolve", md, t) < P.p_resolve_after_success)]
                    status[resolve] = 1
                    end[resolve] = t
                    med_out["disp"].append(md)
                    med_out["day"].append(np.full(len(md), t))
                    med_out["result"].append(result)
            # outcomes and oracle rows for the parties of open disputes, and of disputes resolved
            # recently (grievances linger: a reduced hazard for ``resid_days``)
            a = active[status[active] == 0]
            if len(tail):
                tail = tail[(t - end[tail] <= P.resid_days) & (status[tail] == 1)]
                R[tail] *= P.r_decay
                H[tail] = P.h_rho * H[tail] + D.normal("tail_innovation", tail, t, P.h_sigma)
            scope = np.concatenate([a, tail])
            pr = _ranges(party_start[scope], party_count[scope])
            if len(pr):
                pp = p_person[pr]
                d_of = p_disp[pr]
                lin_rec = (np.log(h0[cat[d_of]]) + np.where(status[d_of] == 1, np.log(P.resid_factor), 0.0)
                           + P.hazard_r * np.minimum(R[d_of], P.r_cap)
                           + P.hazard_threat_person * np.minimum(threat_mem[pp], 2.0)
                           + 0.7 * np.minimum(prior_out[pp], 2))
                lin_hid = P.hazard_h * H[d_of] + people.vulnerability[pp]
                h_full = np.exp(lin_rec + lin_hid)
                h_rec = np.exp(lin_rec) * hidden_mean
                hit = D.random("outcome", pr, t) < h_full
                if hit.any():
                    hp, hd = pp[hit], d_of[hit]
                    kinds = _outcome_kind(cat[hd], p_aggr[pr[hit]], failed[hd], D.random("outcome_kind", pr[hit], t))
                    out_out["person"].append(hp)
                    out_out["day"].append(np.full(len(hp), t))
                    out_out["kind"].append(kinds)
                    prior_out[hp] += 1
                    status[hd] = 2
                    end[hd] = t
                ora_out["person"].append(pp)
                ora_out["day"].append(np.full(len(pp), t, dtype=np.int32))
                ora_out["full"].append(h_full.astype(np.float32))
                ora_out["rec"].append(h_rec.astype(np.float32))
            # quiet resolution and old disputes
            a = active[status[active] == 0]
            quiet = (R[a] < 0.35) & (t - last_call[a] > 14) & (D.random("quiet", a, t) < P.daily_quiet_resolution)
            old = (t - start[a]) > P.max_dispute_days
            done = a[quiet | old]
            status[done] = 1
            end[done] = t
            tail = np.concatenate([tail, active[status[active] == 1]])
            active = active[status[active] == 0]

        # --- mental illness / crisis ---------------------------------------------------------------
        if len(mi):
            C[:] = P.crisis_rho * C + D.normal("crisis_innovation", mi, t, P.crisis_sigma)   # in place: the hook's view
            start_stop = (~stopped) & (D.random("med_stop", mi, t) < P.p_med_stop)
            resume = stopped & (D.random("med_resume", mi, t) < P.p_med_resume)
            stopped[:] = (stopped | start_stop) & ~resume
            rec_stop = start_stop & mi_reg & (D.random("stop_recorded", mi, t) < 0.6)
            stop_recorded = (stop_recorded | rec_stop) & stopped
            fu = ((t + fu_offset) % 30 == 0) & mi_reg
            missed = fu & stopped & (D.random("missed_followup", mi, t) < P.p_missed_followup_when_stopped)
            stop_recorded |= missed  # a missed follow-up reveals the stop
            crisis_rec = mi_reg & (C > 0.35) & (D.random("crisis_record", mi, t) < 0.04)
            for kind, mask in ((0, fu & ~missed), (1, missed), (2, rec_stop), (3, crisis_rec)):
                idx = mi[mask]
                if len(idx):
                    care_out["person"].append(idx)
                    care_out["day"].append(np.full(len(idx), t))
                    care_out["kind"].append(np.full(len(idx), kind, dtype=np.int8))
            # disturbance calls from an untreated crisis (recorded incidents without a dispute)
            lam = P.crisis_call_rate * (1 + 2.0 * stopped) * (0.5 + 0.5 * mi_reg)
            dc = D.random("crisis_call", mi, t) < lam
            if dc.any():
                k = int(dc.sum())
                who = mi[dc]
                for key, val in (("disp", np.full(k, -1)), ("person", mi[dc]), ("day", np.full(k, t)),
                                 ("violence", D.random("crisis_violence", who, t) < 0.15),
                                 ("weapon", D.random("crisis_weapon", who, t) < 0.04),
                                 ("alcohol", D.random("crisis_alcohol", who, t) < 0.05),
                                 ("tkind", np.zeros(k, dtype=np.int8)), ("tby", np.full(k, -1)),
                                 ("disposition", D.choice("crisis_disposition", who, t, [0, 1, 3])),
                                 ("tension", np.full(k, 1.0))):
                    calls_out[key].append(val)
            seen_stop = np.where(mi_reg, stop_recorded.astype(float), share_stopped)
            lin_rec = np.log(P.crisis_h0) + P.hazard_med_stopped * seen_stop + 0.7 * np.minimum(prior_out[mi], 2)
            lin_true = (np.log(P.crisis_h0) + P.hazard_med_stopped * stopped + P.hazard_crisis * C
                        + 0.7 * np.minimum(prior_out[mi], 2) + people.vulnerability[mi])
            h_full = np.exp(lin_true)
            h_rec = np.exp(lin_rec) * crisis_hidden_mean
            hit = D.random("crisis_outcome", mi, t) < h_full
            if hit.any():
                hp = mi[hit]
                out_out["person"].append(hp)
                out_out["day"].append(np.full(len(hp), t))
                out_out["kind"].append(D.choice("crisis_outcome_kind", hp, t, 3, p=[0.3, 0.4, 0.3]).astype(np.int8))
                prior_out[hp] += 1
            ora_out["person"].append(mi)
            ora_out["day"].append(np.full(len(mi), t, dtype=np.int32))
            ora_out["full"].append(h_full.astype(np.float32))
            ora_out["rec"].append(h_rec.astype(np.float32))
        if progress is not None:
            progress(t + 1)

    # Background outcomes: anyone, any day, unpredictable.
    n_bg = int(rng.poisson(n * days * P.background_hazard))
    out_out["person"].append(rng.integers(0, n, n_bg))
    out_out["day"].append(rng.integers(0, days, n_bg))
    out_out["kind"].append(rng.choice(3, n_bg, p=[0.5, 0.2, 0.3]).astype(np.int8))

    def cat_(store, key, dtype=None):
        parts = store.get(key, [])
        arr = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype or np.int64)
        return arr.astype(dtype) if dtype else arr

    return RawWorld(
        d_cat=cat, d_start=start, d_end=end, d_status=status, d_first_call=first_call,
        p_disp=p_disp, p_person=p_person, p_aggr=p_aggr,
        c_disp=cat_(calls_out, "disp", np.int64), c_person=cat_(calls_out, "person", np.int64),
        c_day=cat_(calls_out, "day", np.int64), c_violence=cat_(calls_out, "violence", bool),
        c_weapon=cat_(calls_out, "weapon", bool), c_alcohol=cat_(calls_out, "alcohol", bool),
        c_threat_kind=cat_(calls_out, "tkind", np.int8), c_threat_by=cat_(calls_out, "tby", np.int64),
        c_disposition=cat_(calls_out, "disposition", np.int8), c_tension=cat_(calls_out, "tension", float),
        m_disp=cat_(med_out, "disp", np.int64), m_day=cat_(med_out, "day", np.int64),
        m_success=cat_(med_out, "result", np.int8),
        k_person=cat_(care_out, "person", np.int64), k_day=cat_(care_out, "day", np.int64),
        k_kind=cat_(care_out, "kind", np.int8),
        o_person=cat_(out_out, "person", np.int64), o_day=cat_(out_out, "day", np.int64),
        o_kind=cat_(out_out, "kind", np.int8),
        z_person=cat_(ora_out, "person", np.int64), z_day=cat_(ora_out, "day", np.int32),
        z_full=cat_(ora_out, "full", np.float32), z_records=cat_(ora_out, "rec", np.float32),
    )


def _apply(iv: Intervention | None, R, H, C, stopped) -> None:
    """Apply one day's interventions (repeated disputes compound)."""
    if iv is None:
        return
    np.multiply.at(R, iv.disputes, iv.r_factor)
    np.subtract.at(H, iv.disputes, iv.h_shift)
    stopped[iv.crisis[iv.resume]] = False
    np.subtract.at(C, iv.crisis, iv.c_shift)


def _outcome_kind(cat_idx, aggressor, failed, u):
    fam = np.isin(cat_idx, FAMILY_LIKE)
    soc = np.isin(cat_idx, SOCIETY_LIKE) & (failed >= 2)
    kind = np.where(u < 0.85, 0, np.where(u < 0.93, 1, 2))            # mostly violent cases
    kind = np.where(fam & ~aggressor, np.where(u < 0.45, 2, 0), kind)  # victims: self-harm
    kind = np.where(fam & aggressor, np.where(u < 0.8, 0, 1), kind)
    kind = np.where(soc, np.where(u < 0.5, 1, 0), kind)
    return kind.astype(np.int8)
