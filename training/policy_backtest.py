"""The policy backtest: the whole fusion policy (rules + model + budget) on monthly snapshots of history.

For each snapshot it applies what the scoring service applies (training.budget: per-county bars fixed
for the model version, urgent and floor-rule hits, the per-county ceiling) to everyone the service
would score, and compares the alerts with what happened in the following ``horizon_days``:

* per level and overall: alerts, alerts per grid per week, precision, recall;
* at the same volume: rules-only (the rules baseline ranking), model-only (one global ranking, no
  county budget) and the records oracle (features.simulate.oracle_scores: the best any score built from
  the records could do);
* per prefecture: alerts per grid per week against the budget;
* the re-alert rate (alerts of a snapshot that were alerts at the previous one);
* a volume-recall curve; urgent hits (outside the budget) counted separately;
* the old policy (every rule hit a level floor) for comparison, and each rule's precision (a rule may
  be a floor only where its precision earns it).

People with an outcome recorded in the ``exclude_days`` before a snapshot are left out, as in training
(they are already in the case process).

>>> # from training.policy_backtest import policy_backtest, validation_thresholds
>>> # th = validation_thresholds(model, "weimeng-data/world", BudgetConfig())
>>> # result = policy_backtest(model, "weimeng-data/world", PolicySpec(), th)
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.budget import (
    LEVEL_INDEX,
    AlertThresholds,
    BudgetConfig,
    budget_cuts,
    county_budgets,
    county_of,
    fit_thresholds,
    rank_keys,
)
from training.evaluate import expected_hits_at_k

__all__ = ["PolicySpec", "PolicyBacktest", "validation_thresholds", "validation_dates", "apply_policy", "hit_levels",
           "policy_backtest", "to_markdown", "to_html", "write_report", "recall_at_budget", "GOALS"]

LEVELS = ("none", "yellow", "orange", "red")
#: The goals of issue 12, as checked by :attr:`PolicyBacktest.goals`.
GOALS = {"volume_tolerance": 0.10, "lift_over_rules": 1.5, "ratio_to_oracle": 0.95}
VOLUME_MULTIPLES = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)


@dataclass(frozen=True)
class PolicySpec:
    """The parts of the fusion policy the backtest needs (serving's FusionPolicy carries the same)."""

    budget: BudgetConfig = field(default_factory=BudgetConfig)
    floor_rules: tuple[str, ...] = ()
    raise_level: bool = False
    urgent_level: str = "red"
    version: str = "?"

    @classmethod
    def from_policy(cls, policy) -> PolicySpec:
        return cls(policy.budget, tuple(policy.floor_rules), bool(policy.raise_level), policy.urgent_level,
                   str(policy.version))


# -- the world -----------------------------------------------------------------------------------------
class _World:
    def __init__(self, data_dir: str | Path):
        from features.store import EventStore

        self.dir = Path(data_dir)
        self.store = EventStore.open(self.dir, progress=False)
        grids = self.store.table("grids")
        self.grids = grids
        persons = self.store.table("persons")
        places = zip(persons["hukou_address_code"].astype("string"), persons["residence_address_code"].astype("string"),
                     strict=True)
        self.county = dict(zip(persons["person_id"].astype(str), (county_of(h, r) for h, r in places), strict=True))
        self.prefecture_of_county = dict(zip(grids["county_code"].astype(str), grids["prefecture_code"].astype(str),
                                             strict=True))
        self.grids_per_prefecture = grids.groupby(grids["prefecture_code"].astype(str)).size().to_dict()
        self.outcomes = self.store.table("outcomes").assign(person_id=lambda d: d["person_id"].astype(str))

    def budgets(self, cfg: BudgetConfig) -> dict[str, int]:
        return county_budgets(self.grids["county_code"].astype(str).tolist(), cfg,
                              self.grids["prefecture_code"].astype(str).tolist())

    def population(self, d: pd.Timestamp) -> pd.DataFrame:
        """Everyone the service scores at ``d`` (FeatureSource.population_frame: records in the look-back
        year, the training population)."""
        f = self.store.features(pd.Timestamp(d), progress=False)
        f = f.assign(person_id=f["person_id"].astype(str), as_of=pd.to_datetime(f["as_of"]))
        f = f[f["person_id"].isin(set(self.store.population(pd.Timestamp(d))))]
        return f.reset_index(drop=True)


def validation_dates(model) -> list[pd.Timestamp]:
    """The model's validation snapshots, from its metadata (``split.validation`` "a..b (n)")."""
    span = str((model.metadata.get("split") or {}).get("validation", ""))
    if ".." not in span:
        return []
    a, rest = span.split("..", 1)
    b, _, count = rest.partition(" (")
    n = int(count.rstrip(")") or 1)
    return list(pd.date_range(pd.Timestamp(a), pd.Timestamp(b), periods=n)) if n > 1 else [pd.Timestamp(a)]


def validation_thresholds(model, data_dir: str | Path, budget: BudgetConfig, *,
                          dates: Sequence | None = None) -> AlertThresholds:
    """Per-county bars for ``model`` from its validation population in ``data_dir`` and ``budget``."""
    from training.errors import TrainingDataError

    w = _World(data_dir)
    dates = [pd.Timestamp(d) for d in (dates if dates is not None else validation_dates(model))]
    if not dates:
        raise TrainingDataError("模型没有验证期快照 / the model's metadata names no validation snapshots; pass the "
                                "dates to compute its alert thresholds from.")
    probs, counties, snaps = [], [], []
    for d in dates:
        f = w.population(d)
        probs.append(model.predict_risk(f))
        counties += [w.county.get(p) for p in f["person_id"]]
        snaps += [str(d.date())] * len(f)
    from common.riskterms import RiskReference

    allp = np.concatenate(probs)
    # the reviewer's terms (multiple of the average, place in the county) are fixed with the bars, from the
    # same population, so batch, service and console agree (common.riskterms)
    reference = RiskReference.fit(allp, counties, detail={"version": f"v{model.metadata.get('model_version')}",
                                                          "snapshots": sorted(set(snaps))})
    return fit_thresholds(allp, counties, snaps, w.budgets(budget), budget, detail={
        "model_version": str(model.metadata.get("model_version")), "source": str(Path(data_dir).resolve()),
        "computed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "risk_reference": reference.to_dict()})


# -- the policy on one snapshot ------------------------------------------------------------------------
def hit_levels(ruleset, frame: pd.DataFrame, spec: PolicySpec) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Per row: the floor level index (urgent and floor-rule hits), urgent flag; and the hits table."""
    from rules.batch import evaluate_batch

    hits = evaluate_batch(ruleset, frame.assign(person_id=np.arange(len(frame))), strict=True)
    n = len(frame)
    floor = np.zeros(n, dtype=np.int8)
    urgent = np.zeros(n, dtype=bool)
    if len(hits):
        rows = hits["person_id"].to_numpy(int)
        lv = hits["level"].map(LEVEL_INDEX).to_numpy(np.int8)
        urg = hits["urgent"].to_numpy(bool)
        is_floor = hits["rule_id"].isin(spec.floor_rules).to_numpy() | spec.raise_level
        lv_f = np.where(urg, np.maximum(lv, LEVEL_INDEX[spec.urgent_level]), np.where(is_floor, lv, 0))
        np.maximum.at(floor, rows, lv_f.astype(np.int8))
        np.logical_or.at(urgent, rows, urg)
    return floor, urgent, hits


def _urgent_replay(w: _World, ruleset, f: pd.DataFrame, d: pd.Timestamp, spec: PolicySpec) -> tuple[int, int]:
    """The month's incidents (event path) replayed through the rules: (urgent hits, hits that reach review
    at once: at least the urgent level and outside the budget, as the scorer's event path decides)."""
    from rules.batch import evaluate_batch

    inc = w.store.table("incidents")
    inc = inc[(inc["event_time"] >= d - pd.Timedelta(days=30)) & (inc["event_time"] < d)]
    if inc.empty:
        return 0, 0
    parties = w.store.table("incident_parties")
    ev = inc.merge(parties, on="incident_id").assign(person_id=lambda x: x["person_id"].astype(str))
    ev = ev[ev["person_id"].isin(set(f["person_id"]))]
    if ev.empty:
        return 0, 0
    rows = ev[["person_id"]].merge(f, on="person_id", how="left")
    for c in ("category", "flag_violence", "flag_weapon", "flag_alcohol", "flag_minor_present", "flag_threat",
              "disposition", "role"):
        if c in ev:
            rows[f"event.{c}"] = ev[c].to_numpy()
    hits = evaluate_batch(ruleset, rows.assign(person_id=np.arange(len(rows))), strict=False)
    urg = hits[hits["urgent"].astype(bool)] if len(hits) else hits
    n = int(urg["person_id"].nunique()) if len(urg) else 0
    reached = n if LEVEL_INDEX[spec.urgent_level] >= LEVEL_INDEX["yellow"] else 0  # urgent: floor, no ceiling
    return n, reached


def apply_policy(prob: np.ndarray, counties: Sequence[str | None], person_ids: Sequence[str], floor: np.ndarray,
                 urgent: np.ndarray, th: AlertThresholds) -> dict[str, np.ndarray]:
    """Levels for one as-of population, as the scorer decides them: model level from the county's bars,
    at least the floor level, then the per-county ceiling on the non-urgent alerts; watch list below."""
    n = len(prob)
    bars = np.array([[th.for_county(c)[k] for k in ("yellow", "orange", "red", "watch")] for c in counties],
                    dtype=float).reshape(n, 4)
    with np.errstate(invalid="ignore"):
        m_level = (prob[:, None] >= bars[:, :3]).sum(axis=1).astype(np.int8)
    level = np.maximum(m_level, floor)
    cand = (level > 0) & ~urgent
    _, inside = budget_cuts(cand, rank_keys(floor > 0, prob, person_ids), counties, th)
    over = cand & ~inside
    level = np.where(over, 0, level)
    watch = (level == 0) & (prob >= bars[:, 3])
    return {"level": level, "alert": (level > 0) & ~urgent, "urgent": urgent & (level > 0), "watch": watch,
            "over_budget": over, "model_level": m_level}


# -- the backtest --------------------------------------------------------------------------------------
@dataclass
class PolicyBacktest:
    spec: PolicySpec
    model_version: str
    thresholds_version: str
    snapshots: list[str]
    per_snapshot: pd.DataFrame          # one row per snapshot
    per_level: pd.DataFrame             # level -> alerts, precision, recall
    comparison: pd.DataFrame            # scorer -> precision / recall at the policy's volume
    per_prefecture: pd.DataFrame        # prefecture -> alerts per grid per week vs budget
    curve: pd.DataFrame                 # volume multiple -> recall per scorer
    per_rule: pd.DataFrame              # rule -> hits, precision (could it earn a floor?)
    old_policy: dict                    # every rule hit a floor: volume, precision, recall
    urgent: dict                        # urgent hits: count, reached review
    summary: dict
    agreement: dict | None = None       # batch/service agreement, when checked (weimeng policy backtest)
    data_dir: str = ""
    budgeted: pd.DataFrame | None = None  # scorer -> precision when it fills the same county budgets

    @property
    def goals(self) -> list[dict]:
        s, tol = self.summary, GOALS["volume_tolerance"]
        worst = self.per_prefecture["ratio_to_budget"]
        rows = [
            {"goal": f"每个市州非紧急预警量在预算 ±{int(tol * 100)}% 内 / non-urgent alerts per grid per week within "
                     f"±{int(tol * 100)}% of budget in every prefecture",
             "measured": f"{worst.min():.2f}–{worst.max():.2f} × budget",
             "met": bool(((worst - 1).abs() <= tol).all())},
            {"goal": f"预算内精确率 ≥ {GOALS['lift_over_rules']}× 同预算规则 / precision at the budget ≥ "
                     f"{GOALS['lift_over_rules']}× rules-only filling the same budgets",
             "measured": _ratio_text(s, "lift_over_rules"),
             "met": bool(s["lift_over_rules_budgeted"] >= GOALS["lift_over_rules"])},
            {"goal": f"预算内精确率 ≥ {GOALS['ratio_to_oracle']}× 同预算记录真值 / precision at the budget ≥ "
                     f"{GOALS['ratio_to_oracle']}× the records oracle filling the same budgets",
             "measured": _ratio_text(s, "ratio_to_oracle"),
             "met": bool(s["ratio_to_oracle_budgeted"] >= GOALS["ratio_to_oracle"])},
            {"goal": "紧急命中 100% 进入审核 / 100% of urgent rule hits reach the review queue",
             "measured": f"{self.urgent['reached']}/{self.urgent['hits']}",
             "met": self.urgent["reached"] == self.urgent["hits"]},
        ]
        if self.agreement is not None:
            a = self.agreement
            rows.append({"goal": "批量与服务等级 100% 一致 / batch and service levels identical for 100% of people",
                         "measured": f"{a['same']}/{a['people']} ({a['as_of']})", "met": a["same"] == a["people"]})
        return rows


def _ratio_text(s: dict, key: str) -> str:
    lo, hi = s[f"{key}_budgeted_ci"]
    text = (f"{s[f'{key}_budgeted']:.2f}× (95% 区间 {lo:.2f}–{hi:.2f})；全域同量 one global ranking "
            f"{s[key]:.2f}×")
    expected = s.get(f"{key}_budgeted_expected", float("nan"))
    if expected == expected:
        text += f"；按模拟真值期望 on expected outcomes {expected:.2f}×"
    return text


def _expected_hits(y: np.ndarray, s: np.ndarray, k: int) -> float:
    if k <= 0 or len(y) == 0:
        return 0.0
    return float(expected_hits_at_k(y, np.nan_to_num(s, nan=-np.inf), min(k, len(y)))[0])


def _within_budget(score: np.ndarray, counties: Sequence[str | None], pids: Sequence[str],
                   th: AlertThresholds) -> np.ndarray:
    """The people ``score`` would alert under the policy's own allocation: each county's budget filled
    by the highest scores there (ties by person id), no bar: the same budget, another ranking."""
    keys = rank_keys(np.zeros(len(score), dtype=np.int8), score, pids)
    everyone = np.ones(len(score), dtype=bool)
    _, inside = budget_cuts(everyone, keys, counties, th)
    known = np.array([th.budget_of(c) is not None for c in counties], dtype=bool)
    return inside & known


def _ratio_ci(y: np.ndarray, a: np.ndarray, b: np.ndarray, n_boot: int = 500, level: float = 0.95,
              seed: int = 0) -> tuple[float, float, float]:
    """precision(a) / precision(b) over the same rows, with a Poisson-bootstrap interval over people."""
    rows = np.flatnonzero(a | b)                 # only rows either side selects change the ratio
    ya, yb, a, b = (y * a)[rows], (y * b)[rows], a[rows].astype(float), b[rows].astype(float)

    def ratio(w: np.ndarray) -> np.ndarray:      # w: weights per row, one vector or one row per resample
        with np.errstate(invalid="ignore", divide="ignore"):
            pa = (w @ ya) / np.maximum(w @ a, 1e-12)
            pb = (w @ yb) / np.maximum(w @ b, 1e-12)
            return pa / np.where(pb > 0, pb, np.nan)

    point = float(ratio(np.ones(len(rows))))
    if not len(rows):
        return point, float("nan"), float("nan")
    r = ratio(np.random.default_rng(seed).poisson(1.0, size=(n_boot, len(rows))).astype(float))
    r = r[np.isfinite(r)]
    if not len(r):
        return point, float("nan"), float("nan")
    lo, hi = np.quantile(r, [(1 - level) / 2, (1 + level) / 2])
    return point, float(lo), float(hi)


def policy_backtest(model, data_dir: str | Path, spec: PolicySpec, thresholds: AlertThresholds, *,
                    dates: Sequence | None = None, ruleset=None, horizon_days: int | None = None,
                    exclude_days: int = 30, progress=None) -> PolicyBacktest:
    """Run the policy on ``dates`` (default: the model's test snapshots) of the world in ``data_dir``."""
    from features.simulate import oracle_scores
    from rules.baseline import rules_baseline_score
    from rules.loader import load_ruleset
    from training.snapshots import label_snapshots, recent_outcome_mask

    progress = progress or (lambda *a: None)
    w = _World(data_dir)
    ruleset = ruleset if ruleset is not None else load_ruleset(None)
    horizon = int(horizon_days or model.metadata.get("horizon_days") or 90)
    dates = [pd.Timestamp(d) for d in (dates if dates is not None else model.metadata.get("test_window", []))]
    weeks = spec.budget.period_days / 7.0
    n_grids = len(w.grids)
    snap_rows: list[dict[str, Any]] = []
    level_acc: dict[str, Any] = {}
    pref_acc: dict[str, Any] = {}
    rule_acc: dict[str, Any] = {}
    curve_acc: dict[Any, Any] = {}
    prev_alerts: set[str] | None = None
    urgent_hits = urgent_reached = 0
    cmp_acc = {k: 0.0 for k in ("policy", "rules_only", "model_only", "oracle_records", "old_policy_tp")}
    same_budget: dict[str, list[np.ndarray]] = {k: [] for k in ("y", "policy", "rules_only", "model_only",
                                                                "oracle_records")}
    expected: list[np.ndarray] = []   # each person's true outcome probability (the full oracle): a low-noise twin
    old_n = 0
    for si, d in enumerate(dates):
        progress("策略回测 policy backtest", si, len(dates))
        f = w.population(d)
        recent = recent_outcome_mask(f, w.outcomes, exclude_days).to_numpy()
        f = f.loc[~recent].reset_index(drop=True)
        y = label_snapshots(f, w.outcomes, horizon).to_numpy(int)
        pids = f["person_id"].tolist()
        counties = [w.county.get(p) for p in pids]
        prob = model.predict_risk(f)
        floor, urgent, hits = hit_levels(ruleset, f, spec)
        res = apply_policy(prob, counties, pids, floor, urgent, thresholds)
        alert = res["alert"]
        n_alert = int(alert.sum())
        positives = int(y.sum())
        tp = int(y[alert].sum())
        uh, ur = _urgent_replay(w, ruleset, f, d, spec)
        urgent_hits += int(urgent.sum()) + uh
        urgent_reached += int((urgent & (res["level"] >= LEVEL_INDEX[spec.urgent_level])).sum()) + ur
        for lv in (1, 2, 3):
            m = alert & (res["level"] == lv)
            acc = level_acc.setdefault(LEVELS[lv], [0, 0])
            acc[0] += int(m.sum())
            acc[1] += int(y[m].sum())
        hit_frame = hits.assign(person_id=[pids[i] for i in hits["person_id"]], as_of=d) if len(hits) else hits
        rb = (rules_baseline_score(hit_frame, f[["person_id", "as_of"]]).to_numpy(float) if len(hits)
              else np.zeros(len(f)))
        oracles = oracle_scores(w.dir, d, horizon_days=horizon, person_ids=pids)
        orc = oracles["oracle_records"].to_numpy(float)
        expected.append(oracles["oracle_full"].to_numpy(float))
        same_budget["y"].append(y)
        same_budget["policy"].append(alert)
        same_budget["rules_only"].append(_within_budget(rb, counties, pids, thresholds))
        same_budget["model_only"].append(_within_budget(prob, counties, pids, thresholds))
        same_budget["oracle_records"].append(_within_budget(orc, counties, pids, thresholds))
        cmp_acc["policy"] += tp
        cmp_acc["rules_only"] += _expected_hits(y, rb, n_alert)
        cmp_acc["model_only"] += _expected_hits(y, prob, n_alert)
        cmp_acc["oracle_records"] += _expected_hits(y, orc, n_alert)
        old = (np.maximum(res["model_level"], 0) > 0) | np.isin(np.arange(len(f)), hits["person_id"].to_numpy(int))
        old_n += int(old.sum())
        cmp_acc["old_policy_tp"] += int(y[old].sum())
        budget_n = sum(thresholds.budgets.values())
        for mult in VOLUME_MULTIPLES:
            k = int(round(mult * budget_n))
            c = curve_acc.setdefault(mult, {"k": 0, "model": 0.0, "rules_only": 0.0, "oracle_records": 0.0, "P": 0})
            c["k"] += k
            c["model"] += _expected_hits(y, prob, k)
            c["rules_only"] += _expected_hits(y, rb, k)
            c["oracle_records"] += _expected_hits(y, orc, k)
            c["P"] += positives
        for i in np.flatnonzero(alert):
            pref = w.prefecture_of_county.get(counties[i] or "", "?")
            pref_acc[pref] = pref_acc.get(pref, 0) + 1
        if len(hits):
            for rid, grp in hits.groupby("rule_id"):
                rows = np.unique(grp["person_id"].to_numpy(int))
                acc = rule_acc.setdefault(rid, [0, 0, str(grp["level"].iloc[0]), 0, 0])
                acc[0] += len(rows)
                acc[1] += int(y[rows].sum())
                out = rows[~alert[rows]]          # hits that are not alerts yet: what a floor would add
                acc[3] += len(out)
                acc[4] += int(y[out].sum())
        ids = {pids[i] for i in np.flatnonzero(alert)}
        re_alert = (len(ids & prev_alerts) / len(ids)) if prev_alerts is not None and ids else float("nan")
        prev_alerts = ids
        snap_rows.append({"as_of": str(d.date()), "population": len(f), "positives": positives,
                          "alerts": n_alert, "budget": budget_n, "true_positives": tp,
                          "precision": tp / n_alert if n_alert else float("nan"),
                          "recall": tp / positives if positives else float("nan"),
                          "alerts_per_grid_per_week": n_alert / n_grids / weeks,
                          "watch": int(res["watch"].sum()), "over_budget": int(res["over_budget"].sum()),
                          "urgent": int(res["urgent"].sum()), "re_alert_rate": re_alert})
    progress("策略回测 policy backtest", len(dates), len(dates))
    per_snapshot = pd.DataFrame(snap_rows)
    n_s = max(1, len(dates))
    total_alerts = int(per_snapshot["alerts"].sum()) if len(per_snapshot) else 0
    total_pos = int(per_snapshot["positives"].sum()) if len(per_snapshot) else 0

    def pr(tp: float, n: int) -> tuple[float, float]:
        return (tp / n if n else float("nan"), tp / total_pos if total_pos else float("nan"))

    per_level = pd.DataFrame([{"level": lv, "alerts": a, "true_positives": t, "precision": pr(t, a)[0],
                               "recall": pr(t, a)[1], "alerts_per_grid_per_week": a / n_grids / weeks / n_s}
                              for lv, (a, t) in sorted(level_acc.items(), key=lambda kv: -LEVEL_INDEX[kv[0]])]
                             + [{"level": "all", "alerts": total_alerts, "true_positives": cmp_acc["policy"],
                                 "precision": pr(cmp_acc["policy"], total_alerts)[0],
                                 "recall": pr(cmp_acc["policy"], total_alerts)[1],
                                 "alerts_per_grid_per_week": total_alerts / n_grids / weeks / n_s}])
    comparison = pd.DataFrame([{"scorer": k, "alerts": total_alerts, "true_positives": cmp_acc[k],
                                "precision": pr(cmp_acc[k], total_alerts)[0], "recall": pr(cmp_acc[k], total_alerts)[1]}
                               for k in ("policy", "model_only", "rules_only", "oracle_records")])
    budget_by_pref: dict[str, int] = {}
    for c, b in thresholds.budgets.items():
        p = w.prefecture_of_county.get(c, "?")
        budget_by_pref[p] = budget_by_pref.get(p, 0) + b
    per_prefecture = pd.DataFrame([{
        "prefecture": p, "grids": int(w.grids_per_prefecture.get(p, 0)), "budget_per_run": b,
        "alerts_per_run": pref_acc.get(p, 0) / n_s,
        "budget_per_grid_per_week": b / max(1, w.grids_per_prefecture.get(p, 1)) / weeks,
        "alerts_per_grid_per_week": pref_acc.get(p, 0) / n_s / max(1, w.grids_per_prefecture.get(p, 1)) / weeks,
        "ratio_to_budget": (pref_acc.get(p, 0) / n_s) / b if b else float("nan")}
        for p, b in sorted(budget_by_pref.items())])
    curve = pd.DataFrame([{"volume_multiple": m, "alerts_per_run": c["k"] / n_s,
                           **{k: c[k] / c["P"] if c["P"] else float("nan")
                              for k in ("model", "rules_only", "oracle_records")}}
                          for m, c in sorted(curve_acc.items())])
    policy_precision = pr(cmp_acc["policy"], total_alerts)[0]
    # The same budget, another ranking: each scorer fills every county's budget with its own top people.
    yy = np.concatenate(same_budget["y"]) if same_budget["y"] else np.zeros(0, dtype=int)
    masks = {k: (np.concatenate(v) if v else np.zeros(0, dtype=bool)) for k, v in same_budget.items() if k != "y"}
    pe = np.concatenate(expected) if expected else np.zeros(0)
    budgeted = pd.DataFrame([{"scorer": k, "alerts": int(m.sum()), "true_positives": int(yy[m].sum()),
                              "precision": float(yy[m].sum() / m.sum()) if m.sum() else float("nan"),
                              "recall": float(yy[m].sum() / total_pos) if total_pos else float("nan"),
                              "expected_precision": float(pe[m].mean()) if m.sum() else float("nan")}
                             for k, m in masks.items()])
    lift_b = _ratio_ci(yy, masks["policy"], masks["rules_only"])
    oracle_b = _ratio_ci(yy, masks["policy"], masks["oracle_records"])
    # A floor puts the rule's hits first in their county's budget: it adds the hits that are not alerts
    # yet and pushes out the lowest-ranked alerts (yellow). It earns that only if what it adds is more
    # precise than what it displaces.
    y_acc = level_acc.get("yellow", [0, 0])
    marginal = y_acc[1] / y_acc[0] if y_acc[0] else policy_precision
    per_rule = pd.DataFrame([{"rule_id": r, "level": a[2], "people": a[0], "true_positives": a[1],
                              "precision": a[1] / a[0] if a[0] else float("nan"),
                              "added_people": a[3], "added_precision": a[4] / a[3] if a[3] else float("nan"),
                              "earns_floor": bool(a[3] and a[4] / a[3] > marginal)}
                             for r, a in sorted(rule_acc.items())])
    old_policy = {"alerts_per_run": old_n / n_s, "alerts_per_grid_per_week": old_n / n_s / n_grids / weeks,
                  "precision": cmp_acc["old_policy_tp"] / old_n if old_n else float("nan"),
                  "recall": cmp_acc["old_policy_tp"] / total_pos if total_pos else float("nan")}
    rules_p = pr(cmp_acc["rules_only"], total_alerts)[0]
    oracle_p = pr(cmp_acc["oracle_records"], total_alerts)[0]
    model_p = pr(cmp_acc["model_only"], total_alerts)[0]
    summary = {
        "snapshots": len(dates), "alerts_per_run": total_alerts / n_s,
        "budget_per_run": sum(thresholds.budgets.values()),
        "alerts_per_grid_per_week": total_alerts / n_s / n_grids / weeks,
        "budget_per_grid_per_week": sum(thresholds.budgets.values()) / n_grids / weeks,
        "precision": policy_precision, "recall": pr(cmp_acc["policy"], total_alerts)[1],
        "rules_only_precision": rules_p, "model_only_precision": model_p, "oracle_records_precision": oracle_p,
        "lift_over_rules": policy_precision / rules_p if rules_p else float("inf"),
        "lift_over_model": policy_precision / model_p if model_p else float("inf"),
        "ratio_to_oracle": policy_precision / oracle_p if oracle_p else float("nan"),
        "re_alert_rate": float(per_snapshot["re_alert_rate"].mean()) if len(per_snapshot) else float("nan"),
        "watch_per_run": float(per_snapshot["watch"].mean()) if len(per_snapshot) else 0.0,
        "grids": n_grids, "counties": len(thresholds.budgets),
        "lift_over_rules_budgeted": lift_b[0], "lift_over_rules_budgeted_ci": [lift_b[1], lift_b[2]],
        "ratio_to_oracle_budgeted": oracle_b[0], "ratio_to_oracle_budgeted_ci": [oracle_b[1], oracle_b[2]],
        # the same ratios on expected outcomes (each alerted person's true outcome probability in the simulated
        # world): no outcome-draw noise, so three months tell 1.1x from 1.5x
        "lift_over_rules_budgeted_expected": _ratio_ci(pe, masks["policy"], masks["rules_only"], n_boot=0)[0],
        "ratio_to_oracle_budgeted_expected": _ratio_ci(pe, masks["policy"], masks["oracle_records"], n_boot=0)[0],
    }
    return PolicyBacktest(spec, str(model.metadata.get("model_version")), thresholds.version,
                          [str(d.date()) for d in dates], per_snapshot, per_level, comparison, per_prefecture, curve,
                          per_rule, old_policy, {"hits": urgent_hits, "reached": urgent_reached}, summary,
                          data_dir=str(data_dir), budgeted=budgeted)


def recall_at_budget(model, test: pd.DataFrame, alerts_per_snapshot: int, label: str = "label",
                     time_col: str = "as_of") -> float:
    """Recall of the model's top ``alerts_per_snapshot`` per snapshot (the promotion gate's check)."""
    y = test[label].to_numpy(int)
    p = model.predict_risk(test)
    hit = pos = 0.0
    for idx in test.groupby(time_col).indices.values():
        hit += _expected_hits(y[idx], p[idx], alerts_per_snapshot)
        pos += y[idx].sum()
    return hit / pos if pos else float("nan")


# -- report --------------------------------------------------------------------------------------------
def _pct(x) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def _num(x, digits: int = 2) -> str:
    return "—" if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))) else f"{x:.{digits}f}"


_LEVEL_CN = {"red": "红色", "orange": "橙色", "yellow": "黄色", "all": "合计"}
_SCORER_CN = {"policy": "融合策略（预算内）policy", "model_only": "仅模型 model-only",
              "rules_only": "仅规则 rules-only",
              "oracle_records": "记录真值 records oracle"}


def _tables(r: PolicyBacktest) -> list[tuple[str, list[str], list[list[str]]]]:
    out = [("目标 Goals", ["目标 goal", "实测 measured", "达成 met"],
            [[g["goal"], g["measured"], "是 yes" if g["met"] else "否 NO"] for g in r.goals])]
    out.append(("分级 Per level", ["等级 level", "预警数 alerts", "命中 TP", "精确率 precision", "召回率 recall",
                                   "每网格每周 per grid-week"],
                [[_LEVEL_CN.get(x.level, x.level), str(x.alerts), str(x.true_positives), _pct(x.precision),
                  _pct(x.recall), _num(x.alerts_per_grid_per_week, 3)] for x in r.per_level.itertuples()]))
    out.append(("同量比较 At the same volume", ["评分 scorer", "预警数 alerts", "命中 TP", "精确率 precision",
                                              "召回率 recall"],
                [[_SCORER_CN[x.scorer], str(x.alerts), _num(x.true_positives, 1), _pct(x.precision), _pct(x.recall)]
                 for x in r.comparison.itertuples()]))
    if r.budgeted is not None:
        out.append(("同预算比较 Filling the same county budgets (each scorer ranks within every county's budget)",
                    ["评分 scorer", "预警数 alerts", "命中 TP", "精确率 precision", "召回率 recall"],
                    [[_SCORER_CN[x.scorer], str(x.alerts), str(x.true_positives), _pct(x.precision), _pct(x.recall)]
                     for x in r.budgeted.itertuples()]))
    out.append(("分市州 Per prefecture", ["市州 prefecture", "网格 grids", "预算/期 budget per run",
                                        "预警/期 alerts per run", "预算/网格周", "预警/网格周", "占预算 ratio"],
                [[x.prefecture, str(x.grids), str(x.budget_per_run), _num(x.alerts_per_run, 1),
                  _num(x.budget_per_grid_per_week, 3), _num(x.alerts_per_grid_per_week, 3), _num(x.ratio_to_budget)]
                 for x in r.per_prefecture.itertuples()]))
    out.append(("分期 Per snapshot", ["时点 as-of", "人数 people", "出事 positives", "预警 alerts", "预算 budget",
                                    "精确率", "召回率", "关注名单 watch", "超预算 over budget", "紧急 urgent",
                                    "重复预警率 re-alert"],
                [[x.as_of, str(x.population), str(x.positives), str(x.alerts), str(x.budget), _pct(x.precision),
                  _pct(x.recall), str(x.watch), str(x.over_budget), str(x.urgent), _pct(x.re_alert_rate)]
                 for x in r.per_snapshot.itertuples()]))
    out.append(("预警量-召回曲线 Volume–recall curve", ["预算倍数 × budget", "预警/期 alerts per run", "模型 model",
                                                    "仅规则 rules-only", "记录真值 records oracle"],
                [[_num(x.volume_multiple), _num(x.alerts_per_run, 0), _pct(x.model), _pct(x.rules_only),
                  _pct(x.oracle_records)] for x in r.curve.itertuples()]))
    out.append(("规则精确率 Rule precision (a rule earns a level floor only if the hits it would add beat the "
                "yellow alerts they would displace)",
                ["规则 rule", "等级 level", "人次 people", "命中 TP", "精确率 precision", "新增人次 added",
                 "新增精确率 added precision", "可作下限 earns a floor"],
                [[x.rule_id, x.level, str(x.people), str(x.true_positives), _pct(x.precision), str(x.added_people),
                  _pct(x.added_precision), "是" if x.earns_floor else "否"] for x in r.per_rule.itertuples()]))
    return out


def _intro(r: PolicyBacktest) -> list[str]:
    s, o = r.summary, r.old_policy
    b = r.spec.budget
    return [
        f"策略版本 policy {r.spec.version} · 模型 model v{r.model_version} · "
        f"阈值版本 thresholds {r.thresholds_version} · "
        f"{s['snapshots']} 个月度快照 monthly snapshots ({', '.join(r.snapshots)}) · 数据 data `{r.data_dir}`",
        f"预算 Budget: 每区县 {_num(b.reviewers_per_county, 0)} 名审核员 × "
        f"每人每周 {_num(b.cases_per_reviewer_per_week, 0)} 条，"
        f"每网格每周走访 {_num(b.visits_per_grid_per_week)} 次，取小者 → 全域每期 {s['budget_per_run']} 条"
        f"（每网格每周 {_num(s['budget_per_grid_per_week'], 3)}）; {s['counties']} 个区县、{s['grids']} 个网格。",
        f"实际 Measured: 每期 {_num(s['alerts_per_run'], 1)} 条非紧急预警"
        f"（每网格每周 {_num(s['alerts_per_grid_per_week'], 3)}），"
        f"精确率 {_pct(s['precision'])}，召回率 {_pct(s['recall'])}；同量仅规则 {_pct(s['rules_only_precision'])}"
        f"（提升 {_num(s['lift_over_rules'])}×），同量仅模型 {_pct(s['model_only_precision'])}"
        f"（{_num(s['lift_over_model'])}×），同量记录真值 {_pct(s['oracle_records_precision'])}"
        f"（{_num(s['ratio_to_oracle'])}×）；同预算（各评分各自填满每个区县的预算）仅规则提升 "
        f"{_num(s['lift_over_rules_budgeted'])}×，记录真值比 {_num(s['ratio_to_oracle_budgeted'])}×；"
        f"重复预警率 {_pct(s['re_alert_rate'])}；"
        f"关注名单每期 {_num(s['watch_per_run'], 0)} 人。",
        f"旧策略（每条规则命中即为等级下限）Old policy (every rule hit a floor): 每期 {_num(o['alerts_per_run'], 0)} 条"
        f"（每网格每周 {_num(o['alerts_per_grid_per_week'], 3)}），精确率 {_pct(o['precision'])}，"
        f"召回率 {_pct(o['recall'])}。",
        f"紧急命中 Urgent hits (outside the budget): {r.urgent['hits']}，"
        f"进入审核 reached review {r.urgent['reached']}。",
    ]


def to_markdown(r: PolicyBacktest) -> str:
    lines = ["# 融合策略回测 Policy backtest", ""] + [f"- {x}" for x in _intro(r)] + [""]
    for title, head, rows in _tables(r):
        lines += [f"## {title}", "", "| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def to_html(r: PolicyBacktest) -> str:
    css = ("body{font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;max-width:1100px;margin:2em auto;"
           "padding:0 1em;line-height:1.5;color:#222}table{border-collapse:collapse;font-size:13px;margin:1em 0}"
           "th,td{border:1px solid #ccc;padding:3px 6px;text-align:left}th{background:#f3f3f3}.no{color:#b00;"
           "font-weight:bold}")
    parts = ["<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">",
             "<title>融合策略回测 Policy backtest</title>",
             f"<style>{css}</style></head><body><h1>融合策略回测 Policy backtest</h1><ul>"]
    parts += [f"<li>{html.escape(x)}</li>" for x in _intro(r)]
    parts.append("</ul>")
    for title, head, rows in _tables(r):
        parts.append(f"<h2>{html.escape(title)}</h2><table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head)
                     + "</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td{' class=no' if c == '否 NO' else ''}>{html.escape(c)}</td>"
                                          for c in row) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def write_report(r: PolicyBacktest, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, hp = out / "policy_backtest.md", out / "policy_backtest.html"
    md.write_text(to_markdown(r), encoding="utf-8")
    hp.write_text(to_html(r), encoding="utf-8")
    r.per_snapshot.to_csv(out / "policy_backtest_snapshots.csv", index=False)
    return {"markdown": md, "html": hp}
