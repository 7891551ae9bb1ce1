"""Small helpers several test suites need: a free loopback port, a migrated SQLite template."""

from __future__ import annotations

import socket
from pathlib import Path

__all__ = ["free_port", "migrated_sqlite"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def migrated_sqlite(path: Path) -> Path:
    """Create a SQLite file at ``path`` migrated to head (tests copy it instead of migrating each time)."""
    from serving.operations.alerts.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def schema_diff(engine, tables) -> list:
    """Alembic's differences between the migrated database and the alert store's models, for ``tables`` only
    (other packages' revisions share the chain); ``[]`` when the migrations build exactly the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from serving.operations.alerts.models import VERSION_TABLE, Base

    mine = set(tables)

    def include(obj, name, type_, reflected, compare_to):
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return table is None or table.name in mine

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True,
                                                     "include_object": include})
        return compare_metadata(ctx, Base.metadata)
