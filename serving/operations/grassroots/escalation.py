"""Graded escalation (调处分级化): what is not acknowledged or resolved in time rises a level.

Every approved alert and every report or tip has a handling deadline ``D`` at its level (an alert's
``deadline_at``, from :class:`~serving.operations.alerts.policy.AlertPolicy` by risk level; a report's or tip's
from :class:`~serving.operations.grassroots.policy.GrassrootsPolicy` by urgency) and an interval ``I`` (the
same duration). Step ``k`` (1 township, 2 county, 3 prefecture) falls due at ``D + (k - 1) * I``; when it is
due and the item is still open, the item rises to the next level of its place's chain
(:func:`~serving.operations.grassroots.directory.ladder`): village/community -> township -> county ->
prefecture. Each step is one ``escalation_steps`` row (who holds it, since when, the holder's own deadline),
one audit entry (``escalation.step``) and, for an alert, one entry in its history, so the console shows it.

Open means: an alert approved, queued, delivered or acknowledged (no outcome yet); a report or a tip not
handled (duplicates never escalate on their own). The reason is ``unacknowledged`` (未签收) before the
first acknowledgement or signature and ``unresolved`` (未办结) after it.

The escalator runs in the push worker's schedule (``weimeng push-worker`` calls :meth:`Escalator.run_once`
every ``--escalate-every`` seconds) or on its own (``weimeng alerts escalate``). It is idempotent: a step is
unique per (subject, step), and a missed run catches up (the steps carry the deadlines they fired at).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from common.clock import format_beijing, utcnow
from serving.operations import audit
from serving.operations.alerts.models import Alert, Delivery
from serving.operations.alerts.policy import AlertPolicy
from serving.operations.alerts.transitions import record_event
from serving.operations.grassroots.directory import LEVEL_LABELS, LEVELS, ladder
from serving.operations.grassroots.models import EscalationStep, FieldReport, Tip
from serving.operations.grassroots.policy import GrassrootsPolicy

__all__ = ["Escalator", "EscalationRun", "REASON_LABELS", "escalation_counts", "ESCALATOR_ACTOR", "holders",
           "run_periodically"]

log = logging.getLogger("weimeng.escalation")

ESCALATOR_ACTOR = "system:escalator"
REASON_LABELS = {"unacknowledged": "逾期未签收", "unresolved": "逾期未办结"}
_ALERT_OPEN = ("approved", "queued", "delivered", "acknowledged")
_ALERT_UNACKED = frozenset({"approved", "queued", "delivered"})
_MAX_STEP = len(LEVELS) - 1


@dataclass
class EscalationRun:
    steps: int = 0
    by_level: dict[str, int] | None = None

    def add(self, level: str) -> None:
        self.steps += 1
        self.by_level = self.by_level or {}
        self.by_level[level] = self.by_level.get(level, 0) + 1


class Escalator:
    def __init__(self, engine: Engine, *, alert_policy: AlertPolicy | None = None,
                 policy: GrassrootsPolicy | None = None, clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.alert_policy = alert_policy or AlertPolicy()
        self.policy = policy or GrassrootsPolicy()
        self.clock = clock
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    def run_once(self, now: datetime | None = None, *, only: tuple[str, int] | None = None) -> EscalationRun:
        """Write every step that is due by ``now`` (default: the clock); returns what was written.
        ``only``: one subject, ``(kind, id)`` (the demo's one escalation)."""
        now = now or self.clock()
        run = EscalationRun()
        kinds = {only[0]} if only else {"alert", "report", "tip"}
        with self.sessions.begin() as s:
            steps = self._steps_so_far(s)
            q = sa.select(Alert).where(Alert.state.in_(_ALERT_OPEN), Alert.deadline_at.is_not(None),
                                       Alert.deadline_at <= now)
            if only:
                q = q.where(Alert.id == (only[1] if only[0] == "alert" else -1))
            for alert in (s.scalars(q.order_by(Alert.id)) if "alert" in kinds else ()):
                village = self._alert_village(s, alert.id)
                if village is None:
                    continue
                reason = "unacknowledged" if alert.state in _ALERT_UNACKED else "unresolved"
                assert alert.deadline_at is not None  # filtered in the query
                self._rise(s, "alert", alert.id, village, alert.deadline_at, self.alert_policy.deadline(alert.level),
                           steps.get(("alert", alert.id), 0), reason, now, run)
            subjects: tuple[tuple[Any, str], ...] = ((FieldReport, "report"), (Tip, "tip"))
            for model, kind in subjects:
                if kind not in kinds:
                    continue
                items: Any = sa.select(model).where(model.status != "handled", model.deadline_at <= now)
                if model is Tip:
                    items = items.where(Tip.duplicate_of.is_(None))
                if only:
                    items = items.where(model.id == only[1])
                for item in s.scalars(items.order_by(model.id)):
                    reason = "unacknowledged" if item.status == "submitted" else "unresolved"
                    self._rise(s, kind, item.id, item.village_code, item.deadline_at,
                               self.policy.handle_deadline(item.urgency), steps.get((kind, item.id), 0), reason, now,
                               run)
        if run.steps:
            log.info("escalation: %d step(s) %s", run.steps, run.by_level)
        return run

    # -- helpers ----------------------------------------------------------------------------------
    @staticmethod
    def _steps_so_far(s: Session) -> dict[tuple[str, int], int]:
        rows = s.execute(sa.select(EscalationStep.subject_kind, EscalationStep.subject_id,
                                   sa.func.max(EscalationStep.step))
                         .group_by(EscalationStep.subject_kind, EscalationStep.subject_id))
        return {(k, int(i)): int(n) for k, i, n in rows}

    @staticmethod
    def _alert_village(s: Session, alert_id: int) -> str | None:
        """The village/community of the alert's residence grid (else any grid it was delivered to)."""
        best = None
        for grid_id, places in s.execute(sa.select(Delivery.grid_id, Delivery.places)
                                         .where(Delivery.alert_id == alert_id, Delivery.kind == "send",
                                                Delivery.grid_id.is_not(None)).order_by(Delivery.id)):
            village = str(grid_id)[1:13]
            if "residence" in (places or ()):
                return village
            best = best or village
        return best

    def _rise(self, s: Session, kind: str, subject_id: int, village: str, deadline: datetime, interval: timedelta,
              done: int, reason: str, now: datetime, run: EscalationRun) -> None:
        chain = ladder(village)
        step = done + 1
        while step <= _MAX_STEP:
            due = deadline + (step - 1) * interval
            if due > now:
                return
            level, code = chain[step]
            holder_due = due + interval if step < _MAX_STEP else None
            s.add(EscalationStep(subject_kind=kind, subject_id=subject_id, step=step, level=level, holder_code=code,
                                 county_code=chain[2][1], reason=reason, at=due, recorded_at=now, due_at=holder_due))
            text = f"{REASON_LABELS[reason]}，自{format_beijing(due)}起由{LEVEL_LABELS[level]}（{code}）督办"
            if kind == "alert":
                record_event(s, subject_id, action="escalate_level", actor=ESCALATOR_ACTOR, now=now, reason=text,
                             detail={"step": step, "level": level, "holder": code, "since": due.isoformat()})
            audit.record(s, ESCALATOR_ACTOR, "escalation.step", f"{kind}:{subject_id}",
                         {"step": step, "level": level, "holder": code, "reason": reason,
                          "since": due.isoformat(timespec="seconds")})
            run.add(level)
            step += 1


def holders(engine_or_session, kind: str, ids: Iterable[int]) -> dict[int, dict]:
    """The latest step of each subject: ``{id: {"level", "level_label", "code", "since", "since_text", "reason"}}``."""
    ids = sorted({int(i) for i in ids})
    if not ids:
        return {}
    q = sa.select(EscalationStep).where(EscalationStep.subject_kind == kind, EscalationStep.subject_id.in_(ids)) \
        .order_by(EscalationStep.subject_id, EscalationStep.step)
    out: dict[int, dict] = {}

    def take(rows):
        for st in rows:
            out[st.subject_id] = {"level": st.level, "level_label": LEVEL_LABELS[st.level], "code": st.holder_code,
                                  "since": st.at, "since_text": format_beijing(st.at), "step": st.step,
                                  "reason": st.reason, "reason_label": REASON_LABELS[st.reason],
                                  "due_text": format_beijing(st.due_at) if st.due_at else ""}

    if isinstance(engine_or_session, Session):
        take(engine_or_session.scalars(q))
    else:
        with Session(engine_or_session) as s:
            take(s.scalars(q))
    return out


def escalation_counts(engine: Engine, start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """Escalation steps by level and county in ``[start, end)`` (by the deadline they fired at), for the
    leadership report: ``[{"level", "level_label", "county_code", "n"}]``, sorted by county then level."""
    q = sa.select(EscalationStep.level, EscalationStep.county_code, sa.func.count()) \
        .group_by(EscalationStep.level, EscalationStep.county_code)
    if start is not None:
        q = q.where(EscalationStep.at >= start)
    if end is not None:
        q = q.where(EscalationStep.at < end)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    order = {lv: i for i, lv in enumerate(LEVELS)}
    out = [{"level": lv, "level_label": LEVEL_LABELS[lv], "county_code": c, "n": int(n)} for lv, c, n in rows]
    return sorted(out, key=lambda r: (r["county_code"], order[r["level"]]))


def run_periodically(escalator: Escalator, stop, every_seconds: float) -> None:
    """Run the escalator now and then every ``every_seconds`` until ``stop`` (a ``threading.Event``) is set; a
    database hiccup is logged and retried at the next tick (the push worker's schedule runs this in a thread)."""
    while True:                     # at least one round, even when the worker stops at once (``--drain``)
        try:
            escalator.run_once()
        except sa.exc.OperationalError as exc:
            log.warning("escalation round failed, retrying: %s", exc)
        if stop.wait(every_seconds):
            return
