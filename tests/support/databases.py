"""Test databases: a migrated SQLite template and one migrated PostgreSQL database per run."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.migrations import upgrade

POSTGRES_ADMIN_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REQUIRE_POSTGRES = "COALITION_REQUIRE_POSTGRES"


def postgres_admin_url() -> str:
    return os.environ.get("COALITION_TEST_POSTGRES_URL", POSTGRES_ADMIN_URL_DEFAULT)


def postgres_reachable() -> bool:
    engine = create_engine(postgres_admin_url(), connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


def require_or_skip_postgres() -> None:
    if postgres_reachable():
        return
    if os.environ.get(REQUIRE_POSTGRES):
        pytest.fail(
            f"PostgreSQL is unreachable at {postgres_admin_url()} and {REQUIRE_POSTGRES} is set"
        )
    pytest.skip("PostgreSQL is unreachable (set COALITION_REQUIRE_POSTGRES=1 to make this fail)")


@contextmanager
def migrated_postgres_database() -> Iterator[str]:
    """Creates a fresh database, migrates it, yields its URL and drops it afterwards."""
    name = f"coalition_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_admin_url()).set(database=name).render_as_string(hide_password=False)
    engine = create_database_engine(url)
    try:
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrated_sqlite_template(directory: Path) -> Path:
    template = directory / "template.db"
    engine = create_database_engine(f"sqlite:///{template}")
    upgrade(engine)
    engine.dispose()
    return template


def fresh_sqlite_copy(template: Path, directory: Path) -> str:
    target = directory / "coalition.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def application_tables(engine: Engine) -> list[str]:
    return sorted(t for t in inspect(engine).get_table_names() if t != "alembic_version")


def empty_all_tables(engine: Engine) -> None:
    tables = application_tables(engine)
    with engine.begin() as connection:
        quoted = ", ".join(f'"{t}"' for t in tables)
        connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))


# A refused but authenticated request still spends its nonce (replay protection); every other
# table must be exactly as it was.
REPLAY_BOOKKEEPING = frozenset({"request_nonces"})


def table_snapshot(
    engine: Engine, exclude: frozenset[str] = frozenset()
) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every application table, sorted, for before/after comparisons."""
    snapshot: dict[str, list[tuple[object, ...]]] = {}
    with engine.connect() as connection:
        for table in application_tables(engine):
            if table in exclude:
                continue
            rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()
            snapshot[table] = sorted((tuple(row) for row in rows), key=repr)
    return snapshot
