"""Login throttle: failed-login counters per (username, client) and per client, for any username.

Revision ID: d3f1a2b4c5e6
Revises: e4b9c2a7d310
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d3f1a2b4c5e6"
down_revision = "e4b9c2a7d310"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_login_throttle",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("console_login_throttle")
