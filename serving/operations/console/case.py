"""The case page's content: one alert and everything behind it, masked for the viewer's role.

Opening a case is audited (``case.view``) before anything is returned; an alert outside the viewer's
jurisdiction is refused as "not found" and the attempt is audited (``case.denied``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from common.clock import format_beijing, from_data_time
from common.levels import LEVEL_LABELS
from common.places import Place
from common.riskterms import risk_text
from serving.operations import audit
from serving.operations.alerts.lifecycle import STATE_LABELS
from serving.operations.alerts.models import Alert, AlertEvent, AlertOutcome
from serving.operations.alerts.views import AlertView, to_view
from serving.operations.auth.errors import Forbidden, OutOfScope
from serving.operations.auth.users import User
from serving.operations.console.charts import factor_chart, score_chart
from serving.operations.console.display import KIND_LABELS, ROLE_IN_INCIDENT, person_text, place_text
from serving.operations.console.scope import require
from serving.operations.console.world import World
from serving.operations.grassroots.escalation import holders as escalation_holders

__all__ = ["Case", "load_case", "load_alert_in_scope", "subject"]


#: alert ids are 64-bit signed integers in every store
_MIN_ID, _MAX_ID = -(2**63), 2**63 - 1


def subject(alert_id: int) -> str:
    return f"alert:{alert_id}"


@dataclass
class Case:
    alert: AlertView
    person: str
    places: list[dict]
    rule_hits: list[dict]
    factors: list[dict]
    factor_svg: str
    summary: str
    actions: list[str]
    timeline: list[dict]
    notes_shown: bool
    score_svg: str
    score_history: list[dict]
    past_alerts: list[dict]
    events: list[dict]
    looks: list[dict]
    can_decide: bool
    decide_note: str = ""
    extra: dict = field(default_factory=dict)
    risk: str = ""               # 约为平均水平的 5 倍，高于本区县 98% 的有记录人员 (fixed per model version)

    def to_dict(self) -> dict:
        a = self.alert
        return {"alert": {"id": a.id, "level": a.level, "score": a.score, "state": a.state, "urgent": a.urgent,
                          "categories": list(a.categories), "ruleset_version": a.ruleset_version,
                          "model_version": a.model_version, "snapshot_time": a.snapshot_time.isoformat(),
                          "created_at": a.created_at.isoformat()},
                "person": self.person, "places": [p["text"] for p in self.places], "summary": self.summary,
                "rule_hits": self.rule_hits, "factors": self.factors, "actions": self.actions,
                "timeline": [{**t, "time": t["time"].isoformat()} for t in self.timeline],
                "score_history": self.score_history, "past_alerts": self.past_alerts,
                "looks": [{**x, "at": str(x["at"])} for x in self.looks], "can_decide": self.can_decide,
                "risk": self.risk,
                "holder": _holder_dict(self.extra.get("holder"))}


def load_alert_in_scope(engine: Engine, world: World, user: User, alert_id: int) -> tuple[AlertView, list[Place]]:
    """The alert and its person's places, or OutOfScope (audited as ``case.denied``)."""
    row = None
    if _MIN_ID <= alert_id <= _MAX_ID:  # a larger number is no alert (and would overflow the database's integer)
        with engine.connect() as conn:
            row = conn.execute(sa.select(Alert.__table__).where(Alert.id == alert_id)).first()
    try:
        if row is None:
            raise OutOfScope(f"预警不存在或不在您的辖区 / alert {alert_id} was not found in your jurisdiction.")
        places = require(engine, world, user.jurisdiction, alert_id, row.person_id)
    except OutOfScope:
        audit.record(engine, user.actor, "case.denied", subject(alert_id),
                     {"jurisdiction": user.jurisdiction.code, "exists": row is not None})
        raise
    return to_view(AlertView, row), places


def _recorded_after(recorded_at, snapshot_time) -> bool:
    """Was a record (data-contract time, naive Beijing) entered after the score's data snapshot (aware UTC)?"""
    if recorded_at is None or recorded_at != recorded_at:  # missing, NaT
        return False
    return from_data_time(recorded_at) > snapshot_time


def decide_permission(user: User, alert: AlertView, policies=None) -> tuple[bool, str]:
    pol = user.policy(policies)
    if not pol.decide:
        return False, f"{user.role_label}角色只读，不能审核"
    if alert.state == "escalated" and user.jurisdiction.rank < pol.escalated_min_rank:
        return False, "已上报复核的预警由市州或省级审核民警决定"
    if alert.state not in ("created", "escalated"):
        return False, f"当前状态为「{STATE_LABELS.get(alert.state, alert.state)}」，无需审核"
    return True, ""


def load_case(engine: Engine, world: World, user: User, alert_id: int, *, policies=None) -> Case:
    pol = user.policy(policies)
    if not pol.open_case:
        raise Forbidden(f"{user.role_label}角色不能查看个案 / role {user.role} may not open cases.")
    alert, places = load_alert_in_scope(engine, world, user, alert_id)
    audit.record(engine, user.actor, "case.view", subject(alert_id),
                 {"person_id": alert.person_id, "role": user.role, "jurisdiction": user.jurisdiction.code})
    expl = alert.explanation or {}
    place_rows = [{**asdict(p), "county_code": p.county_code, "kind_label": KIND_LABELS.get(p.kind, p.kind),
                   "text": place_text(asdict(p), pol, world.county_name(p.county_code) if p.county_code else "")}
                  for p in places]
    timeline = [{"time": from_data_time(t.time), "kind": "调解" if t.kind == "mediation" else "警情",
                 "record_id": t.record_id if pol.full_identity else "",
                 "role": (_MEDIATORS.get(t.role, t.role) if t.kind == "mediation"
                          else ROLE_IN_INCIDENT.get(t.role, t.role)),
                 "category": _category(t.category),
                 "disposition": _RESULTS.get(t.disposition or "", t.disposition) if t.kind == "mediation"
                 else _disposition(t.disposition),
                 "flags": list(t.flags), "note": t.note,
                 "new": _recorded_after(t.recorded_at, alert.snapshot_time)}
                for t in world.timeline(alert.person_id, with_notes=pol.see_notes)]
    with engine.connect() as conn:
        person_alerts = conn.execute(sa.select(Alert.__table__).where(Alert.person_id == alert.person_id)
                                     .order_by(Alert.created_at, Alert.id)).all()
        ids = [a.id for a in person_alerts]
        updates = conn.execute(sa.select(AlertEvent.alert_id, AlertEvent.at, AlertEvent.detail)
                               .where(AlertEvent.alert_id.in_(ids), AlertEvent.action == "score_updated")
                               .order_by(AlertEvent.at)).all()
        outcomes = conn.execute(sa.select(AlertOutcome.alert_id, AlertOutcome.kind_label, AlertOutcome.note,
                                          AlertOutcome.reported_at).where(AlertOutcome.alert_id.in_(ids))
                                .order_by(AlertOutcome.reported_at)).all()
        event_rows = conn.execute(sa.select(AlertEvent.__table__).where(AlertEvent.alert_id == alert_id)
                                  .order_by(AlertEvent.id)).all()
        events = [{"at": e.at, "action": _ACTIONS.get(e.action, e.action),
                   "to": STATE_LABELS.get(e.to_state or "", e.to_state or ""),
                   "actor": e.actor, "reason": _event_reason(e.action, e.reason, pol.see_notes)} for e in event_rows]
    history = []
    for a in person_alerts:
        history.append({"at": a.created_at, "alert_id": a.id, "score": a.score, "level": a.level, "what": "生成预警"})
    for u in updates:
        history.append({"at": u.at, "alert_id": u.alert_id, "score": (u.detail or {}).get("new_score"),
                        "level": None, "what": "评分更新"})
    history.sort(key=lambda h: h["at"])
    by_alert: dict[int, list[str]] = {}
    for o in outcomes:
        by_alert.setdefault(o.alert_id, []).append(o.kind_label + (f"：{o.note}" if o.note and pol.see_notes else ""))
    past = [{"id": a.id, "created_at": a.created_at, "level": a.level,
             "level_label": LEVEL_LABELS.get(a.level, a.level),
             "state": STATE_LABELS.get(a.state, a.state), "decision_reason": a.review_reason,
             "reviewed_by": a.reviewed_by, "outcomes": by_alert.get(a.id, []), "current": a.id == alert_id}
            for a in reversed(person_alerts)]
    looks = [{"at": e.at, "actor": e.actor, "alert_id": int(e.subject.split(":")[1])}
             for e in audit.entries(engine, subject=[subject(i) for i in ids], action="case.view", limit=50)]
    can, why = decide_permission(user, alert, policies)
    factors = list(expl.get("factors") or [])
    return Case(
        alert=alert, person=person_text(alert.person_id, pol), places=place_rows,
        rule_hits=list(expl.get("rule_hits") or []), factors=factors, factor_svg=factor_chart(factors),
        summary=expl.get("summary") or "", actions=list(expl.get("actions") or []), timeline=timeline,
        notes_shown=pol.see_notes,
        score_svg=score_chart([(format_beijing(h["at"], "%m-%d"), h["score"]) for h in history
                               if h["score"] is not None]),
        score_history=[{**h, "at": h["at"].isoformat(timespec="minutes")} for h in history],
        past_alerts=[{**p, "created_at": p["created_at"].isoformat(timespec="minutes")} for p in past],
        events=events, looks=looks, can_decide=can, decide_note=why,
        risk=risk_text((alert.extra or {}).get("risk")),
        extra={"holder": escalation_holders(engine, "alert", [alert_id]).get(alert_id)})


def _holder_dict(holder: dict | None) -> dict | None:
    """Who holds the alert now under graded escalation (None: still the village/community)."""
    if not holder:
        return None
    return {"level": holder["level"], "level_label": holder["level_label"], "code": holder["code"],
            "since": holder["since"].isoformat(timespec="seconds"), "reason": holder["reason"]}


def _event_reason(action: str, reason: str | None, see_notes: bool) -> str | None:
    """An event's reason as the viewer may read it: a cadre's outcome event carries the outcome kind and,
    after "：", the cadre's note, which only roles that may see notes are shown."""
    if action == "outcome_reported" and reason and not see_notes:
        return reason.split("：", 1)[0]
    return reason


def _category(code: str) -> str:
    from features.contracts import CATEGORY_LABELS

    return CATEGORY_LABELS.get(code, code)


_ACTIONS = {"created": "生成预警", "approve": "批准", "dismiss": "驳回", "escalate": "上报复核",
            "queue": "生成推送任务", "delivered": "推送送达", "acknowledged": "网格员签收",
            "outcome_reported": "反馈结果", "score_updated": "评分更新",
            "withdraw": "撤回", "withdrawn": "撤回", "expire": "过期", "close": "办结", "retract_queued": "撤回推送",
            "requeue": "重新推送", "escalate_level": "逐级督办"}
_RESULTS = {"success": "调解成功", "partial": "部分化解", "failed": "调解失败"}
_MEDIATORS = {"committee": "人民调解委员会", "police": "民警调解", "judicial": "司法所调解", "court": "法院调解",
              "other": "其他调解"}
_DISPOSITIONS = {"mediated": "现场调解", "referred": "移交处理", "case_filed": "已立案", "unresolved": "未化解"}


def _disposition(code: str | None) -> str:
    return _DISPOSITIONS.get(code or "", code or "")
