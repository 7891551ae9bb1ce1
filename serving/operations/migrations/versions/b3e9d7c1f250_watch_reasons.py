"""the watch list keeps each person's plain reasons (watch_entries.reasons), so the weekly digest reads them
instead of taking the one-sentence summary apart

Revision ID: b3e9d7c1f250
Revises: a7c4e2d9f613 (watch digests)

Entries already on the list get their reasons from their stored summary, once, here (``无预警（类别）：原因一；
原因二。``: the text after the colon, split at ``；``); every later score writes them from the explanation.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "b3e9d7c1f250"
down_revision = "a7c4e2d9f613"
branch_labels = None
depends_on = None

_QUOTED = re.compile(r"[“\"「『‘'][^”\"」』’']*[”\"」』’']")


def _from_summary(summary: str | None) -> list[str]:
    """The reasons of a stored summary sentence, cleaned as the digest cleaned them at this revision."""
    if not summary:
        return []
    text = summary.split("：", 1)[1] if "：" in summary else summary
    out: list[str] = []
    for part in text.rstrip("。").split("；"):
        part = re.sub(r"[，,]{2,}", "，", re.sub(r"\s+", " ", _QUOTED.sub("", part)).strip())[:40].rstrip("。")
        if part and part not in out and "当前未达到预警条件" not in part:
            out.append(part)
    return out[:2]


def upgrade() -> None:
    op.add_column("watch_entries", sa.Column("reasons", sa.JSON))
    entries = sa.table("watch_entries", sa.column("person_id", sa.String), sa.column("summary", sa.Text),
                       sa.column("reasons", sa.JSON))
    conn = op.get_bind()
    rows = conn.execute(sa.select(entries.c.person_id, entries.c.summary)).all()
    for person_id, summary in rows:
        conn.execute(sa.update(entries).where(entries.c.person_id == person_id)
                     .values(reasons=_from_summary(summary)))


def downgrade() -> None:
    with op.batch_alter_table("watch_entries") as batch:
        batch.drop_column("reasons")
