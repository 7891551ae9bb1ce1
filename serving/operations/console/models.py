"""The console's own table (schema owned by the Alembic revision ``c7a0d17e5b21``).

``console_person_places`` caches, for each person with an alert, the places that decide jurisdiction:
household registration and residence, each with its grid, county, prefecture and police station. It is
filled from the world's directory tables the first time a person's alert is listed, so the queue can
filter by jurisdiction in SQL. No foreign keys into the alert store: the two packages migrate together
but stay independent.
"""

from __future__ import annotations

import sqlalchemy as sa

from serving.operations.alerts.models import UtcDateTime

__all__ = ["metadata", "person_places"]

metadata = sa.MetaData()

person_places = sa.Table(
    "console_person_places", metadata,
    sa.Column("person_id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(12), primary_key=True),          # hukou | residence | unknown
    sa.Column("address_code", sa.String(40), nullable=True),
    sa.Column("grid_id", sa.String(40), nullable=True),
    sa.Column("village_name", sa.String(100), nullable=True),
    sa.Column("township_name", sa.String(100), nullable=True),
    sa.Column("county_code", sa.String(6), nullable=True),
    sa.Column("prefecture_code", sa.String(6), nullable=True),
    sa.Column("station_id", sa.String(20), nullable=True),
    sa.Column("synced_at", UtcDateTime, nullable=False),
    sa.Index("ix_console_person_places_county", "county_code"),
    sa.Index("ix_console_person_places_station", "station_id"),
)
