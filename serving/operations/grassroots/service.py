"""Field reports and tips for the people who handle them: file (cadres), list, sign for (签收), handle (处置).

Jurisdiction, like the rest of the inbox: a cadre (grid worker, village/community cadre, community officer)
files reports about addresses in the grids they serve; the community officer of a grid sees, signs for and
handles the reports and tips of that grid; a township fallback desk also sees what rose to its township
(:mod:`serving.operations.grassroots.escalation`). Anything else is "not found" (no leak).

Every act is audited in its own transaction (``report.filed``, ``report.signed``, ``report.handled``,
``tip.signed``, ``tip.handled``; actor ``cadre:<staff id>``): ids, grid, category, urgency, never the note.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from common.clock import format_beijing, utcnow
from features.contracts import CATEGORY_LABELS, OBSERVATION_LABELS, REPORTER_ROLES, TIP_VERDICTS, URGENCY_LABELS
from serving.operations import audit
from serving.operations.grassroots.directory import LEVEL_LABELS, GrassrootsDirectory, StaffMember
from serving.operations.grassroots.errors import AlreadyHandled, InvalidInput, ItemNotFound
from serving.operations.grassroots.models import EscalationStep, FieldReport, Tip
from serving.operations.grassroots.policy import GrassrootsPolicy
from serving.operations.grassroots.validation import check_row, observations
from serving.operations.inbox.tokens import Identity

__all__ = ["GrassrootsService", "REPORT_HANDLING", "STATUS_LABELS", "report_view", "tip_view"]

#: How a report was handled, code -> Chinese label.
REPORT_HANDLING: dict[str, str] = {"visited": "已走访", "mediated": "已调解", "referred": "已转交",
                                   "no_risk": "经核实无风险"}
STATUS_LABELS = {"submitted": "待签收", "signed": "已签收", "handled": "已处置"}
_ID_LIMIT = 2**63 - 1


def _iso(t: datetime | None) -> str | None:
    return t.isoformat(timespec="seconds") if t else None


def _common_view(item: FieldReport | Tip, holder: dict | None) -> dict:
    return {"id": item.id, "status": item.status, "status_label": STATUS_LABELS[item.status],
            "address_code": item.address_code, "grid_id": item.grid_id, "category": item.category,
            "category_label": CATEGORY_LABELS[item.category], "urgency": item.urgency,
            "urgency_label": URGENCY_LABELS[item.urgency], "observations": list(item.observations),
            "observation_labels": [OBSERVATION_LABELS[o] for o in item.observations], "note": item.note,
            "created_at": _iso(item.created_at), "created_text": format_beijing(item.created_at),
            "deadline_at": _iso(item.deadline_at), "deadline_text": format_beijing(item.deadline_at),
            "signed_at": _iso(item.signed_at), "handled_at": _iso(item.handled_at),
            "holder": holder or {"level": "village", "level_label": LEVEL_LABELS["village"],
                                 "code": item.village_code, "since": _iso(item.created_at),
                                 "since_text": format_beijing(item.created_at)}}


def report_view(r: FieldReport, holder: dict | None = None) -> dict:
    return {**_common_view(r, holder), "kind": "report", "person_id": r.person_id,
            "reporter_staff_id": r.reporter_staff_id, "reporter_role": r.reporter_role, "provenance": r.provenance,
            "handling": r.handling, "handling_label": REPORT_HANDLING.get(r.handling or ""),
            "handling_note": r.handling_note}


def tip_view(t: Tip, holder: dict | None = None) -> dict:
    return {**_common_view(t, holder), "kind": "tip", "duplicate_of": t.duplicate_of, "verdict": t.verdict,
            "verdict_label": TIP_VERDICTS.get(t.verdict or ""), "linked_person_id": t.linked_person_id,
            "handling_note": t.handling_note}


def holder_of(s: Session, kind: str, item_id: int) -> dict | None:
    """The current holder from the latest escalation step (None: still at the village/community)."""
    step = s.scalar(sa.select(EscalationStep).where(EscalationStep.subject_kind == kind,
                                                    EscalationStep.subject_id == item_id)
                    .order_by(EscalationStep.step.desc()).limit(1))
    if step is None:
        return None
    return {"level": step.level, "level_label": LEVEL_LABELS[step.level], "code": step.holder_code,
            "since": _iso(step.at), "since_text": format_beijing(step.at), "step": step.step}


class GrassrootsService:
    def __init__(self, engine: Engine, directory: GrassrootsDirectory, *, policy: GrassrootsPolicy | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.directory = directory
        self.policy = policy or GrassrootsPolicy()
        self.clock = clock
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    # -- filing -----------------------------------------------------------------------------------
    def file_report(self, who: Identity, *, address_code: str | None, category: str, urgency: str,
                    observations_: list[str] | None = None, note: str | None = None,
                    person_id: str | None = None) -> dict:
        member = self.directory.require_staff(who.staff_id)
        if member.role not in REPORTER_ROLES:
            raise InvalidInput("该岗位不能提交排查上报 / only grid workers, cadres and community officers file "
                               "reports.", field="staff")
        note = (note or "").strip() or None
        if note and len(note) > self.policy.max_note_chars:
            raise InvalidInput(f"情况说明过长 / note has {len(note)} characters; at most "
                               f"{self.policy.max_note_chars}.", field="note")
        person_id = (person_id or "").strip() or None
        if person_id is not None and not address_code:
            addresses = self.directory.person_addresses(person_id)
            address_code = next((a for a in reversed(addresses) if self._in_grids(member, a)), None)
            if address_code is None:
                raise ItemNotFound(f"辖区内没有该人员 / person {person_id!r} is not known in your grids.")
        now = self.clock()
        row = check_row("field_reports", {"reporter_id": member.staff_id, "reporter_role": member.role,
                                          "provenance": "inbox", "person_id": person_id,
                                          "address_code": (address_code or "").strip() or None,
                                          "category": category, "urgency": urgency,
                                          "observations": observations(observations_), "note": note}, now=now)
        info = self.directory.address(row["address_code"])
        if info is None or info.grid_id not in member.grids:
            raise ItemNotFound(f"地址不在您服务的网格内 / address {row['address_code']!r} is not in a grid you serve.")
        if person_id is not None and row["address_code"] not in self.directory.person_addresses(person_id) \
                and not any(self._in_grids(member, a) for a in self.directory.person_addresses(person_id)):
            raise ItemNotFound(f"辖区内没有该人员 / person {person_id!r} is not known in your grids.")
        obs = [o for o in OBSERVATION_LABELS if row.get(o)]
        with self.sessions.begin() as s:
            report = FieldReport(reporter_staff_id=member.staff_id, reporter_inbox_id=who.inbox_id,
                                 reporter_role=member.role, provenance="inbox", person_id=row["person_id"],
                                 address_code=row["address_code"], grid_id=info.grid_id,
                                 village_code=info.village_code, category=row["category"], urgency=row["urgency"],
                                 observations=obs, note=row["note"], status="submitted", created_at=now,
                                 deadline_at=now + self.policy.handle_deadline(row["urgency"]))
            s.add(report)
            s.flush()
            self._audit(s, member, "report.filed", f"report:{report.id}", report)
            return report_view(report)

    # -- lists ------------------------------------------------------------------------------------
    def mine(self, who: Identity, limit: int = 100) -> list[dict]:
        member = self.directory.require_staff(who.staff_id)
        with self.sessions() as s:
            rows = s.scalars(sa.select(FieldReport).where(FieldReport.reporter_staff_id == member.staff_id)
                             .order_by(FieldReport.id.desc()).limit(limit))
            return [report_view(r, holder_of(s, "report", r.id)) for r in rows]

    def to_handle(self, who: Identity, *, status: str = "open", limit: int = 100) -> dict[str, list[dict]]:
        """Reports and tips the caller handles (``open``: not yet handled; ``all``)."""
        member = self.directory.require_staff(who.staff_id)
        out: dict[str, list[dict]] = {}
        with self.sessions() as s:
            pairs: tuple[tuple[str, Any, Callable[..., dict]], ...] = (("report", FieldReport, report_view),
                                                                       ("tip", Tip, tip_view))
            for kind, model, view in pairs:
                q = sa.select(model).where(self._scope(model, kind, member))
                if status == "open":
                    q = q.where(model.status != "handled")
                elif status != "all":
                    raise InvalidInput(f"status={status!r}; allowed: open, all.", field="status")
                rows = s.scalars(q.order_by(model.id.desc()).limit(limit))
                out[kind + "s"] = [view(r, holder_of(s, kind, r.id)) for r in rows]
        return out

    # -- sign and handle --------------------------------------------------------------------------
    def sign(self, who: Identity, kind: str, item_id: int) -> dict:
        member = self.directory.require_staff(who.staff_id)
        with self.sessions.begin() as s:
            item = self._load(s, kind, item_id, member)
            if item.status == "submitted":
                item.status, item.signed_by, item.signed_at = "signed", member.staff_id, self.clock()
            self._audit(s, member, f"{kind}.signed", f"{kind}:{item.id}", item)
            return self._view(s, kind, item)

    def handle_report(self, who: Identity, report_id: int, handling: str, note: str | None = None) -> dict:
        code = self._code(handling, REPORT_HANDLING, "handling", "处置方式")
        member = self.directory.require_staff(who.staff_id)
        note = self._note(note)
        with self.sessions.begin() as s:
            item = self._load(s, "report", report_id, member)
            self._finish(item, member)
            item.handling, item.handling_note = code, note
            self._audit(s, member, "report.handled", f"report:{item.id}", item, handling=code)
            return self._view(s, "report", item)

    def handle_tip(self, who: Identity, tip_id: int, verdict: str, note: str | None = None,
                   person_id: str | None = None) -> dict:
        code = self._code(verdict, TIP_VERDICTS, "verdict", "核查结论")
        member = self.directory.require_staff(who.staff_id)
        note = self._note(note)
        person_id = (person_id or "").strip() or None
        with self.sessions.begin() as s:
            item = self._load(s, "tip", tip_id, member)
            if person_id is not None:
                check_row("tips", {"address_code": item.address_code, "category": item.category,
                                   "urgency": item.urgency, "linked_person_id": person_id}, now=self.clock())
                if item.address_code not in self.directory.person_addresses(person_id):
                    raise InvalidInput(f"该人员不住在线索地址 / person {person_id!r} has no place at address "
                                       f"{item.address_code}; link only a person of that address.",
                                       field="person_id")
            self._finish(item, member)
            item.verdict, item.handling_note, item.linked_person_id = code, note, person_id
            self._audit(s, member, "tip.handled", f"tip:{item.id}", item, verdict=code, linked=person_id is not None)
            return self._view(s, "tip", item)

    # -- helpers ----------------------------------------------------------------------------------
    def _in_grids(self, member: StaffMember, address_code: str) -> bool:
        info = self.directory.address(address_code)
        return info is not None and info.grid_id in member.grids

    def _scope(self, model, kind: str, member: StaffMember):
        held = sa.select(EscalationStep.subject_id).where(EscalationStep.subject_kind == kind,
                                                          EscalationStep.holder_code == member.township_code)
        if member.role == "community_officer":
            return model.grid_id.in_(sorted(member.grids))
        if member.role == "township_fallback":
            return model.id.in_(held)
        return sa.false()

    def _load(self, s: Session, kind: str, item_id: int, member: StaffMember) -> Any:
        model: Any = FieldReport if kind == "report" else Tip
        what = "排查上报" if kind == "report" else "线索"
        if not 0 < item_id <= _ID_LIMIT:
            raise ItemNotFound(f"没有该{what} / no {kind} {item_id} in your jurisdiction.")
        item = s.scalar(sa.select(model).where(model.id == item_id, self._scope(model, kind, member))
                        .with_for_update())
        if item is None:
            raise ItemNotFound(f"没有该{what} / no {kind} {item_id} in your jurisdiction.")
        return item

    def _finish(self, item: FieldReport | Tip, member: StaffMember) -> None:
        if item.status == "handled":
            raise AlreadyHandled(f"已处置，无需重复 / {item.id} was handled already.", current="handled")
        now = self.clock()
        if item.status == "submitted":
            item.signed_by, item.signed_at = member.staff_id, now
        item.status, item.handled_by, item.handled_at = "handled", member.staff_id, now

    def _note(self, note: str | None) -> str | None:
        note = (note or "").strip() or None
        if note and len(note) > self.policy.max_note_chars:
            raise InvalidInput(f"备注过长 / note has {len(note)} characters; at most {self.policy.max_note_chars}.",
                               field="note")
        return note

    @staticmethod
    def _code(value: str, table: dict[str, str], field: str, label: str) -> str:
        v = str(value or "").strip()
        by_label = {lab: c for c, lab in table.items()}
        if v in table:
            return v
        if v in by_label:
            return by_label[v]
        raise InvalidInput(f"{label}无效 / {field} {value!r} is not allowed; use one of: "
                           + "、".join(f"{c}（{lab}）" for c, lab in table.items()) + ".", field=field)

    @staticmethod
    def _view(s: Session, kind: str, item) -> dict:
        return (report_view if kind == "report" else tip_view)(item, holder_of(s, kind, item.id))

    @staticmethod
    def _audit(s: Session, member: StaffMember, action: str, subject: str, item, **detail) -> None:
        audit.record(s, f"cadre:{member.staff_id}", action, subject,
                     {"grid_id": item.grid_id, "category": item.category, "urgency": item.urgency,
                      "status": item.status, "person_id": getattr(item, "person_id", None), **detail})
