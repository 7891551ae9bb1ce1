"""The review queue: alerts in the user's jurisdiction, filtered, sorted by level then score.

Filters: region (any jurisdiction inside the user's own: prefecture, county, township, village or
station), category (四类), level, status (``pending`` = 待审核 + 已上报复核, ``open``, ``all`` or one
lifecycle state) and age (days since the alert was created). Counts per state are for the same
jurisdiction and filters except status, so the tabs show what each status would list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from common.clock import utcnow
from common.errors import BadInput
from common.levels import ALERT_LEVELS, LEVEL_LABELS, level_rank
from common.places import Jurisdiction
from common.riskterms import risk_short
from serving.operations.alerts.lifecycle import OPEN, STATE_LABELS, STATES
from serving.operations.alerts.models import Alert
from serving.operations.console.errors import BadFilter
from serving.operations.console.models import person_places
from serving.operations.console.scope import scope_clause, sync_places
from serving.operations.console.world import World

__all__ = ["QueueFilters", "QueueRow", "QueuePage", "list_queue", "STATUS_CHOICES", "AGE_CHOICES", "LEVEL_CHOICES"]

STATUS_CHOICES = {"pending": "待审核（含上报复核）", "open": "未办结", "all": "全部", **STATE_LABELS}
AGE_CHOICES = {"": "不限", "1": "1天内", "3": "3天内", "7": "7天内", "30": "30天内", "older7": "超过7天"}
LEVEL_CHOICES: dict[str, str] = {"": "全部等级", **{lv: LEVEL_LABELS[lv] for lv in ALERT_LEVELS}}
_RANKS: dict[str, int] = {lv: level_rank(lv) for lv in ALERT_LEVELS}
_RANK = sa.case(_RANKS, value=Alert.level, else_=0)


@dataclass(frozen=True)
class QueueFilters:
    region: str = ""
    category: str = ""
    level: str = ""
    status: str = "pending"
    age: str = ""

    def check(self, user_scope: Jurisdiction) -> Jurisdiction | None:
        from features.catalog import RISK_CATEGORIES

        if self.status not in STATUS_CHOICES:
            raise BadFilter(f"status={self.status!r}; allowed: {', '.join(STATUS_CHOICES)}.")
        if self.level not in LEVEL_CHOICES:
            raise BadFilter(f"level={self.level!r}; allowed: red, orange, yellow or empty.")
        if self.age not in AGE_CHOICES:
            raise BadFilter(f"age={self.age!r}; allowed: {', '.join(k or '(empty)' for k in AGE_CHOICES)}.")
        if self.category and self.category not in RISK_CATEGORIES:
            raise BadFilter(f"category={self.category!r}; allowed: {', '.join(RISK_CATEGORIES)}.")
        if not self.region:
            return None
        try:
            region = Jurisdiction.parse(self.region)
        except BadInput as exc:
            raise BadFilter(exc.message) from None
        if not user_scope.contains(region):
            raise BadFilter(f"地区 {self.region} 不在您的辖区 / region {self.region} is outside your jurisdiction "
                            f"{user_scope.code}; choose a region inside it.")
        return region

    def as_query(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class QueueRow:
    id: int
    person_id: str
    level: str
    score: float | None
    state: str
    state_label: str
    categories: tuple[str, ...]
    urgent: bool
    source: str
    created_at: object
    summary: str
    counties: tuple[str, ...]
    risk: str = ""               # the reviewer's terms: multiple of the average, place in the county


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    counts: dict[str, int]
    total: int
    regions: list[tuple[str, str]]          # (county code, name) present in the user's scope


def _status_clause(status: str):
    if status == "pending":
        return Alert.state.in_(["created", "escalated"])
    if status == "open":
        return Alert.state.in_(sorted(OPEN))
    if status == "all":
        return None
    return Alert.state == status


def _region_choice(scope: Jurisdiction, county_code: str) -> bool:
    """A county is offered as a region filter when it lies inside the user's jurisdiction."""
    try:
        return scope.contains(Jurisdiction.parse(county_code))
    except BadInput:
        return False


def list_queue(engine: Engine, world: World, scope: Jurisdiction, filters: QueueFilters, *,
               limit: int = 200) -> QueuePage:
    region = filters.check(scope)
    sync_places(engine, world)
    base = [c for c in (scope_clause(scope, region),) if c is not None]
    if filters.category:
        # categories is a JSON list; match the quoted code in its text (portable across SQLite / PostgreSQL)
        base.append(sa.cast(Alert.categories, sa.String).like(f'%"{filters.category}"%'))
    if filters.level:
        base.append(Alert.level == filters.level)
    now = utcnow()
    if filters.age == "older7":
        base.append(Alert.created_at < now - timedelta(days=7))
    elif filters.age:
        base.append(Alert.created_at >= now - timedelta(days=int(filters.age)))
    status = _status_clause(filters.status)
    with engine.connect() as conn:
        counts = dict(conn.execute(sa.select(Alert.state, sa.func.count()).where(*base).group_by(Alert.state)).all())
        where = base + ([status] if status is not None else [])
        total = conn.scalar(sa.select(sa.func.count()).select_from(Alert).where(*where)) or 0
        alerts = conn.execute(sa.select(Alert.__table__).where(*where)
                              .order_by(_RANK.desc(), sa.func.coalesce(Alert.score, -1.0).desc(),
                                        Alert.urgent.desc(), Alert.created_at, Alert.id).limit(limit)).all()
        pids = list({a.person_id for a in alerts})
        counties: dict[str, list[str]] = {}
        if pids:
            for r in conn.execute(sa.select(person_places.c.person_id, person_places.c.county_code)
                                  .where(person_places.c.person_id.in_(pids))):
                if r.county_code and r.county_code not in counties.setdefault(r.person_id, []):
                    counties[r.person_id].append(r.county_code)
        scoped = [c for c in (scope_clause(scope),) if c is not None]
        region_codes = sorted(c for c in conn.scalars(
            sa.select(person_places.c.county_code).distinct()
            .where(person_places.c.person_id.in_(sa.select(Alert.person_id).where(*scoped)))) if c)
    region_codes = [c for c in region_codes if _region_choice(scope, c)]
    rows = [QueueRow(a.id, a.person_id, a.level, a.score, a.state, STATE_LABELS.get(a.state, a.state),
                     tuple(a.categories or ()), bool(a.urgent), a.source, a.created_at,
                     ((a.explanation or {}).get("summary") or ""), tuple(counties.get(a.person_id, ())),
                     risk_short((a.extra or {}).get("risk")))
             for a in alerts]
    return QueuePage(rows, {s: int(counts.get(s, 0)) for s in STATES}, int(total),
                     [(c, world.county_name(c)) for c in region_codes])
