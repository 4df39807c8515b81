"""Fixtures: every storage-backed test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from coalition.keys import SigningKey
from exchange.adapters.sql.engine import create_database_engine
from exchange.bootstrap import bootstrap
from exchange.config import Settings
from tests.support import databases
from tests.support.coalition import AUDIENCE, TestCoalition, seed_partners

BACKENDS = ("sqlite", "postgresql")


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """A test marked postgres_only runs on PostgreSQL alone: its SQLite variant is not collected."""
    keep, drop = [], []
    for item in items:
        sqlite_variant = "[sqlite" in item.nodeid
        (drop if sqlite_variant and item.get_closest_marker("postgres_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return databases.migrated_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    databases.require_or_skip_postgres()
    with databases.migrated_postgres_database() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> Iterator[str]:
    """A migrated, empty database: a fresh SQLite file, or the run's PostgreSQL, emptied."""
    if request.param == "sqlite":
        yield databases.fresh_sqlite_copy(sqlite_template, tmp_path)
        return
    url = request.getfixturevalue("postgres_url")
    engine = create_database_engine(url)
    databases.empty_all_tables(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_database_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def hub_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings.load(
        environ={},
        database_url=database_url,
        listen_address="127.0.0.1:0",
        audience=AUDIENCE,
        export_directory=tmp_path / "exports",
    )


@pytest.fixture
def coalition(settings: Settings, hub_key: SigningKey, engine: Engine) -> Iterator[TestCoalition]:
    """A hub on port 0 with three seeded partners."""
    hub = bootstrap(settings, hub_key=hub_key, engine=engine)
    keys = seed_partners(hub)
    hub.start()
    test_coalition = TestCoalition(hub, keys)
    yield test_coalition
    test_coalition.close()
    hub.stop(0)
