"""The closed loop: simulated cadres act on alerts, and the world answers (issue 19).

One run is one synthetic world (a seed) under one policy. The world advances day by day
(``features.simulate``'s dynamics); every ``step_days`` (30: one scoring run per budget period, see
below) of the loop window the runner

1. writes the records so far into tables (the simulator's own record builder) and opens them with
   ``features.store.EventStore`` (the catalog SQL, the same features serving computes);
2. scores the population as of that day with the policy under test, within the counties' alert
   budgets (``training.budget``; the fused policy through ``training.policy_backtest.apply_policy``);
3. simulates review (a share of alerts is accepted) and visits: an acknowledgement delay, then at most
   ``visits_per_grid_per_week`` visits in each residence grid (a queue per grid);
4. hands the visits to the simulator's intervention model (``features.simulate._intervention``), which
   lowers the tension of the visited people's disputes by an efficacy that falls with the delay;
5. lets outcomes happen. After the window, ``tail_days`` more days run without alerts so late effects
   are counted.

Steps: monthly by default (``step_days`` 30, one scoring run per budget period). ``step_days`` 7 gives
weekly steps: each county accrues its per-period budget in weekly shares and alerts when a whole alert
has accrued (``_Loop._step_budgets``); retraining stays at loop months ``retrain_steps``. Weekly steps
cost four times the store rebuilds; docs/prevention.md gives the measured comparison.

Policies at the same visit budget: ``none`` (no system), ``random`` (people with records, at random),
``rules`` (the rules-only baseline ranking), ``model`` (calibrated probability, no floors), ``fused``
(the fusion policy: per-county bars fixed for the model version, floors, urgent hits, the ceiling) and
``oracle`` (the simulator's records oracle, ``hazard_records``). Every policy fills the same per-county
budgets; the fused policy may fill less where too few people pass its bars.

One alert per open dispute (``one_per_dispute``, off by default): a visit mediates all of the visited
person's disputes, so two alerts on the parties of one dispute in one step spend two visits on it. With
the rule, only the highest-ranked party is alerted, the others go on the watch list and their budget
slots pass to the next candidates; every step logs how many alerts shared a dispute (``same_dispute``).
docs/prevention.md gives the measured effect (about 1% of alerts; no change in prevention).

Treatment-aware training: every visit is recorded (``LoopRun.visits``). When the model is retrained
inside the loop, snapshots whose label window overlaps a visit of that person (a visit in ``(as_of -
treated_lookback_days, as_of + horizon]``) are *excluded* from training (``handling="exclude"``); the
naive model (``handling="naive"``) keeps them. Both are scored against the oracle on the people not
visited recently.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from features.simulate._crn import STREAMS, keyed_uniform
from features.simulate._intervention import InterventionParams
from training.budget import BudgetConfig, budget_cuts, county_budgets, county_of, fit_thresholds, rank_keys
from training.policy_backtest import PolicySpec, apply_policy, hit_levels

__all__ = ["LoopConfig", "LoopRun", "POLICIES", "POLICY_LABELS", "run_policy", "run_seed", "train_in_loop",
           "soft_auc", "treated_mask"]

POLICIES = ("none", "random", "rules", "model", "fused", "oracle")
POLICY_LABELS = {"none": "无系统", "random": "随机走访", "rules": "仅规则", "model": "仅模型", "fused": "融合策略",
                 "oracle": "真值上限"}
HANDLINGS = ("exclude", "naive")


@dataclass(frozen=True)
class LoopConfig:
    people: int = 40_000
    start_date: str = "2024-01-01"
    burn_in_days: int = 365          # history before the window (features in steady state)
    pre_days: int = 365              # window days before the loop: the first model's training history
    loop_days: int = 360             # days with alerts
    tail_days: int = 90              # days after the loop without alerts (late effects are counted)
    step_days: int = 30
    accept_share: float = 0.8        # share of alerts reviewers accept
    ack_delay_days: tuple[int, int] = (1, 7)   # acknowledgement delay, uniform (days)
    revisit_gap_days: int = 60       # a person visited this recently is not alerted again
    retrain_steps: tuple[int, ...] = (4, 8)    # loop steps at which the model is retrained (two cycles)
    treated_lookback_days: int = 90  # a visit this long before a snapshot still shapes its label window
    horizon_days: int = 90
    validation_snapshots: int = 5    # the last snapshots of a retraining set: early stopping and calibration
    exclude_recent_outcome_days: int = 30
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    spec: PolicySpec = field(default_factory=PolicySpec)
    intervention: InterventionParams | None = None   # None: the defaults
    #: the fused policy's order inside a county's budget: "floor" (serving's: floor-rule hits first, then
    #: the calibrated probability) or "risk" (the calibrated probability only; floors still set levels)
    fused_rank: str = "floor"
    #: one alert per open dispute and step: of two or more chosen parties of one open dispute only the
    #: highest-ranked is alerted, the others go on the watch list and their slots pass to the next candidates
    one_per_dispute: bool = False

    def __post_init__(self) -> None:
        if self.fused_rank not in ("floor", "risk"):
            raise ValueError(f"fused_rank {self.fused_rank!r}: choose 'floor' or 'risk'")

    @property
    def loop_start(self) -> int:
        return self.burn_in_days + self.pre_days

    @property
    def total_days(self) -> int:
        return self.loop_start + self.loop_days + self.tail_days

    def steps(self) -> list[int]:
        return list(range(self.loop_start, self.loop_start + self.loop_days, self.step_days))


@dataclass
class LoopRun:
    seed: int
    policy: str
    visits: pd.DataFrame              # person_id, alert_day, visit_day, efficacy, risk_before, risk_after, ...
    alerts: int
    outcomes: pd.DataFrame            # outcomes in the evaluation window: person index, day, kind
    expected_outcomes: float          # sum of the true daily hazard over the window (plus background)
    auc: pd.DataFrame | None = None   # per step and model: soft AUC against the true hazard, and the oracle's
    seconds: float = 0.0
    steps: list[dict] = field(default_factory=list)


# -- metrics -------------------------------------------------------------------------------------------
def soft_auc(score: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC of ``score`` against soft labels ``p`` (each row a positive with weight p, a negative with
    weight 1-p): the expected AUC against outcomes drawn from ``p``, without the draw's noise.

    >>> round(soft_auc(np.array([0.1, 0.2, 0.9]), np.array([0.0, 0.0, 1.0])), 3)
    1.0
    """
    s = np.asarray(score, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    _, inv = np.unique(s, return_inverse=True)          # tie groups in ascending score order
    q = 1.0 - p
    grp_neg = np.bincount(inv, weights=q)
    below = (np.cumsum(grp_neg) - grp_neg)[inv]         # negative weight strictly below each row
    ties = grp_neg[inv] - q                             # negative weight tied with it (itself excluded)
    pairs = p.sum() * q.sum() - (p * q).sum()
    if pairs <= 0:
        return float("nan")
    return float((p * (below + 0.5 * ties)).sum() / pairs)


def treated_mask(frame: pd.DataFrame, visits: pd.DataFrame, lookback_days: int, horizon_days: int) -> np.ndarray:
    """True for snapshot rows (person_id, as_of) whose person had a visit in (as_of - lookback, as_of +
    horizon]: their label window was shaped by an intervention."""
    if visits is None or visits.empty or frame.empty:
        return np.zeros(len(frame), dtype=bool)
    keys = frame[["person_id", "as_of"]].reset_index(drop=True).reset_index()
    m = keys.merge(visits[["person_id", "visit_time"]], on="person_id", how="inner")
    lo = m["as_of"] - pd.Timedelta(days=lookback_days)
    hi = m["as_of"] + pd.Timedelta(days=horizon_days)
    hit = m.loc[(m["visit_time"] > lo) & (m["visit_time"] <= hi), "index"].unique()
    out = np.zeros(len(frame), dtype=bool)
    out[hit] = True
    return out


# -- training inside the loop ------------------------------------------------------------------------
def train_in_loop(store, as_of: pd.Timestamp, first: pd.Timestamp, counties: dict[str, str | None],
                  budgets: dict[str, int], cfg: LoopConfig, visits: pd.DataFrame | None, handling: str,
                  version: str):
    """A model and its per-county bars from the records before ``as_of`` (monthly snapshots from ``first``
    whose label window ends before ``as_of``). ``handling``: "exclude" drops snapshots whose label window
    overlaps a visit of that person; "naive" keeps them. Returns (model, thresholds, info)."""
    from features.catalog import FEATURE_NAMES
    from training.config import load_config
    from training.fit import fit_model
    from training.snapshots import hash_fraction, label_snapshots, recent_outcome_mask

    if handling not in HANDLINGS:
        raise ValueError(f"handling {handling!r}: choose one of {HANDLINGS}")
    # one thread: on a shared 2-core machine OpenMP with 2 threads spins (measured 0.5 s per tree vs ~0.02 s)
    tcfg = load_config(None, overrides={"model": {"params": {**load_config(None).model.params, "num_threads": 1}}})
    last = as_of - pd.Timedelta(days=cfg.horizon_days)
    dates = list(pd.date_range(first, last, freq=f"{cfg.step_days}D"))
    frame = store.features(dates, progress=False)
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame["person_id"] = frame["person_id"].astype(str)
    keep = np.zeros(len(frame), dtype=bool)
    for d in dates:
        pop = set(store.population(d, lookback_days=365))
        keep |= ((frame["as_of"] == d) & frame["person_id"].isin(pop)).to_numpy()
    frame = frame.loc[keep].reset_index(drop=True)
    outcomes = store.table("outcomes").assign(person_id=lambda d: d["person_id"].astype(str))
    # only outcomes recorded before as_of are known to the trainer
    outcomes = outcomes[outcomes["recorded_at"] < as_of]
    frame["label"] = label_snapshots(frame, outcomes, cfg.horizon_days).to_numpy()
    frame = frame.loc[~recent_outcome_mask(frame, outcomes, cfg.exclude_recent_outcome_days).to_numpy()]
    frame = frame.reset_index(drop=True)
    treated = treated_mask(frame, visits, cfg.treated_lookback_days, cfg.horizon_days)
    frame["intervened"] = treated                 # the recorded covariate (never a feature)
    used = frame if handling == "naive" else frame.loc[~treated]
    snaps = sorted(used["as_of"].unique())
    val_dates = snaps[-cfg.validation_snapshots:]
    train_rows = used[used["as_of"] <= val_dates[0] - pd.Timedelta(days=cfg.horizon_days)]
    val = used[used["as_of"].isin(val_dates)]
    cal_mask = hash_fraction(val["person_id"]) < 0.5
    feats = [c for c in FEATURE_NAMES if c in frame.columns]
    fit = fit_model(train_rows, val.loc[~cal_mask], val.loc[cal_mask], feats, tcfg,
                    metadata={"model_version": version, "treatment_handling": handling})
    model = fit.model
    p = model.predict_risk(val)
    th = fit_thresholds(p, [counties.get(x) for x in val["person_id"]], val["as_of"].astype(str).tolist(), budgets,
                        cfg.budget, detail={"model_version": version})
    info = {"rows": int(len(frame)), "rows_used": int(len(used)), "treated_rows": int(treated.sum()),
            "positives_used": int(used["label"].sum()), "snapshots": len(dates), "handling": handling}
    return model, th, info


def _open_disputes(s, idx: np.ndarray) -> dict[int, np.ndarray]:
    """Row of ``idx`` -> the open disputes (dispute indices) that person is a party to today."""
    from features.simulate._intervention import dispute_parties

    disp, who = dispute_parties(s, s.active[s.status[s.active] == 0])
    pos = {int(p): r for r, p in enumerate(idx)}
    out: dict[int, list[int]] = {}
    for p, d in zip(who.tolist(), disp.tolist(), strict=True):
        r = pos.get(p)
        if r is not None:
            out.setdefault(r, []).append(d)
    return {r: np.asarray(v, dtype=np.int64) for r, v in out.items()}


def _shared_dispute(chosen: np.ndarray, score: np.ndarray, parties: dict[int, np.ndarray]) -> np.ndarray:
    """Chosen rows that share an open dispute with a chosen row ranked above them (by ``score``, ties by
    row): the second and later alerts spent on one dispute."""
    out = np.zeros(len(chosen), dtype=bool)
    rows = np.flatnonzero(chosen)
    rows = rows[np.argsort(-score[rows], kind="stable")]
    seen: set[int] = set()
    for r in rows:
        mine = parties.get(int(r))
        if mine is None:
            continue
        ds = set(mine.tolist())
        if ds & seen:
            out[r] = True
        else:
            seen |= ds
    return out


# -- one run -----------------------------------------------------------------------------------------
class _World:
    """The world of one seed: geography, people and parameters (rebuilt identically for every policy)."""

    def __init__(self, seed: int, cfg: LoopConfig):
        from features.simulate._geography import build_geography
        from features.simulate._params import SimParams
        from features.simulate._people import build_people

        self.seed, self.cfg = seed, cfg
        params = SimParams(start_date=cfg.start_date, burn_in_days=cfg.burn_in_days)
        self.rng = np.random.default_rng(seed)
        self.geo, grid_pops = build_geography(cfg.people, params, self.rng)
        self.persons = build_people(cfg.people, self.geo, grid_pops, params, self.rng)
        start = pd.Timestamp(params.start_date)
        self.history = replace(params, start_date=str((start - pd.Timedelta(days=cfg.burn_in_days)).date()))
        self.day0 = pd.Timestamp(self.history.start_date)
        t = self.persons.table
        self.pid = t["person_id"].astype(str).to_numpy()
        self.index = {p: i for i, p in enumerate(self.pid)}
        self.county = {p: county_of(h, r) for p, h, r in zip(
            self.pid, t["hukou_address_code"].astype("string"), t["residence_address_code"].astype("string"),
            strict=True)}
        g = self.geo.grids
        self.budgets = county_budgets(g["county_code"].astype(str).tolist(), cfg.budget,
                                      g["prefecture_code"].astype(str).tolist())

    def date(self, t: int) -> pd.Timestamp:
        return self.day0 + pd.Timedelta(days=t)

    def store_at(self, s):
        from features.simulate._records import build_tables
        from features.store import EventStore

        raw = s.raw_so_far()
        tables = build_tables(raw, self.persons, self.geo, self.history,
                              np.random.default_rng([self.seed, s.t]), s.t)
        return EventStore.from_tables(tables)


class _Loop:
    """The callback the dynamics call every day: scoring and visits on step days, interventions daily."""

    def __init__(self, world: _World, policy: str, cfg: LoopConfig, cache: dict):
        from features.simulate._intervention import InterventionModel

        self.w, self.policy, self.cfg, self.cache = world, policy, cfg, cache
        self.rng = np.random.default_rng([world.seed, POLICIES.index(policy), 19])
        self.iv = InterventionModel(cfg.intervention, np.random.default_rng([world.seed, 7]), crn=world.seed)
        self.iv.horizon_days = cfg.horizon_days
        self.steps = set(cfg.steps()) if policy != "none" else set()
        # retraining at loop month k (the first step on or after it, whatever the step length)
        steps = cfg.steps()
        self.retrain_days = {next(d for d in steps if d >= cfg.loop_start + k * cfg.budget.period_days)
                             for k in cfg.retrain_steps if cfg.loop_start + k * cfg.budget.period_days <= steps[-1]}
        self.credit: dict[str, float] = {}
        self.grid_free = np.zeros(len(world.geo.grids))
        self.last_visit: dict[int, int] = {}
        self.alerts = 0
        self.models: dict[str, tuple] = {}
        self.log: list[dict] = []
        self.auc_rows: list[dict] = []
        self.ruleset: Any = None
        self._base: tuple | None = None        # this step's scores, reused by the watch-list passes

    # the dynamics call this at the start of every day
    def __call__(self, t: int, s):
        if t in self.steps:
            self._step(t, s)
        return self.iv(t, s)

    def _visits_table(self) -> pd.DataFrame:
        d = pd.DataFrame(self.iv.done)
        if d.empty:
            return pd.DataFrame(columns=["person_id", "visit_time"])
        d["person_id"] = self.w.pid[d["person"].to_numpy(int)]
        d["visit_time"] = self.w.day0 + pd.to_timedelta(d["visit_day"], unit="D")
        return d

    def _step_budgets(self) -> dict[str, int]:
        """Alerts each county may raise at this step: its budget per ``period_days`` run times the step's
        share of the period, accrued as a credit (weekly steps: a county with one alert a month alerts
        every fourth week). With monthly steps this is exactly the per-run budget; unused alerts never
        carry over."""
        share = self.cfg.step_days / self.cfg.budget.period_days
        out = {}
        for c, b in self.w.budgets.items():
            self.credit[c] = self.credit.get(c, 0.0) + b * share
            out[c] = int(np.floor(self.credit[c] + 1e-9))
            self.credit[c] -= out[c]
        return out

    def _first_model(self, store, t: int):
        key = ("first", self.w.seed, t)
        if key not in self.cache:
            first = self.w.date(self.cfg.burn_in_days // 2)
            self.cache[key] = train_in_loop(store, self.w.date(t), first, self.w.county, self.w.budgets, self.cfg,
                                            None, "exclude", f"loop-{self.w.seed}-c1")
        return self.cache[key]

    def _step(self, t: int, s) -> None:
        import rules

        t0 = time.perf_counter()
        w, cfg = self.w, self.cfg
        as_of = w.date(t)
        if self.policy in ("rules", "model", "fused"):
            f = self._features(s, as_of)
        else:   # random and oracle need no features: the population straight from the raw events
            f = self._population(s, t, as_of)
        idx = np.array([w.index[p] for p in f["person_id"]], dtype=np.int64)
        recent = np.array([t - self.last_visit.get(int(i), -10**6) < cfg.revisit_gap_days for i in idx], dtype=bool)
        counties = [w.county[p] for p in f["person_id"]]
        pids = f["person_id"].tolist()

        if self.policy in ("model", "fused"):
            if "current" not in self.models:
                self.models["current"] = self._first_model(self.store, t)[:2]
                self.models["c1"] = self.models["current"]
            if t in self.retrain_days and self.policy == "fused":
                self._retrain(self.store, t)
            if self.policy == "fused":
                self._score_models(f, s, idx, recent)

        if self.ruleset is None:
            self.ruleset = rules.load_ruleset(None)
        budgets = self._step_budgets()
        parties = _open_disputes(s, idx)
        blocked = np.zeros(len(idx), dtype=bool)
        self._base = None
        chosen, score, extra = self._select(f, s, idx, recent, counties, pids, budgets, blocked)
        # one alert per open dispute: a party who shares an open dispute with a higher-ranked chosen
        # party goes on the watch list, and the budget slot passes to the next candidate
        shared = _shared_dispute(chosen, score, parties)
        extra["same_dispute"] = int(shared.sum())
        for _ in range(4 if cfg.one_per_dispute else 0):
            if not shared.any():
                break
            blocked |= shared
            chosen, score, extra2 = self._select(f, s, idx, recent, counties, pids, budgets, blocked)
            extra = {**extra2, "same_dispute": extra["same_dispute"]}
            shared = _shared_dispute(chosen, score, parties)
        extra["watch_listed"] = int((blocked & ~chosen).sum())
        extra["same_dispute_left"] = int(shared.sum())
        self.alerts += int(chosen.sum())
        # review, acknowledgement, visits (a queue per residence grid)
        rows = np.flatnonzero(chosen)
        rows = rows[np.argsort(-score[rows], kind="stable")]
        # review and acknowledgement: common random numbers keyed by (seed, person, alert day), so two
        # policies alerting the same person on the same day see the same reviewer and the same delay
        accepted = rows[keyed_uniform(w.seed, STREAMS["review"], idx[rows], t) < cfg.accept_share]
        gap = 7.0 / cfg.budget.visits_per_grid_per_week
        end = cfg.loop_start + cfg.loop_days + cfg.tail_days
        from features.simulate._intervention import Visit

        visits = []
        for r in accepted:
            person = int(idx[r])
            g = int(w.persons.res_grid[person])
            lo_ack, hi_ack = cfg.ack_delay_days
            ack = lo_ack + min(int(keyed_uniform(w.seed, STREAMS["ack"], person, t)[()] * (hi_ack - lo_ack + 1)),
                               hi_ack - lo_ack)
            day = int(np.ceil(max(t + ack, self.grid_free[g])))
            if day >= end:
                continue
            self.grid_free[g] = day + gap
            self.last_visit[person] = day
            visits.append(Visit(person, t, day))
        self.iv.schedule(visits)
        self.log.append({"day": t, "as_of": str(as_of.date()), "population": len(f), "alerts": int(chosen.sum()),
                         "accepted": len(accepted), "scheduled": len(visits), **extra,
                         "seconds": round(time.perf_counter() - t0, 2)})

    def _select(self, f, s, idx, recent, counties, pids, budgets, blocked):
        """The step's alerts within the county budgets, leaving out ``recent`` and ``blocked`` rows."""
        cfg = self.cfg
        if self.policy == "fused":
            model, th = self.models["current"]
            th = replace(th, budgets={**th.budgets, **budgets})
            if self._base is None:
                self._base = (model.predict_risk(f), *hit_levels(self.ruleset, f, cfg.spec)[:2])
            prob, floor, urgent = self._base
            off = recent | blocked
            prob = np.where(off, -1.0, prob)            # visited recently: handled, not re-alerted
            floor = np.where(off, 0, floor).astype(np.int8)
            urgent = urgent & ~recent                # an urgent hit is always alerted, shared dispute or not
            res = apply_policy(prob, counties, pids, floor, urgent, th)
            if cfg.fused_rank == "risk":     # the same candidates, ranked inside the budget by probability only
                cand = res["alert"] | res["over_budget"]
                _, inside = budget_cuts(cand, rank_keys(np.zeros(len(prob), dtype=np.int8), prob, pids), counties, th)
                chosen = (inside & ~off) | res["urgent"]
            else:
                chosen = (res["alert"] & ~off) | res["urgent"]
            score = prob
            extra = {"floor_alerts": int((chosen & (floor > 0)).sum()), "urgent_alerts": int(res["urgent"].sum()),
                     "over_budget": int(res["over_budget"].sum())}
        else:
            extra = {}
            if self._base is None:
                self._base = (self._score(f, s, idx),)
            score = np.where(recent | blocked, -np.inf, self._base[0])
            keys = rank_keys(np.zeros(len(score), dtype=np.int8), score, pids)
            from training.budget import AlertThresholds

            th0 = AlertThresholds({}, budgets, {})
            _, chosen = budget_cuts(np.isfinite(score), keys, counties, th0)
        return chosen, score, extra

    def _features(self, s, as_of: pd.Timestamp) -> pd.DataFrame:
        """The population's features as of ``as_of`` from the records so far (what serving would score)."""
        from training.snapshots import recent_outcome_mask

        store = self.store = self.w.store_at(s)
        f = store.features(as_of, progress=False)
        f["person_id"] = f["person_id"].astype(str)
        f["as_of"] = pd.to_datetime(f["as_of"])
        pop = set(store.population(as_of, lookback_days=365))
        f = f[f["person_id"].isin(pop)].reset_index(drop=True)
        outcomes = store.table("outcomes").assign(person_id=lambda d: d["person_id"].astype(str))
        recent = recent_outcome_mask(f, outcomes, self.cfg.exclude_recent_outcome_days).to_numpy()
        return f.loc[~recent].reset_index(drop=True)

    def _population(self, s, t: int, as_of: pd.Timestamp) -> pd.DataFrame:
        """People with a call, mediation or care record in the last 365 days and no outcome in the last 30
        (from the raw events: late recording ignored), for the policies that need no features."""
        o = s.outputs

        def recent_people(store, key, days):
            parts = [p[d >= t - days] for p, d in zip(store.get(key, []), store.get("day", []), strict=True)]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

        people = [recent_people(o["calls"], "person", 365), recent_people(o["care"], "person", 365)]
        md = o["mediations"]
        if md.get("disp"):
            disp = np.concatenate([d[day >= t - 365] for d, day in zip(md["disp"], md["day"], strict=True)])
            rows = np.isin(s.p_disp, disp)
            people.append(s.p_person[rows])
        pop = np.unique(np.concatenate(people))
        pop = pop[~np.isin(pop, recent_people(o["outcomes"], "person", self.cfg.exclude_recent_outcome_days))]
        return pd.DataFrame({"person_id": self.w.pid[pop], "as_of": as_of})

    def _score(self, f: pd.DataFrame, s, idx: np.ndarray) -> np.ndarray:
        if self.policy == "random":
            return self.rng.random(len(f))
        if self.policy == "model":
            return self.models["current"][0].predict_risk(f)
        if self.policy == "rules":
            import rules

            hits = rules.evaluate_batch(self.ruleset, f)
            return np.asarray(rules.rules_baseline_score(hits, f[["person_id", "as_of"]]), dtype=float)
        if self.policy == "oracle":
            who, h = s.hazard_yesterday("rec")
            m = dict(zip(who.tolist(), h.tolist(), strict=True))
            return np.array([m.get(int(i), 0.0) for i in idx])
        raise ValueError(f"unknown policy {self.policy!r}")

    def _retrain(self, store, t: int) -> None:
        visits = self._visits_table()
        first = self.w.date(self.cfg.burn_in_days // 2)
        cycle = 2 + sorted(self.retrain_days).index(t)
        from training.errors import TrainingDataError

        for handling in HANDLINGS:
            try:
                model, th, info = train_in_loop(store, self.w.date(t), first, self.w.county, self.w.budgets,
                                                self.cfg, visits, handling, f"loop-{self.w.seed}-c{cycle}-{handling}")
            except TrainingDataError as e:   # e.g. no positives left once treated windows are excluded
                self.log.append({"day": t, "retrain": f"c{cycle}-{handling}", "failed": str(e)})
                continue
            self.models[f"c{cycle}-{handling}"] = (model, th)
            self.log.append({"day": t, "retrain": f"c{cycle}-{handling}", **info})
        if f"c{cycle}-exclude" in self.models:
            self.models["current"] = self.models[f"c{cycle}-exclude"]

    def _score_models(self, f: pd.DataFrame, s, idx: np.ndarray, recent: np.ndarray) -> None:
        """Every model so far against the true hazard, on the people not visited recently."""
        who, h = s.hazard_yesterday("full")
        m = dict(zip(who.tolist(), h.tolist(), strict=True))
        hf = np.array([m.get(int(i), 0.0) for i in idx])
        who_r, hr = s.hazard_yesterday("rec")
        mr = dict(zip(who_r.tolist(), hr.tolist(), strict=True))
        hrec = np.array([mr.get(int(i), 0.0) for i in idx])
        p = 1 - np.exp(-self.cfg.horizon_days * hf)
        keep = ~recent
        oracle_auc = soft_auc(hrec[keep], p[keep])
        for name, (model, _th) in self.models.items():
            if name == "current":
                continue
            a = soft_auc(model.predict_risk(f)[keep], p[keep])
            self.auc_rows.append({"day": s.t, "model": name, "auc": a, "oracle_auc": oracle_auc,
                                  "ratio": a / oracle_auc if oracle_auc else float("nan")})


def run_policy(seed: int, policy: str, cfg: LoopConfig, cache: dict | None = None) -> LoopRun:
    """One world (``seed``) under one policy, from the first day of history to the end of the tail."""
    from features.simulate._dynamics import run_dynamics

    if policy not in POLICIES:
        raise ValueError(f"policy {policy!r}: choose one of {POLICIES}")
    t0 = time.perf_counter()
    cache = {} if cache is None else cache
    w = _World(seed, cfg)
    loop = _Loop(w, policy, cfg, cache)
    # every policy, "none" included, runs in the loop mode: common random numbers keyed by the seed
    raw = run_dynamics(w.persons, cfg.total_days, w.history, w.rng, intervene=loop, crn=seed)
    lo = cfg.loop_start
    keep = raw.o_day >= lo
    outcomes = pd.DataFrame({"person": raw.o_person[keep], "day": raw.o_day[keep], "kind": raw.o_kind[keep]})
    zk = raw.z_day >= lo
    expected = float(raw.z_full[zk].sum(dtype=np.float64)
                     + cfg.people * (cfg.total_days - lo) * w.history.background_hazard)
    visits = loop._visits_table()
    auc = pd.DataFrame(loop.auc_rows) if loop.auc_rows else None
    return LoopRun(seed, policy, visits, loop.alerts, outcomes, expected, auc, round(time.perf_counter() - t0, 1),
                   loop.log)


def run_seed(seed: int, cfg: LoopConfig, policies=POLICIES, progress=None) -> dict[str, LoopRun]:
    cache: dict = {}
    out = {}
    for p in policies:
        out[p] = run_policy(seed, p, cfg, cache)
        if progress is not None:
            progress(seed, p, out[p])
    return out


def _seed_job(args) -> tuple[int, dict[str, LoopRun]]:
    seed, cfg, policies = args
    return seed, run_seed(seed, cfg, policies)


def run_seeds(seeds, cfg: LoopConfig, policies=POLICIES, jobs: int = 1, progress=None) -> dict[int, dict[str, LoopRun]]:
    """Every policy on every seed; ``jobs`` > 1 runs seeds in parallel processes."""
    seeds = [int(s) for s in seeds]
    if jobs <= 1 or len(seeds) == 1:
        return {s: run_seed(s, cfg, policies, progress) for s in seeds}
    from concurrent.futures import ProcessPoolExecutor

    out: dict[int, dict[str, LoopRun]] = {}
    with ProcessPoolExecutor(max_workers=min(jobs, len(seeds))) as ex:
        for seed, runs in ex.map(_seed_job, [(s, cfg, tuple(policies)) for s in seeds]):
            out[seed] = runs
            if progress is not None:
                for p, r in runs.items():
                    progress(seed, p, r)
    return out
