"""The weekly watch-list digest (本周关注名单): one list per cadre per Beijing week, never one push per person.

The watch list (``watch_entries``, :mod:`serving.operations.alerts.watch`) holds people above the watch bar who
are not alerts. Once a week each inbox identity that routing reaches for one of them (the grid staff of the
person's household-registration grid or residence grid, or the township fallback desk of a grid without
staff: :meth:`serving.operations.alerts.routing.Directory.route`, the rule every alert follows) gets one
``watch_digests`` row with its people as ``watch_digest_entries``, in the watch list's order (highest risk
first, which is not shown).

What an entry holds is what a routine visit needs (docs/alerts.md, "The weekly watch-list digest"): a masked
person label, the masked address of the place this cadre serves, which of the person's places that is, at most
two plain reasons and the routine action. Never a score or probability, a person or incident id, a note, a
county code or a model version.

Opt-in: :class:`~serving.operations.push.config.WatchDigestConfig` (``watch_digest.enabled`` in the push
config) is off by default. The push worker runs :meth:`WatchDigestJob.run_once` on its schedule once the week's
delivery time has come (``weekday`` and ``hour``, Beijing time); ``weimeng alerts watch-digest`` runs it on
demand. Idempotent: the list is unique per (inbox, week), so a second run in the same week, or two workers at
once, deliver each cadre's list once. A person with an open alert is left out (they get the alert, with the
reason 风险上升), and the inbox hides an entry whose person became an alert after the list was delivered.

Each list delivered writes one audit entry (``inbox.watch_digest``, actor ``system:watch-digest``, subject
``inbox:<inbox id>``, detail: week, number of people, staff id) in the list's own transaction. Log lines give
counts only, never a person id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from common.clock import BEIJING, beijing_week, to_utc, utcnow
from common.places import PLACE_LABELS, Place
from serving.operations import audit
from serving.operations.alerts.masking import mask_house_number, person_label
from serving.operations.alerts.models import WatchEntry
from serving.operations.alerts.routing import Directory, Recipient
from serving.operations.alerts.watch import MAX_WATCH_REASONS, open_alert_people
from serving.operations.inbox.models import WatchDigest, WatchDigestEntry
from serving.operations.push.config import WatchDigestConfig
from serving.operations.push.local import _insert

__all__ = ["WatchDigestJob", "DigestRun", "digest_key", "digest_entry", "DIGEST_ACTOR", "ROUTINE_ACTION",
           "MAX_DIGEST_REASONS", "run_periodically"]

log = logging.getLogger("weimeng.push.digest")

DIGEST_ACTOR = "system:watch-digest"
#: what a cadre is asked to do for someone on the watch list (a routine visit, not an alert's deadline)
ROUTINE_ACTION = "日常走访时了解近况，发现矛盾激化及时上报"
MAX_DIGEST_REASONS = MAX_WATCH_REASONS
_FALLBACK_NOTE = "本网格暂无可达人员，由乡镇（街道）兜底值班走访"
def digest_key(week: date, inbox_id: str) -> str:
    """The idempotency key of one inbox's list for one week."""
    return f"w{week.isoformat()}:inbox:{inbox_id}"


def digest_entry(person_id: str, recipient: Recipient, places: tuple[Place, ...],
                 reasons: list[str] | None) -> dict:
    """What one cadre sees about one watched person; the address is that of the place the cadre serves."""
    mine = [p for p in places if p.kind in recipient.places] or list(places)
    place = next((p for p in mine if p.kind == "residence"), mine[0])
    village = place.village_name or place.village_code or ""
    address = f"{village}{mask_house_number(place.house_number)}" if place.house_number else village
    entry = {"person": person_label(person_id), "address": address,
             "places": [PLACE_LABELS[k] for k in recipient.places], "reasons": list(reasons or [])[:MAX_DIGEST_REASONS],
             "action": ROUTINE_ACTION}
    if recipient.fallback:
        entry["fallback_note"] = _FALLBACK_NOTE
    return entry


@dataclass
class DigestRun:
    """What one run did: lists delivered this run, lists already there, people left out."""

    week: date | None = None
    delivered: int = 0
    already: int = 0
    people: int = 0                      # entries written this run (over all lists)
    alerted: int = 0                     # watched people left out because they have an open alert
    unroutable: int = 0                  # watched people the directory does not know or nobody serves
    inboxes: list[str] = field(default_factory=list)


class WatchDigestJob:
    """Builds and delivers the week's lists. Construction is cheap; :meth:`run_once` does the work."""

    def __init__(self, engine: Engine, directory: Directory, *, config: WatchDigestConfig | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.directory = directory
        self.config = config or WatchDigestConfig()
        self.clock = clock
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self._done_week: date | None = None

    def due(self, now: datetime | None = None) -> bool:
        """Whether this week's delivery time (``weekday``, ``hour``, Beijing) has come and this job has not
        delivered this week yet (the schedule's test; :meth:`run_once` itself delivers whenever it is called)."""
        now = to_utc(now or self.clock())
        week = beijing_week(now)
        at = datetime(week.year, week.month, week.day, self.config.hour, tzinfo=BEIJING) + timedelta(
            days=self.config.weekday - 1)
        return self._done_week != week and now >= at

    def run_once(self, now: datetime | None = None) -> DigestRun:
        """Deliver this week's list to every inbox that has watched people and no list for the week yet."""
        now = to_utc(now or self.clock())
        week = beijing_week(now)
        run = DigestRun(week=week)
        with self.sessions() as s:
            watched = s.execute(sa.select(WatchEntry.person_id, WatchEntry.reasons)
                                .order_by(WatchEntry.probability.desc(), WatchEntry.person_id)).all()
            alerted = open_alert_people(s, [w.person_id for w in watched])
            have = set(s.scalars(sa.select(WatchDigest.inbox_id).where(WatchDigest.week == week.isoformat())))
        lists: dict[str, tuple[Recipient, list[tuple[str, dict]]]] = {}
        for person_id, reasons in watched:
            if person_id in alerted:
                run.alerted += 1
                continue
            if not self.directory.knows(person_id):
                run.unroutable += 1
                continue
            route = self.directory.route(person_id)
            if not route.recipients:
                run.unroutable += 1
            for rec in route.recipients:
                if rec.inbox_id in have:
                    continue
                lists.setdefault(rec.inbox_id, (rec, []))[1].append(
                    (person_id, digest_entry(person_id, rec, route.places, reasons)))
        run.already = len(have)
        for inbox_id in sorted(lists):
            rec, entries = lists[inbox_id]
            if self._deliver(week, rec, entries, now):
                run.delivered += 1
                run.people += len(entries)
                run.inboxes.append(inbox_id)
            else:
                run.already += 1
        self._done_week = week
        log.info("watch digest for the week of %s: %d lists delivered (%d people), %d already there, %d watched "
                 "people with an open alert left out, %d not routable", week, run.delivered, run.people,
                 run.already, run.alerted, run.unroutable)
        return run

    def _deliver(self, week: date, rec: Recipient, entries: list[tuple[str, dict]], now: datetime) -> bool:
        """One list in one transaction with its audit entry; False when the inbox already has this week's
        (another run got there first: the unique key decides, never a read-then-write)."""
        key = digest_key(week, rec.inbox_id)
        with self.sessions.begin() as s:
            stmt = _insert(s)(WatchDigest).values(
                inbox_id=rec.inbox_id, staff_id=rec.staff_id, week=week.isoformat(), delivery_key=key,
                entries=len(entries), created_at=now).on_conflict_do_nothing().returning(WatchDigest.id)
            digest_id = s.execute(stmt).scalar_one_or_none()
            if digest_id is None:
                return False
            s.execute(sa.insert(WatchDigestEntry), [
                {"digest_id": digest_id, "position": i, "person_id": pid, "payload": payload}
                for i, (pid, payload) in enumerate(entries, start=1)])
            audit.record(s, DIGEST_ACTOR, "inbox.watch_digest", f"inbox:{rec.inbox_id}",
                         {"week": week.isoformat(), "entries": len(entries), "staff_id": rec.staff_id,
                          "digest_id": digest_id})
            return True


def run_periodically(job: WatchDigestJob, stop, every_seconds: float) -> None:
    """Check every ``every_seconds`` whether the week's list is due and deliver it (the push worker runs this in
    a thread until ``stop``, a ``threading.Event``, is set); a database hiccup is retried at the next check."""
    while True:
        try:
            if job.due():
                job.run_once()
        except sa.exc.OperationalError as exc:
            log.warning("watch digest round failed, retrying: %s", exc)
        if stop.wait(every_seconds):
            return
