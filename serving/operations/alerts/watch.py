"""The watch list (关注名单) and the counties' alert budgets in the alert store.

Scoring marks people above their county's watch bar who are not alerts (outside the budget, or
between the watch bar and the alert bar) with ``extra["watch"]``; each score also carries the bars it
was levelled against (``extra["thresholds"]``: the county's ``budget_per_run`` and the thresholds
version). :func:`record_scores` keeps the store's view of both current:

* a watched person is upserted (first listing time kept, probability and as-of replaced);
* a person scored again and no longer watched (now an alert, or below the bar) is removed, but
  only by a score at least as recent as the entry (an older replay never clears a newer listing);
* each county's budget is upserted from the thresholds of the scores that name it.

Scores without budget information (a policy without a budget) change nothing. The console lists
the watch list per jurisdiction and states the alert volume against the budget in its queue header
(:func:`budget_status`); nobody is pushed from the watch list one by one: the optional weekly digest
(:mod:`serving.operations.push.digest`) sends each cadre one list, leaving out people with an open alert
(:func:`open_alert_people`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from common.clock import utcnow
from common.records import Explanation, ScoredPerson
from serving.operations.alerts.lifecycle import OPEN
from serving.operations.alerts.models import Alert, CountyBudget, WatchEntry
from serving.operations.alerts.payload import reason_texts

__all__ = ["WatchReport", "BudgetStatus", "record_scores", "watch_entries", "watch_reasons", "budget_status",
           "open_alert_people", "MAX_WATCH_REASONS"]

_CHUNK = 500
#: reasons kept per watched person: what the weekly digest shows (docs/alerts.md)
MAX_WATCH_REASONS = 2


@dataclass(frozen=True)
class WatchReport:
    """What one hand-over did to the watch list and the budgets."""

    listed: int = 0          # people on the watch list after this hand-over (new or updated)
    removed: int = 0         # people taken off (now an alert, or below the bar)
    budgets: int = 0         # county budgets written


@dataclass(frozen=True)
class BudgetStatus:
    """Non-urgent alerts created in the last ``days`` against the budget of the counties in view."""

    alerts: int
    budget: int | None        # None: no county in view has a budget on record
    urgent: int
    watch: int
    counties: int
    days: int

    @property
    def over(self) -> bool:
        return self.budget is not None and self.alerts > self.budget


def watch_reasons(explanation: Explanation | None) -> list[str]:
    """The plain reasons a cadre reads for one watched person (:func:`~serving.operations.alerts.payload.
    reason_texts`: rule texts first, then the factors that raise the risk), without a closing 。."""
    if explanation is None:
        return []
    return list(reason_texts([h.explanation for h in explanation.rule_hits],
                             [f.phrase for f in explanation.factors if f.direction == "up"],
                             limit=MAX_WATCH_REASONS, trim="。"))


def _watch_flag(sp: ScoredPerson) -> bool | None:
    """True / False when the score carries budget information, None when it does not."""
    if "watch" not in sp.extra:
        return None
    return bool(sp.extra.get("watch")) and sp.probability is not None


def record_scores(engine: Engine, scored: Sequence[ScoredPerson], now: datetime | None = None) -> WatchReport:
    """Bring the watch list and the county budgets up to date with ``scored`` (one transaction)."""
    now = now or utcnow()
    listed: dict[str, ScoredPerson] = {}
    cleared: dict[str, datetime] = {}
    budgets: dict[str, tuple[int, str | None]] = {}
    for sp in scored:
        flag = _watch_flag(sp)
        if flag is None:
            continue
        th = sp.extra.get("thresholds") or {}
        county = sp.extra.get("county") or th.get("county")
        if county and th.get("budget_per_run") is not None:
            budgets[str(county)] = (int(th["budget_per_run"]), th.get("version"))
        if flag:
            prev = listed.get(sp.person_id)
            if prev is None or prev.as_of <= sp.as_of:
                listed[sp.person_id] = sp
            cleared.pop(sp.person_id, None)
        elif sp.person_id not in listed:
            cleared[sp.person_id] = max(sp.as_of, cleared.get(sp.person_id, sp.as_of))
    if not (listed or cleared or budgets):
        return WatchReport()
    removed = 0
    with engine.begin() as conn:
        ids = list(listed) + list(cleared)
        existing: dict[str, tuple[datetime, datetime]] = {}
        for start in range(0, len(ids), _CHUNK):
            rows = conn.execute(sa.select(WatchEntry.person_id, WatchEntry.listed_at, WatchEntry.as_of)
                                .where(WatchEntry.person_id.in_(ids[start:start + _CHUNK])))
            existing.update({r.person_id: (r.listed_at, r.as_of) for r in rows})
        cleared = {pid: t for pid, t in cleared.items() if pid in existing}   # only those on the list
        fresh, updates = [], []
        for pid, sp in listed.items():
            row = {"person_id": pid, "county_code": (sp.extra.get("county") or None),
                   "probability": float(sp.probability or 0.0), "as_of": sp.as_of,
                   "model_version": sp.model_version,
                   "thresholds_version": (sp.extra.get("thresholds") or {}).get("version"),
                   "summary": sp.explanation.summary if sp.explanation is not None else None,
                   "reasons": watch_reasons(sp.explanation), "updated_at": now}
            if pid in existing:
                if existing[pid][1] <= sp.as_of:
                    updates.append(row)
            else:
                fresh.append({**row, "listed_at": now})
        if fresh:
            conn.execute(sa.insert(WatchEntry), fresh)
        for row in updates:
            conn.execute(sa.update(WatchEntry).where(WatchEntry.person_id == row["person_id"]).values(**row))
        for pid, as_of in cleared.items():
            res = conn.execute(sa.delete(WatchEntry).where(WatchEntry.person_id == pid, WatchEntry.as_of <= as_of))
            removed += int(res.rowcount or 0)
        for county, (budget, version) in budgets.items():
            hit = conn.execute(sa.update(CountyBudget).where(CountyBudget.county_code == county)
                               .values(budget_per_run=budget, thresholds_version=version, updated_at=now))
            if not hit.rowcount:
                conn.execute(sa.insert(CountyBudget).values(county_code=county, budget_per_run=budget,
                                                            thresholds_version=version, updated_at=now))
    return WatchReport(listed=len(fresh) + len(updates), removed=removed, budgets=len(budgets))


def watch_entries(engine: Engine, where=None, limit: int = 500) -> list[dict]:
    """Watch-list rows, highest probability first; ``where``: a clause on ``WatchEntry.person_id``."""
    q = sa.select(WatchEntry).order_by(WatchEntry.probability.desc(), WatchEntry.person_id).limit(limit)
    if where is not None:
        q = q.where(where)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def budget_status(engine: Engine, counties: Iterable[str] | None, person_clause=None, days: int = 30,
                  now: datetime | None = None) -> BudgetStatus:
    """The queue header's figures: non-urgent alerts created in the last ``days`` (people in view),
    the summed budget of ``counties`` (None: every county on record), urgent alerts and the watch list."""
    since = (now or utcnow()) - timedelta(days=days)
    # people, not rows: a raised level supersedes the earlier alert of the same person
    created = sa.select(Alert.urgent, sa.func.count(sa.distinct(Alert.person_id))).where(Alert.created_at >= since)
    watch = sa.select(sa.func.count()).select_from(WatchEntry)
    if person_clause is not None:
        created = created.where(person_clause(Alert.person_id))
        watch = watch.where(person_clause(WatchEntry.person_id))
    budget_q = sa.select(sa.func.count(), sa.func.sum(CountyBudget.budget_per_run))
    if counties is not None:
        budget_q = budget_q.where(CountyBudget.county_code.in_(list(counties)))
    with engine.connect() as conn:
        by_urgent = {bool(u): int(n) for u, n in conn.execute(created.group_by(Alert.urgent))}
        n_watch = int(conn.scalar(watch) or 0)
        n_counties, total = conn.execute(budget_q).one()
    return BudgetStatus(alerts=by_urgent.get(False, 0), budget=int(total) if n_counties else None,
                        urgent=by_urgent.get(True, 0), watch=n_watch, counties=int(n_counties or 0), days=days)


def open_alert_people(conn, person_ids: Iterable[str]) -> set[str]:
    """Those of ``person_ids`` with an alert still open (in review or pushed, not retired); ``conn``: a
    Session or Connection. A watched person with one gets the alert, not a place on the weekly digest."""
    ids = list(dict.fromkeys(person_ids))
    out: set[str] = set()
    states = sorted(OPEN)
    for start in range(0, len(ids), _CHUNK):
        out.update(conn.execute(sa.select(Alert.person_id).where(Alert.person_id.in_(ids[start:start + _CHUNK]),
                                                                 Alert.state.in_(states))).scalars())
    return out
