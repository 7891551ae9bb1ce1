"""Anonymous tips by address code (四川e码): accept, damp floods and duplicates, route to the address's grid.

The intake sees a tip's content and, for flood damping only, the client address, which goes straight into
the in-memory :class:`~serving.operations.grassroots.limits.ClientLimiter` as a keyed hash and nowhere else:
the ``tips`` row, the audit entry and the logs never carry it (tests/serving/operations/grassroots).

Damping, in order (nothing is stored for a refused tip):

1. per client: a few tips per ten minutes and per day (keyed hash, memory only, daily key);
2. per address code: ``tips_per_code_per_day`` accepted tips per Beijing day (``tip_daily_counts``);
3. duplicates: a tip with the same address, category and note as one in the last ``duplicate_hours`` is
   stored, marked ``duplicate_of`` the first, and not routed as a new item.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from common.clock import BEIJING, utcnow
from features.contracts import OBSERVATION_LABELS
from serving.operations import audit
from serving.operations.grassroots.directory import GrassrootsDirectory
from serving.operations.grassroots.errors import ItemNotFound, TipRateLimited
from serving.operations.grassroots.limits import ClientLimiter
from serving.operations.grassroots.models import Tip, TipDailyCount
from serving.operations.grassroots.policy import GrassrootsPolicy
from serving.operations.grassroots.validation import check_row, observations

__all__ = ["TipIntake", "fingerprint", "PUBLIC_ACTOR"]

#: how the audit log names whoever sent a tip: nobody in particular, on purpose
PUBLIC_ACTOR = "public:tip-page"


def fingerprint(address_code: str, category: str, note: str | None) -> str:
    """A hash of the tip's own content (never of its sender), for duplicate damping."""
    text = "".join((note or "").split())
    return hashlib.sha256(f"{address_code}|{category}|{text}".encode()).hexdigest()


class TipIntake:
    def __init__(self, engine, directory: GrassrootsDirectory, *, policy: GrassrootsPolicy | None = None,
                 clock: Callable[[], datetime] = utcnow, limiter: ClientLimiter | None = None):
        self.engine = engine
        self.directory = directory
        self.policy = policy or GrassrootsPolicy()
        self.clock = clock
        self.limiter = limiter or ClientLimiter(per_window=self.policy.tips_per_client_window,
                                                window_seconds=self.policy.client_window_seconds,
                                                per_day=self.policy.tips_per_client_per_day)
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    def known(self, address_code: str) -> bool:
        return self.directory.address(address_code) is not None

    def village_name(self, address_code: str) -> str:
        info = self.directory.address(address_code)
        return self.directory.village_names.get(info.village_code, "") if info else ""

    def submit(self, address_code: str, *, category: str, urgency: str = "routine",
               observations_: list[str] | None = None, note: str | None = None, client: str | None = None) -> dict:
        """Accept one tip; returns ``{"accepted": True, "duplicate": bool}`` (no id: nothing to track a sender by)."""
        info = self.directory.address(address_code)
        if info is None:
            raise ItemNotFound("地址码无效 / this address code is not on the standard-address register.")
        note = (note or "").strip() or None
        if note and len(note) > self.policy.max_note_chars:
            from serving.operations.grassroots.errors import InvalidInput

            raise InvalidInput(f"情况说明过长，最多{self.policy.max_note_chars}字 / note too long.", field="note")
        now = self.clock()
        # the cheap check first: a flood is refused before any parsing or database work
        if not self.limiter.allow(client, now=now.timestamp()):
            raise TipRateLimited("提交过于频繁，请稍后再试 / too many tips from here just now; try again later.")
        row = check_row("tips", {"address_code": address_code, "category": category, "urgency": urgency,
                                 "observations": observations(observations_), "note": note}, now=now)
        try:
            return self._store(address_code, row, info, now)
        except sa.exc.IntegrityError:  # two first tips of the day for one code at once: the counter row exists now
            return self._store(address_code, row, info, now)

    def _store(self, address_code: str, row: dict, info, now: datetime) -> dict:
        day = now.astimezone(BEIJING).date().isoformat()
        fp = fingerprint(address_code, row["category"], row["note"])
        with self.sessions.begin() as s:
            count = s.get(TipDailyCount, (address_code, day), with_for_update=True)
            if count is None:
                count = TipDailyCount(address_code=address_code, day=day, n=0)
                s.add(count)
            if count.n >= self.policy.tips_per_code_per_day:
                raise TipRateLimited("该地址今日线索已达上限，请明日再试或拨打110 / this address has reached today's "
                                     "tip quota; try tomorrow, or call 110 in an emergency.")
            count.n += 1
            first = s.scalar(sa.select(Tip.id).where(
                Tip.fingerprint == fp, Tip.created_at >= now - timedelta(hours=self.policy.duplicate_hours),
                Tip.duplicate_of.is_(None)).order_by(Tip.id).limit(1))
            tip = Tip(address_code=address_code, grid_id=info.grid_id, village_code=info.village_code,
                      category=row["category"], urgency=row["urgency"],
                      observations=[o for o in OBSERVATION_LABELS if row.get(o)], note=row["note"], fingerprint=fp,
                      duplicate_of=first, status="handled" if first else "submitted", created_at=now,
                      deadline_at=now + self.policy.handle_deadline(row["urgency"]))
            if first:  # a duplicate joins the first tip's item instead of opening a new one
                tip.verdict, tip.handled_at, tip.handled_by = "duplicate", now, "system:dedup"
            s.add(tip)
            s.flush()
            audit.record(s, PUBLIC_ACTOR, "tip.received", f"tip:{tip.id}",
                         {"grid_id": info.grid_id, "category": tip.category, "urgency": tip.urgency,
                          "duplicate_of": first})
            return {"accepted": True, "duplicate": first is not None}
