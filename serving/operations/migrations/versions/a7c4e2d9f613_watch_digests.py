"""the weekly watch-list digest in the cadres' inboxes: one list per inbox and Beijing week, its entries

Revision ID: a7c4e2d9f613
Revises: f5a8c3d91b42 (the grassroots loop)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a7c4e2d9f613"
down_revision = "f5a8c3d91b42"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "watch_digests",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("inbox_id", sa.String(128), nullable=False),
        sa.Column("staff_id", sa.String(40), nullable=False),
        sa.Column("week", sa.String(10), nullable=False),
        sa.Column("delivery_key", sa.String(200), nullable=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("delivery_key"),
        sa.UniqueConstraint("inbox_id", "week", name="uq_watch_digests_inbox_week"),
    )
    op.create_table(
        "watch_digest_entries",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("digest_id", _ID, sa.ForeignKey("watch_digests.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("person_id", sa.String(40), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True)),
        sa.Column("visited_by", sa.String(100)),
        sa.UniqueConstraint("digest_id", "position", name="uq_watch_digest_entries_position"),
    )
    op.create_index("ix_watch_digest_entries_digest_id", "watch_digest_entries", ["digest_id"])


def downgrade() -> None:
    op.drop_index("ix_watch_digest_entries_digest_id", table_name="watch_digest_entries")
    op.drop_table("watch_digest_entries")
    op.drop_table("watch_digests")
