"""Inbox operations for one authenticated cadre: list, read, acknowledge, report an outcome.

Tokens are checked against their SHA-256 hash (:mod:`serving.operations.inbox.tokens`); an item is
addressed by its alert id within the caller's inbox (one item per alert and inbox identity), and
another inbox's item is "not found". Acknowledging is idempotent. Reporting an outcome acknowledges
first if needed, stores an ``alert_outcomes`` row (the label table) and moves the alert to
``outcome_reported`` on the first report.

Every read of an item, acknowledgement and outcome is audited (``inbox.read``, ``inbox.ack``,
``inbox.outcome``; actor ``cadre:<staff id or inbox id>``) in the same transaction as the act; the
audit entry names the alert, the person and the outcome kind, never the cadre's note.

The weekly watch-list digest (:mod:`serving.operations.push.digest`) is one more kind of item: a list per
week ("本周关注名单（N 人）") that opens the people on it; each can be marked 已走访. Only the caller's own
lists are reachable (another inbox's is "not found"). A person who has become an alert since the list was
delivered is no longer shown on it (the alert is in the inbox instead). Opening a list is audited
(``inbox.watch_digest_read``, naming the people shown) and so is each visit (``inbox.watch_visit``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from common.clock import beijing_week, format_beijing, utcnow
from serving.operations import audit
from serving.operations.alerts.errors import InboxItemNotFound, InvalidInput, InvalidTransition, ItemClosed
from serving.operations.alerts.models import Alert, AlertOutcome, InboxItem
from serving.operations.alerts.transitions import advance_if
from serving.operations.alerts.watch import open_alert_people
from serving.operations.inbox.models import WatchDigest, WatchDigestEntry
from serving.operations.inbox.tokens import TOKEN_MAX_AGE_DAYS, Identity, verify_inbox_token

__all__ = ["InboxService", "Identity", "OUTCOME_KINDS", "ITEM_STATUS_LABELS", "MAX_NOTE_CHARS", "outcome_kind",
           "digest_title"]

#: code -> Chinese label (the mini-program shows the label; either is accepted).
OUTCOME_KINDS: dict[str, str] = {"visited": "已走访", "resolved": "已化解", "referred": "已转交", "false_alarm": "误报"}
ITEM_STATUS_LABELS = {"unread": "未读", "read": "已读", "acknowledged": "已签收", "reported": "已反馈",
                      "withdrawn": "已撤回", "expired": "已过期"}
CLOSED_ITEM = frozenset({"withdrawn", "expired"})
MAX_NOTE_CHARS = 500
#: alert ids are 64-bit signed integers in every store
_MIN_ID, _MAX_ID = -(2**63), 2**63 - 1


def outcome_kind(kind: str) -> str:
    k = str(kind).strip()
    by_label = {v: c for c, v in OUTCOME_KINDS.items()}
    if k in OUTCOME_KINDS:
        return k
    if k in by_label:
        return by_label[k]
    allowed = ", ".join(f"{c}（{label}）" for c, label in OUTCOME_KINDS.items())
    raise InvalidInput(f"反馈类型无效 / outcome kind {kind!r} is not allowed; use one of: {allowed}.")


def item_view(item: InboxItem, full: bool) -> dict:
    """What the API returns; a withdrawn or expired item shows no personal details."""
    base = {"alert_id": item.alert_id, "status": item.status, "status_label": ITEM_STATUS_LABELS[item.status],
            "received_at": item.created_at.isoformat(timespec="seconds")}
    if item.status in CLOSED_ITEM:
        return {**base, "notice": "该预警已撤回，无需处置" if item.status == "withdrawn" else "该预警已过期"}
    p = item.payload
    summary = {"person": p["person"], "address": p["address"], "level": p["level"], "level_label": p["level_label"],
               "deadline": p["deadline"], "deadline_text": p["deadline_text"], "categories": p["categories"]}
    if not full:
        return {**base, **summary}
    return {**base, **summary, "places": p["places"], "reasons": p["reasons"], "action": p["action"],
            "fallback_note": p.get("fallback_note"),
            "acknowledged_at": item.acknowledged_at.isoformat(timespec="seconds") if item.acknowledged_at else None,
            "reported_at": item.reported_at.isoformat(timespec="seconds") if item.reported_at else None}


def digest_title(week: str, n: int, now: datetime) -> str:
    """``本周关注名单（N 人）`` for the current Beijing week, ``11月23日起一周关注名单（N 人）`` for an older one."""
    from datetime import date

    monday = date.fromisoformat(week)
    if monday == beijing_week(now):
        return f"本周关注名单（{n} 人）"
    return f"{monday.month}月{monday.day}日起一周关注名单（{n} 人）"


def _entry_view(e: WatchDigestEntry) -> dict:
    p = e.payload
    view = {"position": e.position, "person": p["person"], "address": p["address"], "places": list(p["places"]),
            "reasons": list(p["reasons"]), "action": p["action"], "visited": e.visited_at is not None,
            "visited_text": f"已走访（{format_beijing(e.visited_at, '%m月%d日 %H:%M')}）" if e.visited_at else "未走访"}
    if p.get("fallback_note"):
        view["fallback_note"] = p["fallback_note"]
    return view


class InboxService:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow,
                 token_max_age_days: float = TOKEN_MAX_AGE_DAYS):
        self.engine = engine
        self.clock = clock
        self.token_max_age_days = token_max_age_days
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    def authenticate(self, token: str | None) -> Identity:
        """See :func:`serving.operations.inbox.tokens.verify_inbox_token`."""
        with self.sessions.begin() as s:
            return verify_inbox_token(s, token, now=self.clock(), max_age_days=self.token_max_age_days)

    def list(self, who: Identity, *, status: str = "open", limit: int = 100) -> list[dict]:
        """``status``: ``open`` (not reported, not retracted), ``all``, or one item status."""
        q = sa.select(InboxItem).where(InboxItem.inbox_id == who.inbox_id)
        if status == "open":
            q = q.where(InboxItem.status.in_(["unread", "read", "acknowledged"]))
        elif status != "all":
            if status not in ITEM_STATUS_LABELS:
                raise InvalidInput(f"status={status!r}; allowed: open, all, {', '.join(ITEM_STATUS_LABELS)}.")
            q = q.where(InboxItem.status == status)
        with self.sessions() as s:
            return [item_view(i, full=False) for i in s.scalars(q.order_by(InboxItem.id.desc()).limit(limit))]

    def read(self, who: Identity, alert_id: int) -> dict:
        with self.sessions.begin() as s:
            item = self._item(s, who, alert_id)
            if item.status == "unread":
                item.status, item.read_at = "read", self.clock()
            self._audit(s, who, "inbox.read", item)
            return item_view(item, full=True)

    def acknowledge(self, who: Identity, alert_id: int) -> dict:
        with self.sessions.begin() as s:
            item = self._item(s, who, alert_id, lock=True)
            self._ack(s, who, item)
            self._audit(s, who, "inbox.ack", item)
            return item_view(item, full=True)

    def report_outcome(self, who: Identity, alert_id: int, kind: str, note: str | None = None) -> dict:
        code = outcome_kind(kind)
        note = (note or "").strip() or None
        if note and len(note) > MAX_NOTE_CHARS:
            raise InvalidInput(f"备注过长 / note has {len(note)} characters; at most {MAX_NOTE_CHARS}.")
        with self.sessions.begin() as s:
            item = self._item(s, who, alert_id, lock=True)
            self._ack(s, who, item)
            now = self.clock()
            alert = s.get(Alert, alert_id)
            if alert is None:  # an inbox item always belongs to an alert (foreign key)
                raise InboxItemNotFound(f"预警不存在 / alert {alert_id} does not exist.")
            s.add(AlertOutcome(alert_id=alert_id, person_id=alert.person_id, inbox_id=who.inbox_id,
                               staff_id=who.staff_id or item.staff_id, kind=code, kind_label=OUTCOME_KINDS[code],
                               note=note, reported_at=now, alert_level=alert.level, alert_score=alert.score,
                               alert_categories=list(alert.categories), alert_as_of=alert.as_of,
                               ruleset_version=alert.ruleset_version, model_version=alert.model_version,
                               snapshot_time=alert.snapshot_time))
            item.status, item.reported_at = "reported", now
            advance_if(s, alert_id, "acknowledged", "outcome_reported", actor=self._actor(who), now=now,
                       reason=f"{OUTCOME_KINDS[code]}" + (f"：{note}" if note else ""), detail={"kind": code})
            self._audit(s, who, "inbox.outcome", item, kind=code, with_note=note is not None)
            return item_view(item, full=True)

    # -- the weekly watch-list digest ---------------------------------------------------------------
    def digests(self, who: Identity, *, limit: int = 8) -> Sequence[dict]:
        """The caller's weekly lists, newest week first (title, people shown, how many visited)."""
        with self.sessions() as s:
            rows = s.scalars(sa.select(WatchDigest).where(WatchDigest.inbox_id == who.inbox_id)
                             .order_by(WatchDigest.week.desc()).limit(limit)).all()
            return [self._digest_view(d, self._shown(s, d.id)) for d in rows]

    def digest(self, who: Identity, digest_id: int) -> dict:
        """One list in full (marks it read); audited with the people shown."""
        with self.sessions.begin() as s:
            d = self._digest(s, who, digest_id)
            shown = self._shown(s, d.id)
            if d.read_at is None:
                d.read_at = self.clock()
            audit.record(s, self._actor(who), "inbox.watch_digest_read", f"watch_digest:{d.id}",
                         {"inbox_id": who.inbox_id, "week": d.week, "person_ids": [e.person_id for e in shown]})
            return {**self._digest_view(d, shown), "entries": [_entry_view(e) for e in shown]}

    def mark_visited(self, who: Identity, digest_id: int, position: int) -> dict:
        """Mark one person on the caller's list 已走访 (idempotent: the first visit's time is kept); audited."""
        with self.sessions.begin() as s:
            d = self._digest(s, who, digest_id)
            e = s.scalar(sa.select(WatchDigestEntry).where(WatchDigestEntry.digest_id == d.id,
                                                           WatchDigestEntry.position == position).with_for_update())
            if e is None:
                raise InboxItemNotFound(f"关注名单中没有该人员 / no entry {position} on watch list {digest_id}.")
            if open_alert_people(s, [e.person_id]):
                raise InvalidTransition(f"该人员已转为预警，请在预警中反馈 / entry {position} of watch list "
                                        f"{digest_id} has become an alert; report on the alert instead.")
            first = e.visited_at is None
            if first:
                e.visited_at, e.visited_by = self.clock(), self._actor(who)
            audit.record(s, self._actor(who), "inbox.watch_visit", f"watch_digest:{d.id}",
                         {"inbox_id": who.inbox_id, "person_id": e.person_id, "position": position,
                          "week": d.week, "repeat": not first})
            return _entry_view(e)

    def _digest(self, s: Session, who: Identity, digest_id: int) -> WatchDigest:
        if not _MIN_ID <= digest_id <= _MAX_ID:
            raise InboxItemNotFound(f"收件箱中没有该关注名单 / no watch list {digest_id} in this inbox.")
        d = s.scalar(sa.select(WatchDigest).where(WatchDigest.id == digest_id, WatchDigest.inbox_id == who.inbox_id))
        if d is None:
            raise InboxItemNotFound(f"收件箱中没有该关注名单 / no watch list {digest_id} in this inbox.")
        return d

    @staticmethod
    def _shown(s: Session, digest_id: int) -> Sequence[WatchDigestEntry]:
        """The list's entries in order, without the people who have become alerts since."""
        entries = s.scalars(sa.select(WatchDigestEntry).where(WatchDigestEntry.digest_id == digest_id)
                            .order_by(WatchDigestEntry.position)).all()
        alerted = open_alert_people(s, [e.person_id for e in entries])
        return [e for e in entries if e.person_id not in alerted]

    def _digest_view(self, d: WatchDigest, shown: Sequence[WatchDigestEntry]) -> dict:
        return {"digest_id": d.id, "week": d.week, "title": digest_title(d.week, len(shown), self.clock()),
                "count": len(shown), "visited": sum(e.visited_at is not None for e in shown),
                "unread": d.read_at is None, "received_at": d.created_at.isoformat(timespec="seconds"),
                "received_text": format_beijing(d.created_at, "%Y年%m月%d日 %H:%M")}

    # -- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _actor(who: Identity) -> str:
        return f"cadre:{who.staff_id or who.inbox_id}"

    def _audit(self, s: Session, who: Identity, action: str, item: InboxItem, **detail) -> None:
        """One audit entry in the act's transaction: who, which alert and person; never the note text."""
        alert = s.get(Alert, item.alert_id)
        audit.record(s, self._actor(who), action, f"alert:{item.alert_id}",
                     {"inbox_id": who.inbox_id, "person_id": alert.person_id if alert else None,
                      "status": item.status, **detail})

    def _ack(self, s: Session, who: Identity, item: InboxItem) -> None:
        if item.status in ("unread", "read"):
            now = self.clock()
            item.status, item.acknowledged_at = "acknowledged", now
            item.read_at = item.read_at or now
            actor = self._actor(who)
            # the item can be visible before the worker's alert update when the inbox commits separately
            advance_if(s, item.alert_id, "queued", "delivered", actor=actor, now=now)
            advance_if(s, item.alert_id, "delivered", "acknowledged", actor=actor, now=now)

    def _item(self, s: Session, who: Identity, alert_id: int, lock: bool = False) -> InboxItem:
        if not _MIN_ID <= alert_id <= _MAX_ID:  # no such alert (and too large for the database's integer)
            raise InboxItemNotFound(f"收件箱中没有该预警 / no item for alert {alert_id} in this inbox.")
        q = sa.select(InboxItem).where(InboxItem.inbox_id == who.inbox_id, InboxItem.alert_id == alert_id)
        if lock:
            q = q.with_for_update()
        item = s.scalar(q)
        if item is None:
            raise InboxItemNotFound(f"收件箱中没有该预警 / no item for alert {alert_id} in this inbox.")
        if lock and item.status in CLOSED_ITEM:
            raise ItemClosed(f"该预警已{ITEM_STATUS_LABELS[item.status]} / alert {alert_id} was {item.status}; "
                             f"nothing to do.", alert_id=alert_id, current=item.status)
        return item
