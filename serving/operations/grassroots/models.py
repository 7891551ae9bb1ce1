"""Tables of the grassroots loop (schema owned by the Alembic revision ``f5a8c3d91b42``).

* ``field_reports`` — 掌上排查上报: a cadre's risk report about an address (and a person, when named): category,
  ticked observations, a short note, urgency; its reporter (staff id, inbox identity, role) and provenance; the
  community officer's 签收 (signed) and 处置 (handled) with who and when; the handling deadline.
* ``tips`` — 匿名线索: a resident's tip by address code. **Nothing about the tipper**: no IP address, no user
  agent, no device id, no cookie, no account. ``fingerprint`` is a hash of the tip's own content (address,
  category, note) for duplicate damping; ``duplicate_of`` points to the first tip of a run of duplicates.
* ``tip_daily_counts`` — tips accepted per address code and Beijing day (the per-code daily quota).
* ``escalation_steps`` — 逐级督办: one row per step an unacknowledged or unresolved alert, report or tip rose
  along the jurisdiction chain (township -> county -> prefecture), with the holder, since when, and the next
  deadline. Unique per (subject, step), so two schedulers never write a step twice.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from serving.operations.alerts.models import Base, BigId, UtcDateTime

__all__ = ["FieldReport", "Tip", "TipDailyCount", "EscalationStep"]


class FieldReport(Base):
    __tablename__ = "field_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    reporter_staff_id: Mapped[str] = mapped_column(sa.String(40))
    reporter_inbox_id: Mapped[str | None] = mapped_column(sa.String(128))
    reporter_role: Mapped[str] = mapped_column(sa.String(30))
    provenance: Mapped[str] = mapped_column(sa.String(20))
    person_id: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    address_code: Mapped[str] = mapped_column(sa.String(20))
    grid_id: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    village_code: Mapped[str] = mapped_column(sa.String(12))
    category: Mapped[str] = mapped_column(sa.String(20))
    urgency: Mapped[str] = mapped_column(sa.String(10))
    observations: Mapped[list] = mapped_column(sa.JSON)
    note: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20), index=True)     # submitted | signed | handled
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UtcDateTime)
    signed_by: Mapped[str | None] = mapped_column(sa.String(100))
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    handled_by: Mapped[str | None] = mapped_column(sa.String(100))
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    handling: Mapped[str | None] = mapped_column(sa.String(20))
    handling_note: Mapped[str | None] = mapped_column(sa.Text)


class Tip(Base):
    __tablename__ = "tips"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    address_code: Mapped[str] = mapped_column(sa.String(20), index=True)
    grid_id: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    village_code: Mapped[str] = mapped_column(sa.String(12))
    category: Mapped[str] = mapped_column(sa.String(20))
    urgency: Mapped[str] = mapped_column(sa.String(10))
    observations: Mapped[list] = mapped_column(sa.JSON)
    note: Mapped[str | None] = mapped_column(sa.Text)
    fingerprint: Mapped[str] = mapped_column(sa.String(64), index=True)
    duplicate_of: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("tips.id"))
    status: Mapped[str] = mapped_column(sa.String(20), index=True)     # submitted | signed | handled
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UtcDateTime)
    signed_by: Mapped[str | None] = mapped_column(sa.String(100))
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    handled_by: Mapped[str | None] = mapped_column(sa.String(100))
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    verdict: Mapped[str | None] = mapped_column(sa.String(20))
    handling_note: Mapped[str | None] = mapped_column(sa.Text)
    linked_person_id: Mapped[str | None] = mapped_column(sa.String(40))


class TipDailyCount(Base):
    __tablename__ = "tip_daily_counts"

    address_code: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    day: Mapped[str] = mapped_column(sa.String(10), primary_key=True)  # Beijing date, YYYY-MM-DD
    n: Mapped[int] = mapped_column(sa.Integer, default=0)


class EscalationStep(Base):
    __tablename__ = "escalation_steps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject_kind: Mapped[str] = mapped_column(sa.String(10))            # alert | report | tip
    subject_id: Mapped[int] = mapped_column(BigId)
    step: Mapped[int] = mapped_column(sa.Integer)                       # 1 = first rise above the village
    level: Mapped[str] = mapped_column(sa.String(12))                   # township | county | prefecture
    holder_code: Mapped[str] = mapped_column(sa.String(12))
    county_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    reason: Mapped[str] = mapped_column(sa.String(20))                  # unacknowledged | unresolved
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)       # the deadline that was missed
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)        # the holder's own deadline

    __table_args__ = (sa.UniqueConstraint("subject_kind", "subject_id", "step", name="uq_escalation_steps_step"),
                      sa.Index("ix_escalation_steps_subject", "subject_kind", "subject_id"))
