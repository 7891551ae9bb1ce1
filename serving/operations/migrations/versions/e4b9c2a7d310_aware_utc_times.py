"""one clock: every time column holds aware UTC (timestamptz on PostgreSQL)

Revision ID: e4b9c2a7d310
Revises: c7a0d17e5b21
Create Date: 2026-12-01 21:00:00

Until this revision the operational store mixed two conventions in naive columns: most times were
naive UTC, but an alert's ``as_of`` and ``snapshot_time`` (and their copies in ``alert_outcomes``)
were naive Beijing wall time, straight from the scoring side's data-contract clock. From here on
every column is one point in time in UTC (``serving.operations.alerts.models.UtcDateTime``):

* PostgreSQL: each column becomes ``timestamptz``; the naive UTC ones ``USING col AT TIME ZONE 'UTC'``
  and the naive Beijing ones ``USING col AT TIME ZONE 'Asia/Shanghai'`` (the instant is kept).
* SQLite has no time type (``DATETIME`` either way; the store writes the UTC wall time as text), so
  the naive UTC columns are already right and only the Beijing ones are rewritten, row by row.

``audit_log`` is append-only: on PostgreSQL ``ALTER COLUMN ... TYPE`` rewrites the table without
firing its UPDATE trigger, and on SQLite its values are UTC already and are not touched, so the hash
chain (hashed over the UTC wall time) still verifies.
"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from common.clock import from_data_time, to_data_time, to_utc

revision = 'e4b9c2a7d310'
down_revision = 'c7a0d17e5b21'
branch_labels = None
depends_on = None

#: table -> columns that held naive UTC.
UTC_COLUMNS = {
    'alerts': ('created_at', 'updated_at', 'expires_at', 'deadline_at', 'reviewed_at', 'closed_at'),
    'alert_events': ('at',),
    'deliveries': ('next_attempt_at', 'created_at', 'finished_at'),
    'inbox_items': ('created_at', 'read_at', 'acknowledged_at', 'reported_at', 'retracted_at'),
    'alert_outcomes': ('reported_at',),
    'inbox_tokens': ('created_at', 'revoked_at', 'last_used_at'),
    'routing_gaps': ('created_at',),
    'console_users': ('locked_until', 'last_login_at', 'created_at', 'updated_at'),
    'console_sessions': ('created_at', 'last_seen_at', 'expires_at', 'revoked_at'),
    'console_person_places': ('synced_at',),
    'audit_log': ('at',),
    'audit_head': ('updated_at',),
}
#: table -> columns that held naive Beijing wall time (the scoring side's data-contract clock).
BEIJING_COLUMNS = {
    'alerts': ('as_of', 'snapshot_time'),
    'alert_outcomes': ('alert_as_of', 'snapshot_time'),
}


def _zones():
    for table in dict.fromkeys([*UTC_COLUMNS, *BEIJING_COLUMNS]):
        cols = [(c, 'UTC') for c in UTC_COLUMNS.get(table, ())]
        cols += [(c, 'Asia/Shanghai') for c in BEIJING_COLUMNS.get(table, ())]
        yield table, cols


def _alter_postgres(aware: bool) -> None:
    for table, cols in _zones():
        target = 'timestamptz' if aware else 'timestamp'
        clauses = ', '.join(f'ALTER COLUMN "{c}" TYPE {target} USING "{c}" AT TIME ZONE \'{zone}\''
                            for c, zone in cols)
        op.execute(f'ALTER TABLE "{table}" {clauses}')


def _rewrite_sqlite(convert) -> None:
    """Rewrite the Beijing columns of every row with ``convert`` (naive in, naive out)."""
    conn = op.get_bind()
    for table, cols in BEIJING_COLUMNS.items():
        t = sa.table(table, sa.column('id', sa.Integer), *(sa.column(c, sa.DateTime()) for c in cols))
        rows = conn.execute(sa.select(t.c.id, *(t.c[c] for c in cols))).all()
        updates = [{'row_id': r.id, **{f'v_{c}': None if r[i + 1] is None else convert(r[i + 1])
                                       for i, c in enumerate(cols)}} for r in rows]
        if updates:
            stmt = (sa.update(t).where(t.c.id == sa.bindparam('row_id'))
                    .values({c: sa.bindparam(f'v_{c}', type_=sa.DateTime()) for c in cols}))
            conn.execute(stmt, updates)


def _beijing_to_utc(value: datetime) -> datetime:
    return from_data_time(value).replace(tzinfo=None)


def _utc_to_beijing(value: datetime) -> datetime:
    return to_data_time(to_utc(value))


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        _alter_postgres(aware=True)
    elif dialect == 'sqlite':
        _rewrite_sqlite(_beijing_to_utc)
    else:  # pragma: no cover - the store supports these two
        raise RuntimeError(f'unsupported database {dialect!r}')


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        _alter_postgres(aware=False)
    elif dialect == 'sqlite':
        _rewrite_sqlite(_utc_to_beijing)
    else:  # pragma: no cover
        raise RuntimeError(f'unsupported database {dialect!r}')
