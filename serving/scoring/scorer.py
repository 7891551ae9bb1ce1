"""The scoring engine: feature rows -> rule hits + calibrated probability -> fusion -> ScoredPerson.

A :class:`Bundle` is everything one answer depends on (model, rule set, fusion policy, thresholds),
immutable once built. :class:`Scorer` holds the current bundle in one attribute; each call reads
that attribute once and uses the same bundle from start to end, so swapping in a new champion
(:meth:`Scorer.swap`) is atomic: a request in flight finishes on the old bundle, the next one
starts on the new, none is dropped or sees a mixture.

Contributions (TreeSHAP, about 1 ms a row for a 300-tree model) are computed only for the rows
that need them: flagged rows (their explanation and the model's categories), every row when
``explain="all"``, none when ``explain="none"`` (then categories come from the rules alone).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from common.clock import from_data_time, to_utc, utcnow
from common.levels import LEVELS
from common.records import Explanation, ScoredPerson
from common.riskterms import RiskReference
from features.catalog import CATALOG_VERSION, FEATURE_NAMES
from serving.scoring.contributions import ContributionCache
from serving.scoring.errors import ModelMismatchError, ScoringInputError
from serving.scoring.explain import build_explanation, factors_from_contributions, hit_views
from serving.scoring.fastpredict import SingleRow
from serving.scoring.fusion import (
    FusionPolicy,
    FusionResult,
    Thresholds,
    budget_thresholds,
    fuse,
    model_categories,
    model_levels,
)
from training.budget import AlertThresholds, budget_cuts, county_of, rank_keys, within_budget

if TYPE_CHECKING:
    from rules.event_engine import EventRuleEngine
    from rules.model import RuleSet
    from training.model import EscalationModel

__all__ = ["Bundle", "Scorer", "Explain", "build_bundle", "check_model", "calibrate"]

Explain = Literal["flagged", "all", "none"]

_HIT_FIELDS = ["person_id", "rule_id", "rule_version", "category", "level", "urgent", "explanation"]


@dataclass(frozen=True)
class Bundle:
    model: EscalationModel | None        # None: rules only
    ruleset: RuleSet
    policy: FusionPolicy
    thresholds: Thresholds
    model_version: str | None
    loaded_at: datetime
    engine: EventRuleEngine | None = field(default=None, compare=False)   # for events

    @property
    def ruleset_version(self) -> str:
        return str(self.ruleset.version)

    @property
    def feature_names(self) -> list[str]:
        return list(self.model.feature_names) if self.model is not None else []

    @property
    def model_columns(self) -> np.ndarray:
        """Positions of the model's features in the catalog order (check_model guarantees they exist)."""
        cached = self.__dict__.get("_model_columns")
        if cached is None:
            index = {n: i for i, n in enumerate(FEATURE_NAMES)}
            cached = np.array([index[n] for n in self.feature_names], dtype=np.intp)
            object.__setattr__(self, "_model_columns", cached)
        return cached

    @property
    def contribution_cache(self) -> ContributionCache:
        """This bundle's (this model version's) TreeSHAP rows already computed."""
        cache = self.__dict__.get("_contrib_cache")
        if cache is None:
            cache = self.__dict__.setdefault("_contrib_cache", ContributionCache())
        return cache

    @property
    def single_row(self) -> SingleRow | None:
        """LightGBM's single-row fast path for this bundle's booster (None without a model)."""
        fast = self.__dict__.get("_single_row")
        if fast is None and self.model is not None:
            fast = self.__dict__.setdefault("_single_row", SingleRow(self.model.booster))
        return fast

    def describe(self) -> dict:
        md = dict(getattr(self.model, "metadata", {}) or {})
        return {
            "model_name": md.get("model_name"), "model_version": self.model_version,
            "model_catalog_version": md.get("catalog_version"),
            "model_trained_ruleset_version": md.get("ruleset_version"),
            "model_operating_threshold": md.get("operating_threshold"),
            "ruleset_version": self.ruleset_version, "ruleset_rules": len(self.ruleset.rules),
            "catalog_version": CATALOG_VERSION, "fusion_version": self.policy.version,
            "thresholds": self.thresholds.as_dict(), "loaded_at": self.loaded_at.isoformat(timespec="seconds"),
            "alert_budget": self.budget_view(),
        }

    def budget_view(self) -> dict:
        """The budget in force (for /v1/status): thresholds version, alerts per run, the policy's terms."""
        b = self.thresholds.budget
        cfg = self.policy.budget.model_dump()
        if b is None:
            return {"mode": self.thresholds.mode, "registered": False, "policy": cfg}
        return {"mode": "budget", "registered": True, "thresholds_version": b.version,
                "model_version": b.detail.get("model_version"), "alerts_per_run": int(sum(b.budgets.values())),
                "counties": len(b.budgets), "computed_from": b.detail.get("snapshots"),
                "budget": b.detail.get("budget"), "policy": cfg,
                "policy_matches": b.detail.get("budget_digest") == self.policy.budget.digest()}


def calibrate(calibrator, margin: np.ndarray) -> np.ndarray:
    """The model's own calibrator, with a fast path for Platt scaling on small inputs.

    scikit-learn's input validation costs about 0.3 ms a call, most of a one-person request's model
    time; for ``method == "sigmoid"`` the fitted logistic regression is applied directly
    (``expit(coef * margin + intercept)``, exactly ``predict_proba[:, 1]``; a test checks equality).
    Every other case goes through ``calibrator.predict``.
    """
    lr = getattr(calibrator, "model_", None)
    if getattr(calibrator, "method", None) == "sigmoid" and len(margin) <= 256 and hasattr(lr, "coef_") \
            and getattr(lr, "coef_", np.empty(0)).shape == (1, 1) and list(getattr(lr, "classes_", [])) == [0, 1]:
        assert lr is not None
        z = margin * float(lr.coef_[0, 0]) + float(lr.intercept_[0])
        return np.clip(1.0 / (1.0 + np.exp(-z)), 0.0, 1.0)
    return np.asarray(calibrator.predict(margin), dtype=float)


def check_model(model) -> None:
    """Refuse a model whose feature set the catalog cannot supply (STYLE.md habit 2)."""
    from features.catalog import CATALOG

    missing = [f for f in model.feature_names if f not in CATALOG]
    if missing:
        raise ModelMismatchError(
            f"模型特征不在特征目录中 / the model needs {len(missing)} feature(s) the catalog {CATALOG_VERSION} "
            f"cannot compute: {missing[:8]}; register a model trained on this catalog.", field="model")


def _utc_snapshot(value: datetime | None) -> datetime:
    """The snapshot time as aware UTC: now when not given; a naive value is a data-contract (Beijing) time."""
    if value is None:
        return utcnow().replace(microsecond=0)
    if type(value) is datetime and value.tzinfo is UTC:
        return value
    return from_data_time(value) if value.tzinfo is None else to_utc(value)


def build_bundle(model, ruleset, policy: FusionPolicy, thresholds: Thresholds, *, with_engine: bool = True,
                 loaded_at: datetime | None = None) -> Bundle:
    if model is not None:
        check_model(model)
    engine = None
    if with_engine:
        from rules.event_engine import EventRuleEngine

        engine = EventRuleEngine(ruleset)
    version = None if model is None else str(model.metadata.get("model_version") or "unversioned")
    return Bundle(model, ruleset, policy, registered_thresholds(model, policy, thresholds), version,
                  loaded_at or utcnow().replace(microsecond=0), engine)


def registered_thresholds(model, policy: FusionPolicy, fallback: Thresholds) -> Thresholds:
    """``mode: budget``: the bars registered with the model version (``metadata["alert_thresholds"]``,
    set by training.registry when the model is loaded); otherwise ``fallback``."""
    if policy.mode != "budget" or model is None:
        return fallback
    raw = (getattr(model, "metadata", None) or {}).get("alert_thresholds")
    if not raw:
        import logging

        logging.getLogger("weimeng.serving").warning(
            "model %s has no registered alert thresholds (promote it with `weimeng model promote` to fix them); "
            "using the fixed probabilities of the fusion policy", model.metadata.get("model_version"))
        return fallback
    return budget_thresholds(raw if isinstance(raw, AlertThresholds) else AlertThresholds.from_dict(raw))


class Scorer:
    """Score frames of feature rows with the current :class:`Bundle`."""

    def __init__(self, bundle: Bundle):
        self._bundle = bundle
        self._places = None       # person id -> the person's own common.places.Place tuple (or None)
        self._population = None   # as-of -> feature frame of everyone the batch run scores at that date

    def attach(self, source) -> Scorer:
        """Give the scorer the data source's places and populations, for the per-county budget.

        With a source attached, each county's ceiling at an as-of is computed once over that date's
        whole population (the same population the batch run scores), so the service and the batch
        admit exactly the same people into the budget.
        """
        self._places = source.places
        self._population = source.population_frame
        return self

    def county(self, person_id: str) -> str | None:
        places = self._places(person_id) if self._places is not None else None
        if not places:
            return None
        code = {p.kind: p.address_code for p in places}
        return county_of(code.get("hukou"), code.get("residence"))

    def _cuts(self, b: Bundle, as_of) -> dict | None:
        """County -> the ranking key of the last person inside the budget at ``as_of`` (cached per bundle)."""
        if b.thresholds.budget is None or self._population is None or b.model is None:
            return None
        ts = pd.Timestamp(as_of)
        cache = b.__dict__.setdefault("_cuts", {})
        cuts = cache.get(ts)
        if cuts is None:
            frame = self._population(ts)
            pids = frame["person_id"].astype(str).tolist()
            F = self.catalog_matrix(frame)
            as_ofs = [ts.to_pydatetime()] * len(pids)
            first, prob, counties = self._first_pass(b, pids, as_ofs, F, self.rule_hits(b, pids, as_ofs, F))
            cand, keys = self._candidates(first, prob, pids)
            cuts_by_county, inside = budget_cuts(cand, keys, counties, b.thresholds.budget)
            # People of the population are decided by the population pass itself (exactly what the batch
            # run decides); anyone else is compared with the county's cut.
            cuts = (cuts_by_county, {p: bool(inside[i]) for i, p in enumerate(pids) if cand[i]}, set(pids))
            cache[ts] = cuts
        return cuts

    @staticmethod
    def _candidates(first: Sequence[FusionResult], prob: np.ndarray, pids: Sequence[str]):
        """Non-urgent alerts before the ceiling, and everyone's ranking key."""
        cand = np.array([r.level != "none" and not r.urgent for r in first], dtype=bool)
        floor = np.array([r.floor_level != "none" for r in first], dtype=bool)
        return cand, rank_keys(floor, prob, pids)

    def _first_pass(self, b: Bundle, pids, as_ofs, F, per_row):
        """Levels before the ceiling (no model categories yet), probabilities, counties."""
        pol = b.policy
        n = len(F)
        X = self.model_matrix(b, F)
        prob = self.probabilities(b, X)
        counties = [self.county(p) for p in pids] if b.thresholds.budget is not None else [None] * n
        ths = [b.thresholds.for_county(c) for c in counties] if b.thresholds.budget is not None else None
        if b.model is None:
            m_levels = np.zeros(n, dtype=np.int8)
        elif ths is None:
            m_levels = model_levels(prob, b.thresholds)
        else:
            bars = np.array([(t.yellow, t.orange, t.red) for t in ths], dtype=float).reshape(n, 3)
            with np.errstate(invalid="ignore"):
                m_levels = (prob[:, None] >= bars).sum(axis=1).astype(np.int8)
        plain = [FusionResult(LEVELS[k], (), LEVELS[k], "none", False) for k in range(4)]
        levels = m_levels.tolist()  # Python ints: indexing a numpy array row by row boxes each element
        first = [fuse(None if b.model is None else float(prob[i]),
                      [(h.rule_id, h.category, h.level, bool(h.urgent)) for h in per_row[i]],
                      ths[i] if ths is not None else b.thresholds, pol)
                 if per_row[i] else plain[levels[i]] for i in range(n)]
        return first, prob, counties

    @property
    def bundle(self) -> Bundle:
        return self._bundle

    def swap(self, bundle: Bundle) -> Bundle:
        """Make ``bundle`` current (one reference assignment: atomic); return the previous one."""
        old, self._bundle = self._bundle, bundle
        return old

    # -- pieces ------------------------------------------------------------------------------------
    @staticmethod
    def catalog_matrix(frame: pd.DataFrame) -> np.ndarray:
        """All catalog features in catalog order (a feature the frame lacks is NaN: no value)."""
        return frame.reindex(columns=list(FEATURE_NAMES)).to_numpy(dtype=np.float64, na_value=np.nan)

    @staticmethod
    def model_matrix(b: Bundle, F: np.ndarray) -> np.ndarray:
        """The model's input columns from a catalog-ordered matrix."""
        return F[:, b.model_columns] if b.model is not None else np.empty((len(F), 0))

    @staticmethod
    def matrix(b: Bundle, frame: pd.DataFrame) -> np.ndarray:
        """The model's input matrix from a feature frame (LightGBM's missing value is NaN)."""
        return Scorer.model_matrix(b, Scorer.catalog_matrix(frame))

    @staticmethod
    def probabilities(b: Bundle, X: np.ndarray) -> np.ndarray:
        """Exactly ``EscalationModel.predict_risk``: booster raw margin -> the model's own calibrator."""
        if b.model is None:
            return np.full(len(X), np.nan)
        if len(X) == 0:
            return np.zeros(0)
        fast = b.single_row if len(X) == 1 else None
        if fast is not None:  # one person: LightGBM's single-row path (identical margins, a test checks)
            margin = np.array([fast.raw(X[0])])
        else:
            margin = b.model.booster.predict(X, raw_score=True, num_threads=1)
        return calibrate(b.model.calibrator, margin)

    #: From this many rows on, TreeSHAP uses every core (LightGBM parallelises over rows; the result is
    #: identical); below it one thread, so concurrent small requests do not oversubscribe the CPU.
    PARALLEL_CONTRIB_ROWS = 256

    @staticmethod
    def treeshap(b: Bundle, X: np.ndarray) -> np.ndarray:
        """LightGBM's exact TreeSHAP for every row of ``X`` (no cache)."""
        threads = 0 if len(X) >= Scorer.PARALLEL_CONTRIB_ROWS else 1  # 0: LightGBM's default (all cores)
        if b.model is None:
            raise ValueError("contributions need a model (rules-only bundles have none)")
        fast = b.single_row if len(X) == 1 else None
        if fast is not None:
            return fast.contrib(X[0])[None, :]
        return np.asarray(b.model.booster.predict(X, pred_contrib=True, num_threads=threads))

    @staticmethod
    def contributions(b: Bundle, X: np.ndarray) -> np.ndarray:
        """Exact TreeSHAP for every row of ``X``, each row computed once per bundle (:class:`ContributionCache`)."""
        if b.model is None:
            raise ValueError("contributions need a model (rules-only bundles have none)")
        return b.contribution_cache.get(X, lambda rows: Scorer.treeshap(b, rows))

    #: Up to this many rows, rules run on the event engine row by row (about 0.2 ms a row); above it the
    #: vectorised batch evaluator (a few ms of fixed cost, then microseconds a row). Both give the same hits
    #: (the rules package tests their parity).
    SMALL_BATCH = 16

    @staticmethod
    def rule_hits(b: Bundle, pids: Sequence[str], as_ofs: Sequence, F: np.ndarray) -> list[list]:
        """Hits per row, each a list of objects with the ``rules.Hit`` fields."""
        from rules.batch import evaluate_batch
        from rules.errors import RuleInputError

        n = len(F)
        per_row: list[list] = [[] for _ in range(n)]
        if n == 0:
            return per_row
        try:
            if n <= Scorer.SMALL_BATCH and b.engine is not None:
                for i in range(n):
                    row = dict(zip(FEATURE_NAMES, F[i].tolist(), strict=True))
                    per_row[i] = b.engine.evaluate(pids[i], None, row, as_of=as_ofs[i])
                return per_row
            frame = pd.DataFrame(F, columns=list(FEATURE_NAMES))
            one = _single(as_ofs)
            if one is None:
                frame.insert(0, "as_of", pd.to_datetime(list(as_ofs)))
            frame.insert(0, "person_id", np.arange(n))
            hits = evaluate_batch(b.ruleset, frame, as_of=one, strict=False)
        except RuleInputError as exc:
            raise ScoringInputError(str(exc), field="features") from None
        # the fields a hit is read by (itertuples over the as-of column would box a Timestamp per hit)
        for h in hits[_HIT_FIELDS].itertuples(index=False):
            per_row[h.person_id].append(h)
        return per_row

    # -- scoring -----------------------------------------------------------------------------------
    def score_frame(self, frame: pd.DataFrame, *, explain: Explain = "flagged", source: str = "api",
                    snapshot_time: datetime | None = None, full: bool = False,
                    hits: Sequence[Sequence] | None = None, bundle: Bundle | None = None,
                    ceiling: bool | None = None) -> list[ScoredPerson]:
        """One ScoredPerson per row of ``frame`` (columns person_id, as_of, catalog features).

        ``full``: every factor and every hit (the explain endpoint); ``hits``: precomputed hits per
        row (the event path passes the event engine's hits).
        """
        if len(frame) == 0:
            return []
        pids = frame["person_id"].astype(str).tolist()
        as_ofs = _datetimes(frame["as_of"])
        return self.score_matrix(pids, as_ofs, self.catalog_matrix(frame), explain=explain, source=source,
                                 snapshot_time=snapshot_time, full=full, hits=hits, bundle=bundle, ceiling=ceiling)

    def score_matrix(self, pids: Sequence[str], as_ofs: Sequence[datetime], F: np.ndarray, *,
                     explain: Explain = "flagged", source: str = "api", snapshot_time: datetime | None = None,
                     full: bool = False, hits: Sequence[Sequence] | None = None,
                     bundle: Bundle | None = None, ceiling: bool | None = None) -> list[ScoredPerson]:
        """As :meth:`score_frame`, from a catalog-ordered feature matrix (the service's fast path).

        ``ceiling``: apply the per-county budget over the as-of population (default: yes for a request
        with one as-of and no precomputed ``hits``; not on the event path nor for a history of dates)."""
        b = bundle or self._bundle
        pol = b.policy
        n = len(F)
        if n == 0:
            return []
        X = self.model_matrix(b, F)
        per_row = self.rule_hits(b, pids, as_ofs, F) if hits is None else [list(h) for h in hits]
        # First pass without model categories: who is flagged, and who needs contributions. Rows without
        # hits (most of a batch) take the model's level directly: the same FusionResult fuse() returns.
        first, prob, counties = self._first_pass(b, pids, as_ofs, F, per_row)
        # The budget ceiling (not on the event path: an incident is new information, scored at once).
        over = np.zeros(n, dtype=bool)
        # By default the ceiling applies to requests for one as-of (batch runs, score APIs); a history of
        # several dates (the explain view) and the event path show levels by the bars alone.
        apply_ceiling = (hits is None and _single(as_ofs) is not None) if ceiling is None else ceiling
        if apply_ceiling and b.thresholds.budget is not None and self._population is not None \
                and b.model is not None:  # otherwise _cuts() has no cut for anyone
            cand, keys = self._candidates(first, prob, pids)
            for i in map(int, np.flatnonzero(cand)):
                cuts = self._cuts(b, as_ofs[i])
                if cuts is None:
                    continue
                by_county, decided, members = cuts
                pid = pids[i]
                ok = decided.get(pid, False) if pid in members else within_budget(keys[i], counties[i], by_county)
                if not ok:
                    over[i] = True
                    first[i] = _replace(first[i], level="none")
        if b.model is None or explain == "none":
            need = np.zeros(n, dtype=bool)
        elif explain == "all" or full:
            need = np.ones(n, dtype=bool)
        else:
            need = np.array([r.level != "none" for r in first], dtype=bool)
        idx = np.flatnonzero(need)
        contrib = self.contributions(b, X[idx]) if len(idx) else None
        crow = {int(i): k for k, i in enumerate(idx)}
        # Records leave scoring in aware UTC: the as-of times (data-contract Beijing wall time, what the
        # rule engine and the feature store work in) and the snapshot time are converted here, once.
        snapshot = _utc_snapshot(snapshot_time)
        one = _single(as_ofs)
        if one is not None:
            as_of = [_from_data_time(one)] * n
        else:
            utc_of = {t: _from_data_time(t) for t in set(as_ofs)}
            as_of = [utc_of[t] for t in as_ofs]
        out: list[ScoredPerson] = []
        make = _scored_maker(snapshot, as_of)
        rs_version, m_version = b.ruleset_version, b.model_version
        budget = b.thresholds.budget
        probs: list = [None] * n if b.model is None else prob.tolist()  # unrounded: levels are decided on these
        max_hits = None if full else pol.max_rule_hits
        fusion_version = pol.version
        for i in range(n):
            res = first[i]
            row_hits = per_row[i]
            explanation: Explanation | None = None
            k = crow.get(i)
            if k is not None and contrib is not None:
                cats, factors = model_reading(b, X[i], contrib[k][:-1], full)
                if cats:
                    res = fuse(probs[i], [(h.rule_id, h.category, h.level, bool(h.urgent)) for h in row_hits],
                               b.thresholds.for_county(counties[i]), pol, cats)
                if over[i]:
                    res = _replace(res, level="none")
                explanation = build_explanation(res, hit_views(row_hits), factors, pol, max_hits=max_hits)
            elif row_hits and explain != "none" and (res.level != "none" or explain == "all" or full):
                explanation = build_explanation(res, hit_views(row_hits), (), pol, max_hits=max_hits)
            p = probs[i]
            extra = {"model_level": res.model_level, "rule_level": res.rule_level,
                     "rule_ids": [str(h.rule_id) for h in row_hits] if row_hits else [],
                     "model_categories": list(res.model_categories), "fusion_version": fusion_version}
            if budget is not None:
                th_i = b.thresholds.for_county(counties[i])
                watch = res.level == "none" and p is not None and p >= th_i.watch
                extra.update(county=counties[i], watch=watch, over_budget=bool(over[i]),
                             thresholds=_bars_view(th_i, budget, counties[i]))
                ref = _risk_reference(budget)
                if ref is not None and p is not None:
                    extra["risk"] = ref.describe(p, counties[i])
            out.append(make({
                "person_id": pids[i], "as_of": as_of[i], "probability": p, "level": res.level,
                "categories": res.categories, "explanation": explanation, "ruleset_version": rs_version,
                "model_version": m_version, "catalog_version": CATALOG_VERSION, "snapshot_time": snapshot,
                "source": source, "urgent": res.urgent, "extra": extra}))
        return out

    def score_event(self, person_id: str, event: dict, features: dict, as_of: pd.Timestamp,
                    snapshot_time: datetime | None = None) -> tuple[ScoredPerson, list]:
        """Score one person at an incident: the event path of the rules, the model on the same vector."""
        b = self._bundle
        if b.engine is None:
            from rules.event_engine import EventRuleEngine

            b = Bundle(b.model, b.ruleset, b.policy, b.thresholds, b.model_version, b.loaded_at,
                       EventRuleEngine(b.ruleset))
            self._bundle = b
        from rules.errors import RuleInputError

        try:
            assert b.engine is not None
            hits = b.engine.evaluate(person_id, event, features, as_of=as_of)
        except RuleInputError as exc:
            raise ScoringInputError(str(exc), field="event") from None
        frame = pd.DataFrame([{"person_id": person_id, "as_of": as_of,
                               **{k: (np.nan if v is None else v) for k, v in features.items()}}])
        scored = self.score_frame(frame, explain="flagged", source="event", snapshot_time=snapshot_time,
                                  hits=[hits], bundle=b)[0]
        return scored, hits


def model_reading(b: Bundle, x: np.ndarray, c, full: bool) -> tuple[tuple[str, ...], tuple]:
    """The model's categories and the factors shown for one row (model input ``x``, its contributions ``c``):
    a pure function of (bundle, ``x``, ``c``, ``full``: every factor, the explain view), so it is remembered per
    bundle under exactly that key: contributions from anywhere else (another attribution) never meet a
    reading of TreeSHAP's."""
    memo = b.__dict__.get("_readings")
    if memo is None:
        memo = b.__dict__.setdefault("_readings", {})
    key = (x.tobytes(), np.ascontiguousarray(c, dtype=np.float64).tobytes(), full)
    got = memo.get(key)
    if got is None:
        pol, names = b.policy, b.feature_names
        cats = model_categories(names, c.tolist(), pol)
        values = dict(zip(names, x.tolist(), strict=True))
        factors = factors_from_contributions(names, c, values, top=None if full else pol.top_factors,
                                             min_abs=0.0 if full else pol.min_abs_contribution)
        got = (cats, factors)
        if len(memo) >= MAX_READINGS:
            memo.clear()  # rare (one model version, up to this many rows): start again rather than grow
        memo[key] = got
    return got


#: Rows whose model reading (categories, factors) a bundle remembers (like the contribution cache's bound).
MAX_READINGS = 50_000


def _replace(res: FusionResult, **changes) -> FusionResult:
    from dataclasses import replace

    return replace(res, **changes)


def _risk_reference(budget: AlertThresholds) -> RiskReference | None:
    """The version's fixed reference for the reviewer's terms (registered with its thresholds), parsed once."""
    cache = budget.__dict__
    if "_risk_reference" not in cache:
        raw = budget.detail.get("risk_reference")
        cache["_risk_reference"] = RiskReference.from_dict(raw) if raw else None
    return cache["_risk_reference"]


def _bars_view(th: Thresholds, budget: AlertThresholds, county: str | None) -> dict:
    """The bars a person was levelled against (shown with each alert), one dict per county."""
    cache = budget.__dict__.setdefault("_views", {})
    view = cache.get(county)
    if view is None:
        view = {"version": budget.version, "county": county, "budget_per_run": budget.budget_of(county),
                "red": th.red, "orange": th.orange, "yellow": th.yellow, "watch": th.watch}
        cache[county] = view
    return view


def _single(as_ofs: Sequence[datetime]) -> datetime | None:
    """The one as-of of every row, or None when the rows have several (cheap for the common case)."""
    if not as_ofs:
        return None
    first = as_ofs[0]
    same = as_ofs.count(first) == len(as_ofs) if isinstance(as_ofs, list) else all(t == first for t in as_ofs)
    return first if same else None


def _datetimes(column: pd.Series) -> list[datetime]:
    """A frame's as-of column as Python datetimes, converting each distinct value once."""
    values = column.to_numpy()
    if values.dtype.kind == "M" and len(values) and not pd.isna(values[0]) and (values == values[0]).all():
        return [pd.Timestamp(values[0]).to_pydatetime()] * len(values)  # one as-of (a batch run, a score API)
    stamps = pd.to_datetime(column)
    codes, uniques = pd.factorize(stamps, sort=False)
    if (codes < 0).any():  # a missing time: convert every value (the caller reports it)
        return [t.to_pydatetime() for t in stamps]
    values = [t.to_pydatetime() for t in uniques]
    if len(values) == 1 and (codes == 0).all():
        return values * len(codes)
    return [values[c] for c in codes.tolist()]


def _scored_maker(snapshot: datetime, as_of: Sequence[datetime]):
    """Build ScoredPerson records from field dicts, skipping the dataclass's own ``__init__`` when that is
    safe: its only work (``__post_init__``) is to make both times aware UTC, and here they already are
    (converted above). A test checks the records equal those the constructor builds."""
    aware = all(type(t) is datetime and t.tzinfo is UTC for t in {snapshot, *as_of})  # what it leaves as is
    if not aware or hasattr(ScoredPerson, "__slots__"):
        return lambda fields: ScoredPerson(**fields)
    new = object.__new__

    def make(fields: dict) -> ScoredPerson:
        s = new(ScoredPerson)
        s.__dict__.update(fields)
        return s

    return make


@functools.lru_cache(maxsize=1024)
def _from_data_time(t: datetime) -> datetime:
    """:func:`common.clock.from_data_time`, remembered: requests ask for the same few as-of dates."""
    return from_data_time(t)
