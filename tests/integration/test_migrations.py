"""The Alembic migrations build exactly the schema the SQLAlchemy models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

# Tables whose models live beside their own adapters: imported so Base.metadata holds them.
import exchange.adapters.sql.metrics_tables
import exchange.adapters.sql.settlement_tables
import exchange.console.tables  # noqa: F401  (the console's tables, migration 0005)
from exchange.adapters.sql.migrations import current_revision, head_revision
from exchange.adapters.sql.tables import Base


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_migrated_database_is_at_the_head_revision(engine: Engine) -> None:
    assert head_revision() is not None
    assert current_revision(engine) == head_revision()
