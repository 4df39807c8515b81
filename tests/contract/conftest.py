"""The contract suite's one fixture: a unit-of-work factory on each of the three backends.

Every test in this package takes `uow_factory` and so runs on the in-memory fakes, on SQLite
and on PostgreSQL (skipped only as tests/support/databases.py says: require_or_skip_postgres).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.adapters.memory import FixedClock, InMemoryUnitOfWorkFactory
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.domain.ports import UnitOfWorkFactory
from tests.contract.support import PlainEncoder
from tests.support import databases

BACKENDS = ("memory", "sqlite", "postgresql")
AES_KEY_BYTES = 32


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def uow_factory(
    request: pytest.FixtureRequest, backend: str, clock: FixedClock, tmp_path: Path
) -> Iterator[UnitOfWorkFactory]:
    """An empty, migrated store behind the port: the fakes, a fresh SQLite file, or the run's
    PostgreSQL database emptied."""
    if backend == "memory":
        yield InMemoryUnitOfWorkFactory(encoder=PlainEncoder(), clock=clock)
        return
    if backend == "sqlite":
        url = databases.fresh_sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    else:
        url = request.getfixturevalue("postgres_url")
    engine = create_database_engine(url)
    if backend == "postgresql":
        databases.empty_all_tables(engine)
    yield SqlUnitOfWorkFactory(
        engine,
        encoder=PlainEncoder(),
        clock=clock,
        vault_key=os.urandom(AES_KEY_BYTES),
        response_key=os.urandom(AES_KEY_BYTES),
    )
    engine.dispose()
