"""The watch list page and the queue header's budget line, per jurisdiction.

The watch list (关注名单) holds people above their county's watch bar who are not alerts; it is for
routine visits and is never pushed person by person. The queue header states the non-urgent alerts of
the last budget period against the budget of the counties in view ("近30天预警 38 条 / 预算 40 条"),
urgent alerts apart (outside the budget). A sub-county user (township, village, station) sees the
figures of the counties their people live in.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from common.places import Jurisdiction
from serving.operations.alerts.models import CountyBudget, WatchEntry
from serving.operations.alerts.watch import BudgetStatus, budget_status, watch_entries
from serving.operations.console.models import person_places
from serving.operations.console.scope import place_filter, sync_places
from serving.operations.console.world import World

__all__ = ["WatchRow", "list_watch", "budget_header", "budget_line", "watch_page"]

#: Days a budget covers (one scoring run; the fusion policy's budget.period_days default).
PERIOD_DAYS = 30


@dataclass(frozen=True)
class WatchRow:
    person_id: str
    probability: float
    county: str
    as_of: object
    listed_at: object
    summary: str


def _people_in(scope: Jurisdiction):
    """A clause builder: ``column IN (people with a cached place in scope)``; None for the province."""
    if scope.kind == "province":
        return None
    inside = sa.select(person_places.c.person_id).where(place_filter(scope))
    return lambda col: col.in_(inside)


def _sync_watch(engine: Engine, world: World) -> None:
    with engine.connect() as conn:
        ids = list(conn.scalars(sa.select(WatchEntry.person_id)))
    if ids:
        sync_places(engine, world, person_ids=ids)


def list_watch(engine: Engine, world: World, scope: Jurisdiction, limit: int = 500, *,
               synced: bool = False) -> list[WatchRow]:
    """The watch list in ``scope``, highest risk first (places cached first, so scope is decided)."""
    if not synced:
        _sync_watch(engine, world)
    clause = _people_in(scope)
    rows = watch_entries(engine, where=None if clause is None else clause(WatchEntry.person_id), limit=limit)
    return [WatchRow(r["person_id"], float(r["probability"]), world.county_name(r["county_code"] or ""),
                     r["as_of"], r["listed_at"], r["summary"] or "") for r in rows]


def _counties_in(engine: Engine, scope: Jurisdiction) -> list[str] | None:
    if scope.kind == "province":
        return None
    with engine.connect() as conn:
        if scope.kind in ("prefecture", "county"):
            known = conn.scalars(sa.select(CountyBudget.county_code))
            return [c for c in known if c.startswith(scope.prefix or "\0")]
        return sorted(c for c in conn.scalars(sa.select(person_places.c.county_code).distinct()
                                              .where(place_filter(scope))) if c)


def budget_header(engine: Engine, world: World, scope: Jurisdiction, days: int = PERIOD_DAYS, *,
                  synced: bool = False) -> BudgetStatus:
    if not synced:
        _sync_watch(engine, world)
    return budget_status(engine, _counties_in(engine, scope), _people_in(scope), days=days)


def watch_page(engine: Engine, world: World, scope: Jurisdiction, limit: int = 500) -> tuple[list[WatchRow],
                                                                                          BudgetStatus]:
    """The watch list and the budget figures of ``scope``, the watched people's places cached once."""
    _sync_watch(engine, world)
    return (list_watch(engine, world, scope, limit, synced=True),
            budget_header(engine, world, scope, synced=True))


def budget_line(s: BudgetStatus) -> str:
    """The header sentence, Chinese, no identifiers."""
    head = f"近{s.days}天非紧急预警 {s.alerts} 条"
    head += f" / 预算 {s.budget} 条（{s.counties} 个区县）" if s.budget is not None else "（未登记预警预算）"
    if s.over:
        head += "，已超出预算"
    return f"{head}；紧急预警 {s.urgent} 条不占预算；关注名单 {s.watch} 人"
