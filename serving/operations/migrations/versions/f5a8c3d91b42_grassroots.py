"""grassroots loop: cadres' field reports, anonymous tips (no tipper data), tip quotas, escalation steps

Revision ID: f5a8c3d91b42
Revises: f5a6b7c8d9e0 (the watch list)

The ``tips`` table has, on purpose, no column for anything about the person who sent a tip (no client
address, user agent, device id or cookie): see docs/grassroots.md.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "f5a8c3d91b42"
down_revision = "f5a6b7c8d9e0"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _handling() -> list[sa.Column]:
    return [sa.Column("status", sa.String(20), nullable=False), _time("created_at", False), _time("deadline_at", False),
            sa.Column("signed_by", sa.String(100)), _time("signed_at"), sa.Column("handled_by", sa.String(100)),
            _time("handled_at")]


def upgrade() -> None:
    op.create_table(
        "field_reports",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("reporter_staff_id", sa.String(40), nullable=False),
        sa.Column("reporter_inbox_id", sa.String(128)),
        sa.Column("reporter_role", sa.String(30), nullable=False),
        sa.Column("provenance", sa.String(20), nullable=False),
        sa.Column("person_id", sa.String(40)),
        sa.Column("address_code", sa.String(20), nullable=False),
        sa.Column("grid_id", sa.String(40)),
        sa.Column("village_code", sa.String(12), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.Column("observations", sa.JSON, nullable=False),
        sa.Column("note", sa.Text),
        *_handling(),
        sa.Column("handling", sa.String(20)),
        sa.Column("handling_note", sa.Text),
    )
    op.create_index("ix_field_reports_person_id", "field_reports", ["person_id"])
    op.create_index("ix_field_reports_grid_id", "field_reports", ["grid_id"])
    op.create_index("ix_field_reports_status", "field_reports", ["status"])
    op.create_table(
        "tips",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("address_code", sa.String(20), nullable=False),
        sa.Column("grid_id", sa.String(40)),
        sa.Column("village_code", sa.String(12), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.Column("observations", sa.JSON, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("duplicate_of", _ID, sa.ForeignKey("tips.id")),
        *_handling(),
        sa.Column("verdict", sa.String(20)),
        sa.Column("handling_note", sa.Text),
        sa.Column("linked_person_id", sa.String(40)),
    )
    op.create_index("ix_tips_address_code", "tips", ["address_code"])
    op.create_index("ix_tips_grid_id", "tips", ["grid_id"])
    op.create_index("ix_tips_fingerprint", "tips", ["fingerprint"])
    op.create_index("ix_tips_status", "tips", ["status"])
    op.create_table(
        "tip_daily_counts",
        sa.Column("address_code", sa.String(20), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("n", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "escalation_steps",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("subject_kind", sa.String(10), nullable=False),
        sa.Column("subject_id", _ID, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("level", sa.String(12), nullable=False),
        sa.Column("holder_code", sa.String(12), nullable=False),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        _time("at", False),
        _time("recorded_at", False),
        _time("due_at"),
        sa.UniqueConstraint("subject_kind", "subject_id", "step", name="uq_escalation_steps_step"),
    )
    op.create_index("ix_escalation_steps_subject", "escalation_steps", ["subject_kind", "subject_id"])
    op.create_index("ix_escalation_steps_county_code", "escalation_steps", ["county_code"])
    op.create_index("ix_escalation_steps_at", "escalation_steps", ["at"])


def downgrade() -> None:
    for table in ("escalation_steps", "tip_daily_counts", "tips", "field_reports"):
        op.drop_table(table)
