"""Interventions in the synthetic world: what a cadre's visit or mediation does to a person's risk.

The closed-loop evaluation (``training.loop``) lets simulated cadres act on alerts. A visit changes the
world through one small hook in :func:`features.simulate._dynamics.run_dynamics`: an optional
``intervene(t, state)`` callback, called at the start of every simulated day with a
:class:`DayState` (live references to the dynamics' arrays), which returns an :class:`Intervention`
(or None) that the dynamics apply before the day's events. Without a callback nothing changes: a
seed gives the same world bit for bit.

The efficacy model (:class:`InterventionParams`, each default with the range a sensitivity run draws it
from, :meth:`InterventionParams.draw`):

* a visit ``delay`` days after the alert has efficacy ``e0 = efficacy_max * exp(-delay / timeliness_days)``
  (a late visit finds the conflict hardened);
* on the visit day, each open (or recently resolved) dispute of the visited person loses the share
  ``e0`` of its recorded tension R and its hidden tension H drops by ``e0 * (max(H, 0) + h_shift_sd *
  sd(H))``: the other party's hazard falls too, as a mediation would do;
* the mediation keeps working and wears off: on the ``k``-th day after the visit the dispute loses a
  further share ``aftercare_share * e0 * efficacy_decay ** k`` of R and ``aftercare_share * e0 *
  efficacy_decay ** k * sd(H)`` of H; after that, H returns to its mean at the hidden tension's own
  persistence (``h_rho``) and new calls raise R again;
* a visited person with a severe mental illness resumes medication with probability ``e0 *
  crisis_resume`` and their crisis level drops by ``e0`` crisis standard deviations.

All randomness of an intervention comes from the caller's own generator (or, in the closed loop, a
common random number keyed by person and day, ``_crn``), never from the world's stream.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from features.simulate._crn import STREAMS, keyed_uniform

__all__ = ["InterventionParams", "Intervention", "DayState", "Visit", "InterventionModel", "PARAM_RANGES",
           "dispute_parties"]

#: The range each parameter is drawn from in a sensitivity run (uniform); the defaults are mid-range.
PARAM_RANGES: dict[str, tuple[float, float]] = {
    "efficacy_max": (0.35, 0.75),
    "timeliness_days": (7.0, 30.0),
    "h_shift_sd": (0.5, 1.5),
    "aftercare_share": (0.02, 0.08),
    "efficacy_decay": (0.95, 0.99),
    "crisis_resume": (0.5, 1.0),
}


@dataclass(frozen=True)
class InterventionParams:
    #: efficacy of a visit on the day of the alert (share of recorded tension removed)
    efficacy_max: float = 0.55
    #: e-folding of efficacy with the delay from alert to visit, days
    timeliness_days: float = 14.0
    #: hidden-tension drop on the visit day, in stationary standard deviations of H (times e0)
    h_shift_sd: float = 1.0
    #: daily aftercare effect as a share of e0 (R share removed, H sd removed), decaying
    aftercare_share: float = 0.05
    #: daily decay of the aftercare effect (0.97: half-life about 23 days)
    efficacy_decay: float = 0.97
    #: chance (times e0) that a visited person who stopped medication resumes it
    crisis_resume: float = 0.8
    #: the aftercare stops once its daily effect is below this share
    aftercare_floor: float = 0.002

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"{f.name}={v}: must be a non-negative number")
        if self.efficacy_max > 1 or self.efficacy_decay >= 1 or self.timeliness_days <= 0:
            raise ValueError("efficacy_max must be at most 1, efficacy_decay below 1 and timeliness_days positive")

    def efficacy(self, delay_days) -> np.ndarray:
        """Efficacy of visits made ``delay_days`` after their alerts."""
        d = np.maximum(np.asarray(delay_days, dtype=float), 0.0)
        return self.efficacy_max * np.exp(-d / self.timeliness_days)

    @classmethod
    def draw(cls, rng: np.random.Generator) -> InterventionParams:
        """Parameters drawn uniformly from :data:`PARAM_RANGES` (for sensitivity runs)."""
        return cls(**{k: float(rng.uniform(lo, hi)) for k, (lo, hi) in PARAM_RANGES.items()})


@dataclass
class Intervention:
    """What the dynamics apply today: ``R[disputes] *= r_factor``, ``H[disputes] -= h_shift``; for
    ``crisis`` (positions among the mentally ill) medication resumes where ``resume``, ``C -= c_shift``."""

    disputes: np.ndarray
    r_factor: np.ndarray
    h_shift: np.ndarray
    crisis: np.ndarray
    resume: np.ndarray
    c_shift: np.ndarray

    @classmethod
    def empty(cls) -> Intervention:
        z = np.zeros(0)
        return cls(z.astype(np.int64), z, z, z.astype(np.int64), z.astype(bool), z)


@dataclass
class DayState:
    """Live views of the dynamics on day ``t`` (read them; change the world only through an Intervention)."""

    t: int
    R: np.ndarray
    H: np.ndarray
    status: np.ndarray           # per dispute: 0 open, 1 resolved, 2 escalated
    active: np.ndarray           # disputes started and not yet closed
    tail: np.ndarray             # resolved disputes whose grievance still lingers
    party_start: np.ndarray
    party_count: np.ndarray
    p_person: np.ndarray
    mi: np.ndarray               # person index of each mentally ill person
    C: np.ndarray                # crisis level per mentally ill person
    stopped: np.ndarray          # medication stopped per mentally ill person
    h_sd: float                  # stationary sd of H
    c_sd: float                  # stationary sd of C
    outputs: dict                # the raw event lists so far (calls, mediations, care, outcomes, oracle)
    d_cat: np.ndarray            # per dispute: category index
    d_start: np.ndarray          # per dispute: start day
    first_call: np.ndarray       # per dispute: day of the first call (-1: not yet recorded)
    p_disp: np.ndarray           # parties: dispute index
    p_aggr: np.ndarray           # parties: aggressor flag

    def raw_so_far(self):
        """The raw events of days ``< t`` as a :class:`RawWorld` (for the tables a loop reads at ``t``)."""
        from features.simulate._dynamics import RawWorld

        o = self.outputs

        def col(store, key, dtype):
            parts = store.get(key, [])
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        c, m, k, out = o["calls"], o["mediations"], o["care"], o["outcomes"]
        end = np.full(len(self.d_cat), self.t)
        return RawWorld(
            d_cat=self.d_cat, d_start=self.d_start, d_end=end, d_status=self.status.copy(),
            d_first_call=self.first_call.copy(), p_disp=self.p_disp, p_person=self.p_person, p_aggr=self.p_aggr,
            c_disp=col(c, "disp", np.int64), c_person=col(c, "person", np.int64), c_day=col(c, "day", np.int64),
            c_violence=col(c, "violence", bool), c_weapon=col(c, "weapon", bool), c_alcohol=col(c, "alcohol", bool),
            c_threat_kind=col(c, "tkind", np.int8), c_threat_by=col(c, "tby", np.int64),
            c_disposition=col(c, "disposition", np.int8), c_tension=col(c, "tension", float),
            m_disp=col(m, "disp", np.int64), m_day=col(m, "day", np.int64), m_success=col(m, "result", np.int8),
            k_person=col(k, "person", np.int64), k_day=col(k, "day", np.int64), k_kind=col(k, "kind", np.int8),
            o_person=col(out, "person", np.int64), o_day=col(out, "day", np.int64), o_kind=col(out, "kind", np.int8),
            z_person=np.zeros(0, np.int64), z_day=np.zeros(0, np.int32), z_full=np.zeros(0, np.float32),
            z_records=np.zeros(0, np.float32))

    def hazard_yesterday(self, kind: str = "rec") -> tuple[np.ndarray, np.ndarray]:
        """(person index, daily hazard above background) of day ``t - 1``; ``kind`` "rec" (the records
        oracle) or "full" (the true hazard). Summed over a person's disputes and crisis."""
        z = self.outputs["oracle"]
        persons, values = [], []
        for i in range(len(z["day"]) - 1, -1, -1):
            if len(z["day"][i]) == 0:
                continue
            if z["day"][i][0] != self.t - 1:
                break
            persons.append(z["person"][i])
            values.append(z[kind][i])
        if not persons:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        pp, vv = np.concatenate(persons), np.concatenate(values).astype(float)
        u, inv = np.unique(pp, return_inverse=True)
        return u, np.bincount(inv, weights=vv)


@dataclass(frozen=True)
class Visit:
    person: int          # person index
    alert_day: int
    visit_day: int


class InterventionModel:
    """Turns scheduled visits into daily :class:`Intervention` records (the efficacy model above)."""

    def __init__(self, params: InterventionParams | None = None, rng: np.random.Generator | None = None,
                 crn: int | None = None):
        self.params = params or InterventionParams()
        self.rng = rng or np.random.default_rng(0)
        self.crn = crn          # a key: the medication draw keyed by (key, person, day) instead of ``rng``
        self._due: dict[int, list[Visit]] = {}
        self._care_d = np.zeros(0, dtype=np.int64)     # disputes under aftercare
        self._care_e = np.zeros(0)                     # their current daily effect (share)
        self.done: list[dict] = []                     # visits made: person, alert/visit day, efficacy, disputes
        self.horizon_days = 90                         # for the 90-day risk before and after each visit
        self._after: list[tuple[dict, np.ndarray]] = []

    def _risk(self, s: DayState, persons: np.ndarray) -> float:
        """Summed 90-day outcome probability of ``persons`` at yesterday's true hazard (state persisting)."""
        who, h = s.hazard_yesterday("full")
        hit = np.isin(who, persons)
        return float((1.0 - np.exp(-self.horizon_days * h[hit])).sum())

    def schedule(self, visits: list[Visit]) -> None:
        for v in visits:
            self._due.setdefault(int(v.visit_day), []).append(v)

    def pending(self) -> int:
        return sum(len(v) for v in self._due.values())

    def __call__(self, t: int, s: DayState) -> Intervention | None:
        P = self.params
        due = self._due.pop(t, [])
        for entry, persons in self._after:       # yesterday's visits: the risk once the visit took effect
            entry["risk_after"] = self._risk(s, persons)
        self._after = []
        # aftercare of earlier visits, decaying
        self._care_e = self._care_e * P.efficacy_decay
        keep = self._care_e >= P.aftercare_floor
        self._care_d, self._care_e = self._care_d[keep], self._care_e[keep]
        if not due and not len(self._care_d):
            return None
        return self._effects(t, s, due)

    def _effects(self, t: int, s: DayState, due: list[Visit]) -> Intervention:
        P = self.params
        d_parts, rf_parts, hs_parts = [], [], []
        if len(self._care_d):
            d_parts.append(self._care_d)
            rf_parts.append(1.0 - self._care_e)
            hs_parts.append(self._care_e * s.h_sd)
        cr, res, cs = [], [], []
        if due:
            persons = np.array([v.person for v in due], dtype=np.int64)
            e0 = P.efficacy(np.array([v.visit_day - v.alert_day for v in due]))
            disp_of_row, who = dispute_parties(s, np.concatenate([s.active[s.status[s.active] == 0], s.tail]))
            for person, e, v in zip(persons, e0, due, strict=True):
                mine = np.unique(disp_of_row[who == person])
                touched = np.unique(np.concatenate([[person], who[np.isin(disp_of_row, mine)]]))
                if len(mine):
                    d_parts.append(mine)
                    rf_parts.append(np.full(len(mine), 1.0 - e))
                    hs_parts.append(e * (np.maximum(s.H[mine], 0.0) + P.h_shift_sd * s.h_sd))
                    self._care_d = np.concatenate([self._care_d, mine])
                    self._care_e = np.concatenate([self._care_e, np.full(len(mine), P.aftercare_share * e)])
                pos = np.flatnonzero(s.mi == person)
                if len(pos):
                    cr.append(pos)
                    u = (self.rng.random(len(pos)) if self.crn is None
                         else keyed_uniform(self.crn, STREAMS["visit_resume"], np.full(len(pos), person), t))
                    res.append(s.stopped[pos] & (u < e * P.crisis_resume))
                    cs.append(np.full(len(pos), e * s.c_sd))
                entry = {"person": int(person), "alert_day": int(v.alert_day), "visit_day": int(t),
                         "efficacy": float(e), "disputes": int(len(mine)), "crisis": bool(len(pos)),
                         "dispute_ids": " ".join(str(int(d)) for d in mine),
                         "risk_before": self._risk(s, touched), "risk_after": float("nan")}
                self.done.append(entry)
                self._after.append((entry, touched))
        cat = np.concatenate
        return Intervention(
            disputes=cat(d_parts) if d_parts else np.zeros(0, dtype=np.int64),
            r_factor=cat(rf_parts) if rf_parts else np.zeros(0),
            h_shift=cat(hs_parts) if hs_parts else np.zeros(0),
            crisis=cat(cr) if cr else np.zeros(0, dtype=np.int64),
            resume=cat(res) if res else np.zeros(0, dtype=bool),
            c_shift=cat(cs) if cs else np.zeros(0),
        )


def dispute_parties(s: DayState, scope: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every party of the disputes ``scope`` as two aligned arrays: the dispute, the person."""
    counts = s.party_count[scope]
    rows = np.repeat(s.party_start[scope], counts) + _within(counts)
    return np.repeat(scope, counts), s.p_person[rows]


def _within(counts: np.ndarray) -> np.ndarray:
    """0..c-1 for each count, concatenated."""
    if not len(counts):
        return np.zeros(0, dtype=np.int64)
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total) - starts
