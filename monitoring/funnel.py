"""The alert funnel: created -> reviewed -> approved -> delivered -> acknowledged -> outcome reported,
with the time each step took, by prefecture/county and category; stale and dead-lettered items.

Reads the alert store's tables with plain SQL (any SQLAlchemy URL), and places each person through
the data directory's persons -> addresses -> grids tables (residence).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from common.clock import to_utc, utcnow

__all__ = ["Funnel", "alert_funnel", "STAGES"]

STAGES = [("created", "生成"), ("reviewed", "已审核"), ("approved", "审核通过"), ("delivered", "已送达"),
          ("acknowledged", "已签收"), ("outcome", "已反馈结果")]


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


def _bound(engine, ts) -> datetime:
    """A query bound for the store's times: aware UTC for ``timestamptz`` (PostgreSQL), the UTC wall time on SQLite."""
    dt = pd.Timestamp(ts).to_pydatetime()
    return to_utc(dt) if engine.dialect.name == "postgresql" else to_utc(dt).replace(tzinfo=None)


def _naive_utc(col: pd.Series) -> pd.Series:
    """Store times (aware from PostgreSQL, UTC text from SQLite) as naive UTC, the funnel's arithmetic."""
    return pd.to_datetime(col, utc=True).dt.tz_localize(None)


def alert_funnel(engine, store, start, end, stale_days: int = 7, now=None) -> Funnel:
    """Funnel of the alerts created in [start, end)."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    now = pd.Timestamp(to_utc(utcnow() if now is None else now)).tz_localize(None)  # naive UTC, as the columns
    import sqlalchemy as sa

    def q(sql: str, **params) -> pd.DataFrame:
        with engine.connect() as con:
            return pd.read_sql_query(sa.text(sql), con, params=params or None)

    alerts = q("SELECT id, person_id, level, score, categories, urgent, source, state, created_at, reviewed_at, "
               "review_decision FROM alerts WHERE created_at >= :s AND created_at < :e",
               s=_bound(engine, start), e=_bound(engine, end))
    if alerts.empty:
        return Funnel(alerts.assign(**{s: pd.Series(dtype=bool) for s, _ in STAGES}), pd.DataFrame(),
                      pd.DataFrame(), pd.DataFrame(columns=["kind_label", "count"]), pd.DataFrame(), pd.DataFrame())
    ids = tuple(int(i) for i in alerts["id"])
    deliveries = q("SELECT alert_id, status, created_at, finished_at, dead_reason, role, inbox_id FROM deliveries "
                   "WHERE kind = 'send'")
    deliveries = deliveries[deliveries["alert_id"].isin(ids)]
    inbox = q("SELECT alert_id, status, created_at, read_at, acknowledged_at, reported_at FROM inbox_items")
    inbox = inbox[inbox["alert_id"].isin(ids)]
    outcomes = q("SELECT alert_id, kind, kind_label, reported_at FROM alert_outcomes")
    outcomes = outcomes[outcomes["alert_id"].isin(ids)]

    for col in ("created_at", "reviewed_at"):
        alerts[col] = _naive_utc(alerts[col])
    for df, cols in ((deliveries, ("created_at", "finished_at")),
                     (inbox, ("created_at", "read_at", "acknowledged_at", "reported_at"))):
        for c in cols:
            df[c] = _naive_utc(df[c])
    delivered_at = inbox.groupby("alert_id")["created_at"].min()
    acked_at = inbox.groupby("alert_id")["acknowledged_at"].min()
    a = alerts.copy()
    a["created"] = True
    a["reviewed"] = a["reviewed_at"].notna()
    a["approved"] = a["review_decision"].eq("approve")  # the store records approve | dismiss | escalate
    a["delivered"] = a["id"].isin(delivered_at.index)
    a["acknowledged"] = a["id"].map(acked_at).notna()
    a["outcome"] = a["id"].isin(outcomes["alert_id"])
    a["review_hours"] = (a["reviewed_at"] - a["created_at"]).dt.total_seconds() / 3600
    a["ack_hours"] = (a["id"].map(acked_at) - a["id"].map(delivered_at)).dt.total_seconds() / 3600
    a["category"] = a["categories"].map(_first_category)
    a = a.merge(_regions(store), on="person_id", how="left")
    stages = [s for s, _ in STAGES]
    by_region = a.groupby(["prefecture", "county"])[stages].sum().astype(int).reset_index()
    by_category = a.groupby("category")[stages].sum().astype(int).reset_index()
    outc = outcomes.groupby("kind_label").size().rename("count").reset_index()
    open_items = inbox[inbox["acknowledged_at"].isna() & inbox["status"].isin(["unread", "read"])]
    stale = open_items[(now - open_items["created_at"]) > pd.Timedelta(days=stale_days)]
    dead = deliveries[deliveries["status"].eq("dead")]
    return Funnel(a, by_region, by_category, outc, stale, dead)


def _first_category(value) -> str:
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, (list, tuple, np.ndarray)) and len(value):
        return str(value[0])
    return "unknown"
