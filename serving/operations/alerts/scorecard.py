"""The station scorecard (派出所一网考): each police station measured on its dispute and risk work.

One module, used by the leadership report (``monitoring.report``) and the console's ``/reports`` page,
so both show the same figures. It reads the alert store (alerts, inbox items, cadres' outcome reports:
every one of those acts is also in the audit log, written in the same transaction) and the records of
the data directory (persons -> addresses -> grids -> stations, disputes and their mediations, escalation
outcomes).

The period ``[start, end)`` is in the data's own time: an alert belongs to it when its ``as_of`` (the data
time its score was computed for) lies in ``(start, end]`` (a score as of T reads the data before T, so the
snapshot at the period's end is about the period); a mediation or an outcome by its recorded ``time``.

Per station (one row; the columns are :data:`COLUMNS`):

* **收到预警** — alerts about a person whose household-registration place or residence this station
  serves (an alert with both places in one station counts once there; with two stations, once in each);
* **按时审核** — of those, reviewed (approve, dismiss or escalate) within the review deadline of the level
  (:class:`ScorecardRules`), counted from filing; the rate's denominator leaves out alerts still waiting
  whose deadline has not passed (neither on time nor late); the same for acknowledgements;
* **已推送** — approved and delivered to at least one cadre inbox;
* **按时签收** — of the pushed, acknowledged by a cadre before the response deadline set at approval;
* **走访反馈** — of the pushed, a visit outcome reported (已走访 / 已化解 / 已转交 / 误报);
* **走访后结局** — of the people with a visit reported, those with an escalation outcome recorded after
  the visit (lower is better; shown, not scored: the numbers are small);
* **调解成功** — mediations of the station's disputes (by the dispute's grid) in the period that succeeded;
* **综合得分** — the mean of the four rates (on-time review, on-time acknowledgement, visits reported,
  mediation success) that the station has data for; **县内排名** ranks the stations of one county by it
  (1 = best; ties share a rank).

>>> ScorecardRules().review_deadline_hours("red", urgent=False)
12.0
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from pydantic import Field

from common.clock import from_data_time, to_data_time, to_utc, utcnow
from common.places import Jurisdiction, Place
from common.settings import ConfigModel
from serving.operations.alerts.models import Alert, AlertOutcome, InboxItem

__all__ = ["ScorecardRules", "Scorecard", "station_scorecard", "tally", "method_lines", "COLUMNS", "StationIndex",
           "in_scope", "data_end", "last_month"]

#: Output columns, code -> Chinese header (the report and the console show the headers only).
COLUMNS: dict[str, str] = {
    "county": "区县", "station": "派出所", "received": "收到预警", "reviewed_on_time": "按时审核",
    "pushed": "已推送", "acked_on_time": "按时签收", "visits": "走访反馈", "outcomes_after_visit": "走访后结局",
    "mediations": "调解次数", "mediation_success": "调解成功", "score": "综合得分", "rank": "县内排名",
}


class ScorecardRules(ConfigModel):
    """The deadlines the scorecard measures against (hours). The acknowledgement deadline is the one the
    alert got at approval (``AlertPolicy.deadline_hours``, stored on the alert); review deadlines are here."""

    review_hours: dict[str, float] = Field(default_factory=lambda: {"red": 12.0, "orange": 24.0, "yellow": 72.0})
    urgent_review_hours: float = Field(default=2.0, gt=0)

    def review_deadline_hours(self, level: str, *, urgent: bool) -> float:
        if urgent:
            return float(self.urgent_review_hours)
        return float(self.review_hours.get(level, max(self.review_hours.values())))


def method_lines(rules: ScorecardRules | None = None) -> list[str]:
    """How the figures are made, in the words written under the table."""
    r = rules or ScorecardRules()
    h = r.review_hours
    return [
        "统计口径：预警按其评分所依据的数据时点归入本期；调解与结局事件按其记录时间归入本期。",
        "收到预警：当事人户籍地或居住地所属派出所各计一次（两地同属一所只计一次）。",
        f"按时审核：自预警入库起，紧急预警 {r.urgent_review_hours:g} 小时内、红色 {h.get('red', 0):g} 小时、"
        f"橙色 {h.get('orange', 0):g} 小时、黄色 {h.get('yellow', 0):g} 小时内完成审核（通过、驳回或上报复核）。",
        "已推送：审核通过并送达至少一名网格员、村社干部或社区民警的收件箱。",
        "尚未到时限的待审核、待签收预警既不算按时也不算超时，不计入这两项比率的分母（括号内为按时占已到期的比例）。",
        "按时签收：在审核通过时确定的处置时限前签收（红色24小时、橙色3天、黄色7天，以预警上记录的时限为准）。",
        "走访反馈：已推送的预警中，干部反馈了走访结果（已走访、已化解、已转交或误报）的条数。",
        "走访后结局：已反馈走访的人员中，走访之后又记录了民转刑、个人极端事件或自伤的人数（越少越好，仅列示不计分）。",
        "调解成功：本所辖区网格内矛盾纠纷在本期的调解中，结果为调解成功的次数与占比。",
        "综合得分：按时审核率、按时签收率（占已推送）、走访反馈率（占已推送）、调解成功率四项中有数据的各项取平均，"
        "满分100；县内排名按综合得分从高到低，得分相同名次相同。",
    ]


@dataclass
class StationIndex:
    """Who belongs to which station, from the data directory's records (built once per report)."""

    person_stations: dict[str, tuple[str, ...]]     # person id -> stations of their places (deduped)
    stations: pd.DataFrame                          # station_id, name, township_code, county_code, county
    grid_station: dict[str, str]                    # grid id -> station id
    mediations: pd.DataFrame                        # mediation_id, time, result, station_id
    outcomes: pd.DataFrame                          # person_id, time (data time)

    @classmethod
    def from_event_store(cls, store) -> StationIndex:
        from features.divisions import load_divisions

        grids = store.table("grids")
        grid_station = dict(zip(grids["grid_id"].astype(str), grids["station_id"].astype(str), strict=True))
        addr = store.table("addresses")
        addr_grid = dict(zip(addr["address_code"].astype(str), addr["grid_id"].astype(str), strict=True))
        persons = store.table("persons")
        ps: dict[str, tuple[str, ...]] = {}
        for pid, h, r in zip(persons["person_id"].astype(str), persons["hukou_address_code"],
                             persons["residence_address_code"], strict=True):
            sts = [grid_station.get(addr_grid.get(str(c), ""), "") for c in (h, r) if isinstance(c, str)]
            ps[pid] = tuple(dict.fromkeys(s for s in sts if s))
        st = store.table("stations")[["station_id", "name", "township_code", "county_code"]].copy()
        st["station_id"] = st["station_id"].astype(str)
        names = load_divisions().set_index("code")["name"]
        st["county"] = st["county_code"].astype(str).map(names).fillna(st["county_code"].astype(str))
        disputes = store.table("disputes")[["dispute_id", "grid_id"]]
        med = store.table("mediations")[["mediation_id", "dispute_id", "time", "result"]].merge(
            disputes, on="dispute_id", how="left")
        med["station_id"] = med["grid_id"].astype("string").map(grid_station)
        out = store.table("outcomes")[["person_id", "time"]].copy()
        out["person_id"] = out["person_id"].astype(str)
        return cls(ps, st, grid_station, med[["mediation_id", "time", "result", "station_id"]], out)


def data_end(store) -> pd.Timestamp | None:
    """The data's own "today" (data time): the day after the latest recorded incident; None without any."""
    t = pd.to_datetime(store.table("incidents")["event_time"]).max()
    return None if pd.isna(t) else pd.Timestamp(t).normalize() + pd.Timedelta(days=1)


def last_month(store) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """``[start, end)``: the month of data that ends where the records end."""
    end = data_end(store)
    return None if end is None else (end - pd.DateOffset(months=1), end)


def in_scope(jurisdiction: Jurisdiction, station_id: str, township_code: str) -> bool:
    """Whether a viewer with ``jurisdiction`` sees a station's row: the station itself, or a division
    that covers the station's seat (the one ``covers`` rule of :mod:`common.places`)."""
    seat = Place("unknown", f"{township_code}000-0", station_id=station_id)
    return jurisdiction.kind == "province" or jurisdiction.covers(seat)


@dataclass
class Scorecard:
    start: datetime                     # data time (naive Beijing), inclusive
    end: datetime                       # exclusive
    table: pd.DataFrame                 # one row per station, columns of COLUMNS (+ station_id, *_rate)
    rules: ScorecardRules = field(default_factory=ScorecardRules)

    @property
    def method(self) -> list[str]:
        return method_lines(self.rules)

    def display(self, limit: int | None = None) -> pd.DataFrame:
        """The table as people read it: Chinese headers, counts with their share, the score and rank."""
        t = self.table.head(limit) if limit else self.table

        def share(n, d) -> str:
            return f"{int(n)}（{n / d:.0%}）" if d else f"{int(n)}"

        rows = []
        for r in t.itertuples():
            rows.append({
                "区县": r.county, "派出所": r.station, "收到预警": int(r.received),
                "按时审核": share(r.reviewed_on_time, r.review_due), "已推送": int(r.pushed),
                "按时签收": share(r.acked_on_time, r.ack_due), "走访反馈": share(r.visits, r.pushed),
                "走访后结局": int(r.outcomes_after_visit), "调解成功": share(r.mediation_success, r.mediations),
                "综合得分": "—" if pd.isna(r.score) else f"{r.score:.0f}",
                "县内排名": "—" if pd.isna(r.rank) else f"{int(r.rank)}/{int(r.county_stations)}",
            })
        return pd.DataFrame(rows, columns=["区县", "派出所", "收到预警", "按时审核", "已推送", "按时签收", "走访反馈",
                                           "走访后结局", "调解成功", "综合得分", "县内排名"])


def _alert_rows(engine, start_utc: datetime, end_utc: datetime) -> pd.DataFrame:
    items = (sa.select(InboxItem.alert_id, sa.func.min(InboxItem.created_at).label("delivered_at"),
                       sa.func.min(InboxItem.acknowledged_at).label("acknowledged_at"))
             .group_by(InboxItem.alert_id).subquery("items"))
    visits = (sa.select(AlertOutcome.alert_id, sa.func.min(AlertOutcome.reported_at).label("visit_at"))
              .group_by(AlertOutcome.alert_id).subquery("visits"))
    q = (sa.select(Alert.id, Alert.person_id, Alert.level, Alert.urgent, Alert.created_at, Alert.reviewed_at,
                   Alert.review_decision, Alert.deadline_at, items.c.delivered_at, items.c.acknowledged_at,
                   visits.c.visit_at)
         .outerjoin(items, items.c.alert_id == Alert.id).outerjoin(visits, visits.c.alert_id == Alert.id)
         .where(Alert.as_of > start_utc, Alert.as_of <= end_utc))      # a score as of T is about the data before T
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    cols = ["id", "person_id", "level", "urgent", "created_at", "reviewed_at", "review_decision", "deadline_at",
            "delivered_at", "acknowledged_at", "visit_at"]
    df = pd.DataFrame([tuple(r) for r in rows], columns=cols)
    for c in ("created_at", "reviewed_at", "deadline_at", "delivered_at", "acknowledged_at", "visit_at"):
        df[c] = pd.to_datetime(df[c], utc=True, format="ISO8601")  # aggregates are strings on SQLite
    df["person_id"] = df["person_id"].astype(str)
    return df


def station_scorecard(engine, index: StationIndex, start, end, *, rules: ScorecardRules | None = None,
                      scope: Iterable[Jurisdiction] | None = None, now=None) -> Scorecard:
    """The scorecard of ``[start, end)`` (data time: naive is Beijing wall time, as in the records).

    Stations listed: those with an alert or a mediation in the period (within ``scope`` when given),
    sorted by county, then rank.
    """
    s, e = to_data_time(start), to_data_time(end)
    alerts = _alert_rows(engine, from_data_time(s), from_data_time(e))
    return tally(alerts, index, s, e, rules=rules, scope=scope, now=now)


def tally(alerts: pd.DataFrame, index: StationIndex, start, end, *, rules: ScorecardRules | None = None,
          scope: Iterable[Jurisdiction] | None = None, now=None) -> Scorecard:
    """The scorecard from the period's alert rows (the columns :func:`station_scorecard` reads from the store:
    id, person_id, level, urgent and the aware-UTC times created_at, reviewed_at, review_decision,
    deadline_at, delivered_at, acknowledged_at, visit_at) and the records in ``index``. No I/O."""
    rules = rules or ScorecardRules()
    now = pd.Timestamp(to_utc(utcnow() if now is None else now))
    s, e = to_data_time(start), to_data_time(end)
    a = alerts.copy()
    hours = (a["reviewed_at"] - a["created_at"]).dt.total_seconds() / 3600
    limit = [rules.review_deadline_hours(lv, urgent=bool(u)) for lv, u in zip(a["level"], a["urgent"], strict=True)]
    limit_h = pd.Series(limit, index=a.index, dtype=float)
    a["reviewed_on_time"] = a["reviewed_at"].notna() & (hours <= limit_h)
    # an alert still waiting whose deadline has not passed is neither on time nor late: left out of the rate
    a["review_due"] = a["reviewed_at"].notna() | (a["created_at"] + pd.to_timedelta(limit_h, unit="h") <= now)
    a["pushed"] = (a["review_decision"] == "approve") & a["delivered_at"].notna()
    a["acked_on_time"] = a["pushed"] & a["acknowledged_at"].notna() & (
        a["deadline_at"].isna() | (a["acknowledged_at"] <= a["deadline_at"]))
    a["ack_due"] = a["pushed"] & (a["acknowledged_at"].notna() | a["deadline_at"].isna() | (a["deadline_at"] <= now))
    a["visits"] = a["pushed"] & a["visit_at"].notna()
    # an escalation outcome recorded (data time) after the visit was reported
    out = index.outcomes
    first_visit = a.loc[a["visits"]].groupby("person_id")["visit_at"].min()
    after: set[str] = set()
    if len(first_visit) and len(out):
        o = out[out["person_id"].isin(first_visit.index)]
        visit_data_time = first_visit.map(lambda t: pd.Timestamp(to_data_time(to_utc(t))))
        after = set(o.loc[pd.to_datetime(o["time"]) > o["person_id"].map(visit_data_time), "person_id"])
    a["outcome_after_visit"] = a["visits"] & a["person_id"].isin(after)

    stations_of = index.person_stations
    a["station_id"] = a["person_id"].map(lambda p: stations_of.get(p, ()))
    per = a.explode("station_id").dropna(subset=["station_id"])
    counts = per.groupby("station_id").agg(
        received=("id", "size"), reviewed_on_time=("reviewed_on_time", "sum"), review_due=("review_due", "sum"),
        pushed=("pushed", "sum"), acked_on_time=("acked_on_time", "sum"), ack_due=("ack_due", "sum"),
        visits=("visits", "sum"))
    people_after = (per[per["outcome_after_visit"]].drop_duplicates(["station_id", "person_id"])
                    .groupby("station_id").size().rename("outcomes_after_visit"))
    med = index.mediations
    med = med[(pd.to_datetime(med["time"]) >= pd.Timestamp(s)) & (pd.to_datetime(med["time"]) < pd.Timestamp(e))]
    meds = med.dropna(subset=["station_id"]).groupby("station_id").agg(
        mediations=("mediation_id", "size"), mediation_success=("result", lambda r: int((r == "success").sum())))
    t = counts.join(people_after, how="outer").join(meds, how="outer").fillna(0).astype(int).reset_index()
    t = t.rename(columns={"index": "station_id"}).merge(index.stations, on="station_id", how="left")
    t["station"] = t["name"].fillna(t["station_id"])
    t["county"] = t["county"].fillna("未知")
    if scope is not None:
        scopes = list(scope)
        t = t[[any(in_scope(j, sid, str(tc)) for j in scopes)
               for sid, tc in zip(t["station_id"], t["township_code"].fillna(""), strict=True)]]

    def rate(n: str, d: str) -> pd.Series:
        return (t[n] / t[d]).where(t[d] > 0)

    t = t.assign(review_rate=rate("reviewed_on_time", "review_due"), ack_rate=rate("acked_on_time", "ack_due"),
                 visit_rate=rate("visits", "pushed"), mediation_rate=rate("mediation_success", "mediations"))
    t["score"] = t[["review_rate", "ack_rate", "visit_rate", "mediation_rate"]].mean(axis=1, skipna=True) * 100
    t["rank"] = t.groupby("county_code")["score"].rank(method="min", ascending=False)
    t["county_stations"] = t.groupby("county_code")["score"].transform("count")
    t = t.sort_values(["county_code", "rank", "station_id"], na_position="last").reset_index(drop=True)
    keep = ["station_id", "county_code", *COLUMNS, "county_stations", "review_due", "ack_due", "review_rate",
            "ack_rate", "visit_rate", "mediation_rate"]
    return Scorecard(s, e, t[keep], rules)
