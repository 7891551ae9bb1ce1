"""The grassroots tables: migrated like the rest of the store, and no column for anything about a tipper."""

from __future__ import annotations

import sqlalchemy as sa

from serving.operations.alerts.db import current_revision, downgrade, head_revision, upgrade
from serving.operations.alerts.models import Base
from tests._shared import schema_diff

GRASSROOTS = {"field_reports", "tips", "tip_daily_counts", "escalation_steps"}


def test_the_migration_matches_the_models(engine):
    assert set(Base.metadata.tables) >= GRASSROOTS
    assert schema_diff(engine, GRASSROOTS) == []
    assert current_revision(engine) == head_revision() == "b3e9d7c1f250"


def test_downgrade_removes_the_tables_and_upgrade_brings_them_back(engine):
    downgrade(engine, "f5a6b7c8d9e0")
    assert not GRASSROOTS & set(sa.inspect(engine).get_table_names())
    upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) >= GRASSROOTS


def test_a_tip_row_has_no_place_for_the_tipper(engine):
    cols = {c["name"] for c in sa.inspect(engine).get_columns("tips")}
    forbidden = {"ip", "ip_address", "client", "client_address", "user_agent", "device_id", "openid", "phone",
                 "session", "cookie", "reporter_staff_id", "reporter_inbox_id"}
    assert cols and not cols & forbidden
