"""Tables of the weekly watch-list digest (schema owned by the Alembic revision ``a7c4e2d9f613``).

* ``watch_digests`` — one weekly list (本周关注名单) per inbox identity and Beijing week (``week``: the
  Monday, ``YYYY-MM-DD``), unique on (inbox, week): a second run in the same week delivers nothing new.
  ``delivery_key`` (``w{week}:inbox:{inbox_id}``) is the idempotency key, as an alert send has one.
* ``watch_digest_entries`` — the people on one list, in the order shown. ``person_id`` stays on the
  police side (the audit entry of a visit names it); ``payload`` is what the cadre sees: a masked
  person label, a masked address, which of the person's places the cadre serves, at most two plain
  reasons and the routine action. Never a score, an id, a note or a model version. ``visited_at`` /
  ``visited_by``: the cadre marked the person 已走访.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from serving.operations.alerts.models import Base, BigId, UtcDateTime

__all__ = ["WatchDigest", "WatchDigestEntry"]


class WatchDigest(Base):
    __tablename__ = "watch_digests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    inbox_id: Mapped[str] = mapped_column(sa.String(128))
    staff_id: Mapped[str] = mapped_column(sa.String(40))
    week: Mapped[str] = mapped_column(sa.String(10))             # the Beijing Monday, YYYY-MM-DD
    delivery_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    entries: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (sa.UniqueConstraint("inbox_id", "week", name="uq_watch_digests_inbox_week"),)


class WatchDigestEntry(Base):
    __tablename__ = "watch_digest_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    digest_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("watch_digests.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(sa.Integer)             # 1, 2, ... as shown
    person_id: Mapped[str] = mapped_column(sa.String(40))
    payload: Mapped[dict] = mapped_column(sa.JSON)
    visited_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    visited_by: Mapped[str | None] = mapped_column(sa.String(100))

    __table_args__ = (sa.UniqueConstraint("digest_id", "position", name="uq_watch_digest_entries_position"),)
