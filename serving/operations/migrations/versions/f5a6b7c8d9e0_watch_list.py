"""Watch list (关注名单) and the counties' alert budgets, as scoring last reported them.

Revision ID: f5a6b7c8d9e0
Revises: d3f1a2b4c5e6
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "f5a6b7c8d9e0"
down_revision = "d3f1a2b4c5e6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watch_entries",
        sa.Column("person_id", sa.String(40), primary_key=True),
        sa.Column("county_code", sa.String(12), nullable=True, index=True),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("thresholds_version", sa.String(64), nullable=True),
        sa.Column("summary", sa.Text, nullable=True),
        sa.Column("listed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "county_budgets",
        sa.Column("county_code", sa.String(12), primary_key=True),
        sa.Column("budget_per_run", sa.Integer, nullable=False),
        sa.Column("thresholds_version", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("county_budgets")
    op.drop_table("watch_entries")
