"""Alembic environment of the alert store. Run through ``serving.operations.alerts.db.upgrade`` or ``weimeng db``.

The engine is handed over in ``config.attributes["engine"]``; ``sqlalchemy.url`` works too when the
scripts are driven by a plain ``alembic`` command with an ini file of your own.
"""

from alembic import context

from serving.operations.alerts.models import VERSION_TABLE, Base
from serving.operations.grassroots import models as _grassroots_models  # noqa: F401  (its tables in the metadata)
from serving.operations.inbox import models as _inbox_models  # noqa: F401  (the watch-list digest's tables)

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, version_table=VERSION_TABLE,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from serving.operations.alerts.db import make_engine
        from serving.operations.alerts.errors import ConfigurationError

        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise ConfigurationError("缺少数据库地址 / no database: pass an engine in config.attributes['engine'] "
                                     "or set sqlalchemy.url in the Alembic ini file.")
        engine = make_engine(url)
    with engine.connect() as connection:
        _run(connection)
        connection.commit()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      version_table=VERSION_TABLE, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
