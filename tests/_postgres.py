"""One way for every suite to get a throw-away PostgreSQL database (127.0.0.1:5432, trust auth)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import pytest

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"


@contextlib.contextmanager
def temporary_database(prefix: str) -> Iterator[str]:
    """Create ``<prefix>_<random>``, yield its SQLAlchemy URL, drop it afterwards; skip if unreachable."""
    psycopg = pytest.importorskip("psycopg", reason="psycopg (a project dependency) is needed for PostgreSQL")
    try:
        admin = psycopg.connect(ADMIN_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc}")
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
