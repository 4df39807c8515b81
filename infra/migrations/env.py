"""Alembic environment: migrates the database whose engine or URL the caller passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

# Tables whose models live beside their own adapters: imported so Base.metadata holds them.
import exchange.adapters.sql.metrics_tables
import exchange.adapters.sql.settlement_tables
import exchange.console.tables  # noqa: F401  (the console's tables, migration 0005)
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_database_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as fresh:
            _run(fresh)
    finally:
        engine.dispose()


run_migrations_online()
