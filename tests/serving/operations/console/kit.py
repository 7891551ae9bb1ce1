"""Shared helpers of the console tests (HTTP and browser): a world, a migrated store with alerts,
accounts in two counties, and a login helper that does the CSRF dance like a browser."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime

from common.records import Explanation, Factor, RuleHitView, ScoredPerson
from serving.operations.alerts import AlertStore
from serving.operations.auth import UserStore
from serving.operations.console import World

__all__ = ["PASSWORD", "scored", "people_by_county", "seed_alerts", "add_users", "login", "csrf_from"]

PASSWORD = "correct-horse-battery"


def risk_terms(probability: float, base_rate: float = 0.006) -> dict:
    """What the scorer attaches beside the probability (common.riskterms): multiple of the average, place in
    the county (a plausible figure for tests and screenshots)."""
    return {"multiple": round(probability / base_rate, 1), "percentile": round(min(99.9, 90 + 20 * probability), 1),
            "county": None, "base_rate": base_rate, "reference": "v7"}


def scored(person_id: str, level: str = "orange", probability: float = 0.3, categories=("repeat_dispute",),
           urgent: bool = False, risk: dict | None = None) -> ScoredPerson:
    expl = Explanation(
        summary="近期多次报警且调解失败，存在激化风险",
        rule_hits=(RuleHitView("R-repeat-calls", "2026.11.1", categories[0], level, urgent,
                               "近30天因同一纠纷报警4次，矛盾持续激化"),),
        factors=(Factor("calls_30d", "近30天报警次数", 4.0, 0.8, "up", "近30天报警4次，风险上升"),
                 Factor("threat_notes_90d", "近90天威胁言语次数", 1.0, 0.5, "up", "近90天出现威胁言语1次，风险上升"),
                 Factor("mediation_success_180d", "近180天调解成功次数", 1.0, -0.2, "down", "曾调解成功，风险下降")),
        actions=("3日内上门走访，组织调解",))
    t = datetime(2026, 10, 31, 23, 0, 0)
    return ScoredPerson(person_id=person_id, as_of=t, probability=probability, level=level,
                        categories=tuple(categories), explanation=expl, ruleset_version="rules-2026.11.1",
                        model_version="7", catalog_version="2026.11.1", snapshot_time=t, urgent=urgent,
                        extra={"risk": risk} if risk else {})


def people_by_county(world: World) -> dict[str, list[str]]:
    """county -> people with incidents whose both places lie in that county (unambiguous scope)."""
    es = world.store()
    out: dict[str, list[str]] = defaultdict(list)
    for pid in es.table("incident_parties")["person_id"].drop_duplicates():
        counties = {p.county_code for p in world.places(pid)}
        if len(counties) == 1 and None not in counties:
            out[counties.pop()].append(pid)
    return dict(out)


def seed_alerts(engine, world: World, county_a: str, county_b: str, n: int = 4) -> dict[str, list[int]]:
    """``n`` alerts in each of two counties (levels and scores varied, the first one urgent)."""
    groups = people_by_county(world)
    store = AlertStore(engine, directory=world.directory())
    out = {}
    levels = ["red", "orange", "yellow", "orange"]
    cats = [("repeat_dispute",), ("family_emotion",), ("repeat_dispute", "retaliation"), ("harm_risk",)]
    for county in (county_a, county_b):
        people = groups[county][:n]
        res = store.ingest([scored(p, level=levels[i % 4], probability=0.2 + 0.1 * i, categories=cats[i % 4],
                                   urgent=(i == 0), risk=risk_terms(0.2 + 0.1 * i, 0.05))
                            for i, p in enumerate(people)])
        out[county] = [r.alert_id for r in res]
    return out


def two_counties(world: World) -> tuple[str, str]:
    groups = people_by_county(world)
    ranked = sorted(groups, key=lambda c: -len(groups[c]))
    return ranked[0], ranked[1]


def add_users(engine, county_a: str, county_b: str) -> None:
    users = UserStore(engine)
    users.add("reviewer-a", "甲县审核民警", role="reviewer", jurisdiction=county_a, password=PASSWORD)
    users.add("reviewer-b", "乙县审核民警", role="reviewer", jurisdiction=county_b, password=PASSWORD)
    users.add("reviewer-pref", "市级审核民警", role="reviewer", jurisdiction=county_a[:4] + "00", password=PASSWORD)
    users.add("reviewer-prov", "省级审核民警", role="reviewer", jurisdiction="510000", password=PASSWORD)
    users.add("analyst", "研判分析员", role="analyst", jurisdiction="510000", password=PASSWORD)
    users.add("leader", "领导", role="leadership", jurisdiction="510000", password=PASSWORD)
    users.add("admin", "系统管理员", role="admin", jurisdiction="510000", password=PASSWORD)


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, username: str, password: str = PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_from(page.text),
                                       "next": "/queue"})
