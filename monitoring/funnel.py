"""The alert funnel: created -> reviewed -> approved -> delivered -> acknowledged -> outcome reported,
with the time each step took, by prefecture/county and category; stale and dead-lettered items.

Reads the alert store through its read model (:mod:`serving.operations.alerts.readmodel`: typed
queries on the ORM, any SQLAlchemy URL), and places each person through the data directory's
persons -> addresses -> grids tables (residence).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from common.clock import from_data_time, to_utc, utcnow
from serving.operations.alerts.readmodel import STAGES as _STAGES

__all__ = ["Funnel", "alert_funnel", "STAGES"]

STAGES = list(_STAGES)


@dataclass
class Funnel:
    alerts: pd.DataFrame        # one row per alert in the period with stage flags, durations and region
    by_region: pd.DataFrame     # prefecture/county x stage counts
    by_category: pd.DataFrame   # category x stage counts
    outcomes: pd.DataFrame      # kind_label -> count
    stale: pd.DataFrame         # inbox items unacknowledged past the threshold
    dead: pd.DataFrame          # dead-lettered deliveries

    def totals(self) -> dict[str, int]:
        return {s: int(self.alerts[s].sum()) for s, _ in STAGES} if len(self.alerts) else {s: 0 for s, _ in STAGES}

    def median_hours(self, column: str) -> float | None:
        v = self.alerts[column].dropna() if column in self.alerts else pd.Series(dtype=float)
        return float(v.median()) if len(v) else None


def _regions(store) -> pd.DataFrame:
    """person_id -> prefecture/county (code and name) of the residence."""
    from features.divisions import load_divisions

    persons = store.table("persons")[["person_id", "residence_address_code"]]
    grid = store.table("addresses").set_index("address_code")["grid_id"]
    grids = store.table("grids").set_index("grid_id")
    g = persons["residence_address_code"].map(grid)
    names = load_divisions().set_index("code")["name"]
    out = pd.DataFrame({"person_id": persons["person_id"].astype(str).to_numpy(),
                        "prefecture_code": g.map(grids["prefecture_code"]).to_numpy(),
                        "county_code": g.map(grids["county_code"]).to_numpy()})
    out["prefecture"] = out["prefecture_code"].map(names).fillna("未知")
    out["county"] = out["county_code"].map(names).fillna("未知")
    return out


def alert_funnel(engine, store, start, end, stale_days: int = 7, now=None, by: str = "created") -> Funnel:
    """Funnel of the alerts created in [start, end) (naive bounds are UTC, as the store's times), or with
    ``by="as_of"`` of the alerts about that period of the data (naive bounds are data time: Beijing)."""
    from serving.operations.alerts.readmodel import AlertReadModel, count_stages

    if by == "as_of":
        s, e = from_data_time(start), from_data_time(end)
    else:
        s, e = to_utc(start), to_utc(end)
    now = pd.Timestamp(to_utc(utcnow() if now is None else now))
    rm = AlertReadModel(engine, by="as_of" if by == "as_of" else "created")
    rows = rm.funnel_alerts(s, e)
    stages = [st for st, _ in STAGES]
    if not rows:
        empty = pd.DataFrame(columns=list(_ALERT_COLUMNS))
        return Funnel(empty.assign(**{st: pd.Series(dtype=bool) for st in stages}), pd.DataFrame(),
                      pd.DataFrame(), pd.DataFrame(columns=["kind_label", "count"]), pd.DataFrame(), pd.DataFrame())
    a = pd.DataFrame([{**{c: getattr(r, c) for c in _ALERT_COLUMNS}, **r.stages, "review_hours": r.review_hours,
                       "ack_hours": r.ack_hours, "category": r.category} for r in rows])
    for col in ("created_at", "reviewed_at"):
        a[col] = pd.to_datetime(a[col], utc=True)
    for col in ("review_hours", "ack_hours"):
        a[col] = a[col].astype(float)
    regions = _regions(store)
    a = a.merge(regions, on="person_id", how="left")
    place = {pid: (p, c) for pid, p, c in regions[["person_id", "prefecture", "county"]].itertuples(index=False)}
    by_region = pd.DataFrame([{"prefecture": p, "county": c, **n.as_dict()}
                              for (p, c), n in count_stages(rows, key=lambda r: place.get(r.person_id)).items()],
                             columns=["prefecture", "county", *stages])
    by_category = pd.DataFrame([{"category": k, **n.as_dict()}
                                for k, n in count_stages(rows, key=lambda r: r.category).items()],
                               columns=["category", *stages])
    outc = pd.DataFrame([{"kind_label": o.kind_label, "count": o.count} for o in rm.outcome_counts(s, e)],
                        columns=["kind_label", "count"])
    outc = outc.groupby("kind_label", as_index=False)["count"].sum() if len(outc) else outc
    stale = pd.DataFrame([vars(i) for i in rm.stale_items(s, e, now=now.to_pydatetime(),
                                                          older_than=pd.Timedelta(days=stale_days).to_pytimedelta())],
                         columns=["alert_id", "inbox_id", "staff_id", "status", "created_at", "read_at"])
    dead = pd.DataFrame([vars(d) for d in rm.dead_letters(s, e)],
                        columns=["id", "alert_id", "channel", "role", "inbox_id", "attempts", "dead_reason",
                                 "created_at", "finished_at"])
    return Funnel(a, by_region, by_category, outc, stale, dead)


_ALERT_COLUMNS = ("id", "person_id", "level", "score", "categories", "urgent", "source", "state", "created_at",
                  "reviewed_at", "review_decision")
