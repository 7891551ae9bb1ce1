"""Database access for the alert store: engines, the default URL, and Alembic migrations.

SQLite is the embedded default (one file under the data home; WAL mode; one push worker at a time).
PostgreSQL is the production store (many push workers with ``FOR UPDATE SKIP LOCKED``).

>>> url = database_url_from_env({"WEIMENG_HOME": "/tmp/wm"})
>>> url.startswith("sqlite:///") and url.endswith("/tmp/wm/weimeng.db")
True
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from common.settings import Settings, normalise_database_url
from serving.operations.alerts.errors import ConfigurationError, DatabaseNotMigrated
from serving.operations.alerts.models import VERSION_TABLE

__all__ = [
    "database_url_from_env",
    "normalise_url",
    "make_engine",
    "upgrade",
    "downgrade",
    "current_revision",
    "head_revision",
    "require_current",
    "is_postgres",
]

#: The Alembic scripts, shipped as package data next to this package.
MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


def database_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``WEIMENG_DATABASE_URL``, else SQLite at ``$WEIMENG_HOME/weimeng.db`` (:class:`common.settings.Settings`)."""
    return Settings.from_env(environ).resolved_database_url


normalise_url = normalise_database_url


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def make_engine(url: str, **kwargs) -> Engine:
    """An engine with the settings the store relies on.

    SQLite: WAL, a 30 s busy timeout, foreign keys on, and real transactions (pysqlite's own
    transaction handling is switched off and ``BEGIN`` is emitted by SQLAlchemy, as its docs advise).
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every sqlite test
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn):  # pragma: no cover
            conn.exec_driver_sql("BEGIN")

        return engine
    if url.startswith("postgresql"):
        kwargs.setdefault("pool_pre_ping", True)
        return sa.create_engine(url, **kwargs)
    raise ConfigurationError(f"unsupported database URL {url!r}; use sqlite:///PATH or "
                             f"postgresql+psycopg://USER@HOST:PORT/DB.")


def _config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    cfg.set_main_option("version_table", VERSION_TABLE)
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> str:
    """Apply migrations up to ``revision``; returns the revision now current."""
    from alembic import command

    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    command.upgrade(_config(engine), revision)
    return current_revision(engine) or ""


def downgrade(engine_or_url: Engine | str, revision: str) -> str | None:
    from alembic import command

    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    command.downgrade(_config(engine), revision)
    return current_revision(engine)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return ctx.get_current_revision()


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    if head is None:
        raise ConfigurationError(f"迁移脚本缺失：{MIGRATIONS} 中没有任何迁移版本 / no migration revisions found in "
                                 f"{MIGRATIONS}; the installation is incomplete.")
    return head


def require_current(engine: Engine) -> None:
    """Fail at start-up (not mid-request) when the schema is missing or behind."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise DatabaseNotMigrated(
            f"告警库未迁移 / the alert store at {engine.url.render_as_string(hide_password=True)} is at "
            f"revision {current!r}, expected {head!r}; run `weimeng db upgrade` first."
        )
