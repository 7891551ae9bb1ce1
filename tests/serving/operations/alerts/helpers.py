"""Hand-made ScoredPerson objects, a settable clock, and picks of people from the simulated world."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from common.clock import to_utc
from common.records import Explanation, Factor, RuleHitView, ScoredPerson

__all__ = ["Clock", "scored", "person_with_two_places", "person_with_one_place", "count_items", "pump"]


class Clock:
    """A settable clock for the store (aware UTC, like common.clock.utcnow; a naive start is read as UTC)."""

    def __init__(self, start: datetime):
        self.now = to_utc(start)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


def scored(person_id: str, level: str = "orange", categories=("repeat_dispute",), probability: float | None = 0.3,
           source: str = "batch", urgent: bool = False, note_quote: bool = False) -> ScoredPerson:
    hit_text = "近30天因同一纠纷报警4次，矛盾持续激化"
    if note_quote:
        hit_text = "记录中出现威胁言语“我要和他同归于尽”"
    expl = Explanation(
        summary="近期多次报警且调解失败，存在激化风险",
        rule_hits=(RuleHitView("R-repeat-calls", "2026.11.1", categories[0] if categories else "repeat_dispute",
                               level, urgent, hit_text),),
        factors=(Factor("calls_30d", "近30天报警次数", 4.0, 0.8, "up", "近30天报警4次，风险上升"),
                 Factor("mediation_success_180d", "近180天调解成功次数", 1.0, -0.2, "down", "曾调解成功，风险下降")),
        actions=("3日内上门走访，组织调解",),
    )
    t = datetime(2026, 10, 31, 23, 0, 0)
    return ScoredPerson(person_id=person_id, as_of=t, probability=probability, level=level,
                        categories=tuple(categories), explanation=expl, ruleset_version="rules-2026.11.1",
                        model_version="7", catalog_version="2026.11.1", snapshot_time=t, source=source, urgent=urgent)


def _grid_map(tables) -> dict:
    key = id(tables["addresses"])
    if key not in _GRID_MAPS:
        a = tables["addresses"]
        _GRID_MAPS[key] = dict(zip(a["address_code"], a["grid_id"], strict=True))
    return _GRID_MAPS[key]


_GRID_MAPS: dict = {}


def person_with_two_places(tables, directory, skip=0) -> str:
    """A person whose hukou grid and residence grid differ, both with reachable staff."""
    grids = _grid_map(tables)
    found = 0
    for pid, hukou, residence in zip(tables["persons"]["person_id"], tables["persons"]["hukou_address_code"],
                                     tables["persons"]["residence_address_code"], strict=True):
        gh, gr = grids.get(hukou), grids.get(residence)
        if gh and gr and gh != gr and directory.grid_staff(gh) and directory.grid_staff(gr):
            if found == skip:
                return pid
            found += 1
    raise AssertionError("no person with two places in the world")


def person_with_one_place(tables, directory, skip=0) -> str:
    grids = _grid_map(tables)
    found = 0
    for pid, hukou, residence in zip(tables["persons"]["person_id"], tables["persons"]["hukou_address_code"],
                                     tables["persons"]["residence_address_code"], strict=True):
        if hukou == residence and directory.grid_staff(grids.get(hukou)):
            if found == skip:
                return pid
            found += 1
    raise AssertionError("no person with one place in the world")


def count_items(engine) -> dict:
    """(alert_id, inbox_id) -> number of inbox items."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT alert_id, inbox_id, COUNT(*) FROM inbox_items GROUP BY alert_id, inbox_id"))
        return {(a, i): n for a, i, n in rows}


def pump(engine, adapters=None, **kw):
    """Run one in-process worker until nothing is due."""
    from serving.operations.push import LocalInboxAdapter, PushWorker

    adapters = adapters or {"inbox": LocalInboxAdapter(engine)}
    w = PushWorker(engine, adapters, **kw)
    while w.run_once():
        pass
    return w
