"""Tables that age (infra/SCALING.md): day partitions created ahead, dropped once expired,
and replay protection and idempotency unchanged across a partition boundary."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from exchange.adapters.sql import partitions
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.migrations import alembic_config, upgrade
from exchange.adapters.sql.partitions import IDEMPOTENCY_RECORDS, NONCES
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.domain import limits
from exchange.domain.ports import StoredResponse
from tests.support import databases

DAY = date(2031, 3, 14)  # far from the wall clock's days, which the migration made
DAY_START_S = int(datetime(2031, 3, 14, tzinfo=UTC).timestamp())
MIDNIGHT_S = DAY_START_S + partitions.DAY_S  # the end of DAY, the start of the next
DAYS_AHEAD = 2
METHOD = "/coalition.v1.ExchangeService/CreateTransfer"
RECORD = StoredResponse(METHOD, b"\x01" * 32, b"the first answer")

pytestmark = pytest.mark.postgres_only


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    databases.require_or_skip_postgres()
    with databases.migrated_postgres_database() as url:
        yield url


@pytest.fixture
def engine(postgres_database: str) -> Iterator[Engine]:
    """The module's database with no rows and no day partition: DEFAULT only."""
    engine = create_database_engine(postgres_database)
    for table in partitions.PARTITIONED_TABLES:
        partitions.drop_partitions_before(engine, table, 2**62)
    databases.empty_all_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def uow_factory(engine: Engine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine, response_key=os.urandom(32))


def day_partitions(engine: Engine, table: partitions.PartitionedTable) -> list[date]:
    return sorted(partitions._day_partitions(engine, table))


def where_rows_are(engine: Engine, table: str) -> list[str]:
    query = text(f"SELECT tableoid::regclass::text FROM {table} ORDER BY 1")
    with engine.connect() as connection:
        return list(connection.execute(query).scalars())


def record_nonce(factory: SqlUnitOfWorkFactory, nonce: str, created_s: int) -> bool:
    with factory() as uow:
        recorded = uow.requests.record_nonce("skyway", nonce, created_s)
        uow.commit()
        return recorded


def test_day_partitions_are_created_ahead_once(engine: Engine) -> None:
    created = partitions.ensure_partitions(engine, DAY_START_S * 1_000_000 + 5, DAYS_AHEAD)

    expected_days = [date(2031, 3, 14), date(2031, 3, 15), date(2031, 3, 16)]
    assert day_partitions(engine, NONCES) == expected_days
    assert day_partitions(engine, IDEMPOTENCY_RECORDS) == expected_days
    assert len(created) == 6
    assert partitions.ensure_partitions(engine, DAY_START_S * 1_000_000, DAYS_AHEAD) == []


def test_rows_land_in_their_day_partition(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    partitions.ensure_partitions(engine, DAY_START_S * 1_000_000, DAYS_AHEAD)
    record_nonce(uow_factory, "a" * 22, MIDNIGHT_S - 1)
    record_nonce(uow_factory, "b" * 22, MIDNIGHT_S)
    with uow_factory() as uow:
        uow.requests.store_response("skyway", str(uuid.uuid4()), RECORD, MIDNIGHT_S * 10**6 - 1)
        uow.commit()

    assert where_rows_are(engine, "request_nonces") == [
        "partitions.request_nonces_20310314",
        "partitions.request_nonces_20310315",
    ]
    assert where_rows_are(engine, "idempotency_records") == [
        "partitions.idempotency_records_20310314"
    ]


def test_default_catches_an_insert_no_partition_holds(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    assert record_nonce(uow_factory, "c" * 22, DAY_START_S + 60)
    assert where_rows_are(engine, "request_nonces") == ["partitions.request_nonces_default"]

    # The late scheduler cannot make that day now (its rows are in DEFAULT); it makes the
    # others, and the day's nonce still conflicts where it is.
    created = partitions.ensure_partitions(engine, DAY_START_S * 1_000_000, DAYS_AHEAD)
    assert "request_nonces_20310314" not in created
    assert "request_nonces_20310315" in created
    assert not record_nonce(uow_factory, "c" * 22, DAY_START_S + 60)


def test_a_nonce_replayed_across_midnight_is_refused(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """Signed at 23:59:59, replayed after midnight (when the next day's partition is where
    new nonces go): the replay carries the same signed created_s, and conflicts."""
    partitions.ensure_partitions(engine, DAY_START_S * 1_000_000, DAYS_AHEAD)
    nonce = "d" * 22
    assert record_nonce(uow_factory, nonce, MIDNIGHT_S - 1)
    assert record_nonce(uow_factory, "e" * 22, MIDNIGHT_S + 5)  # after midnight, accepted

    assert not record_nonce(uow_factory, nonce, MIDNIGHT_S - 1)
    assert where_rows_are(engine, "request_nonces").count("partitions.request_nonces_20310314") == 1


def test_an_idempotent_replay_across_a_boundary_answers_the_stored_response(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    partitions.ensure_partitions(engine, DAY_START_S * 1_000_000, DAYS_AHEAD)
    key = str(uuid.uuid4())
    with uow_factory() as uow:
        uow.requests.store_response("skyway", key, RECORD, MIDNIGHT_S * 1_000_000 - 1)
        uow.commit()

    with uow_factory() as uow:  # the retry, on the next day
        assert uow.requests.lock_idempotency_key("skyway", key)
        assert uow.requests.stored_response("skyway", key) == RECORD
        assert uow.requests.stored_responses("skyway", [key]) == {key: RECORD}


def test_two_calls_with_one_key_across_a_boundary_store_one_record(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """The first call stores just before midnight; the second, just after, cannot take the
    key's lock while the first runs, and once it has committed finds its record."""
    partitions.ensure_partitions(engine, DAY_START_S * 1_000_000, DAYS_AHEAD)
    key = str(uuid.uuid4())
    with uow_factory() as first, uow_factory() as second:
        assert first.requests.lock_idempotency_key("skyway", key)
        assert first.requests.stored_response("skyway", key) is None
        first.requests.store_response("skyway", key, RECORD, MIDNIGHT_S * 1_000_000 - 1)
        assert not second.requests.lock_idempotency_key("skyway", key)  # IN_PROGRESS
        first.commit()
    with uow_factory() as retry:
        assert retry.requests.lock_idempotency_key("skyway", key)
        assert retry.requests.stored_response("skyway", key) == RECORD

    assert where_rows_are(engine, "idempotency_records") == [
        "partitions.idempotency_records_20310314"
    ]


def test_a_call_whose_connection_died_before_commit_leaves_the_key_to_its_retry(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """The lost transaction's lock goes with its session, and its record with it: the retry
    (after midnight) stores the one record, in the next day's partition."""
    partitions.ensure_partitions(engine, DAY_START_S * 1_000_000, DAYS_AHEAD)
    key = str(uuid.uuid4())
    # The dead session's rollback fails too, as the hub's would.
    with contextlib.suppress(DBAPIError), uow_factory() as lost:
        assert lost.requests.lock_idempotency_key("skyway", key)
        lost.requests.store_response("skyway", key, RECORD, MIDNIGHT_S * 1_000_000 - 1)
        pid = lost.session.scalar(text("SELECT pg_backend_pid()"))
        with engine.begin() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    with uow_factory() as retry:
        assert retry.requests.lock_idempotency_key("skyway", key)
        assert retry.requests.stored_response("skyway", key) is None
        retry.requests.store_response("skyway", key, RECORD, MIDNIGHT_S * 1_000_000 + 1)
        retry.commit()

    assert where_rows_are(engine, "idempotency_records") == [
        "partitions.idempotency_records_20310315"
    ]


def test_a_partition_is_dropped_only_once_all_it_can_hold_is_expired(engine: Engine) -> None:
    partitions.ensure_partitions(engine, DAY_START_S * 1_000_000, DAYS_AHEAD)
    nonces_expire_us = (MIDNIGHT_S + limits.NONCE_RETENTION_S) * 1_000_000
    records_expire_us = (MIDNIGHT_S + limits.IDEMPOTENCY_RETENTION_S) * 1_000_000

    assert partitions.drop_expired_partitions(engine, nonces_expire_us - 1) == []
    assert partitions.drop_expired_partitions(engine, nonces_expire_us) == [
        "request_nonces_20310314"
    ]
    assert day_partitions(engine, NONCES)[0] == date(2031, 3, 15)
    assert partitions.drop_expired_partitions(engine, records_expire_us - 1) == [
        "request_nonces_20310315",
        "request_nonces_20310316",
    ]
    assert partitions.drop_expired_partitions(engine, records_expire_us) == [
        "idempotency_records_20310314"
    ]
    assert day_partitions(engine, IDEMPOTENCY_RECORDS)[0] == date(2031, 3, 15)


def test_purge_drops_expired_days_and_deletes_expired_default_rows(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    record_nonce(uow_factory, "f" * 22, DAY_START_S - 100)  # into DEFAULT: no day yet
    partitions.ensure_partitions(engine, DAY_START_S * 1_000_000, DAYS_AHEAD)
    record_nonce(uow_factory, "g" * 22, DAY_START_S + 100)  # into its day
    now_s = MIDNIGHT_S + limits.NONCE_RETENTION_S

    with uow_factory() as uow:
        removed = uow.requests.purge(
            nonces_before_s=now_s - limits.NONCE_RETENTION_S,
            responses_before_us=(now_s - limits.IDEMPOTENCY_RETENTION_S) * 1_000_000,
        )
        uow.commit()

    assert removed == 1  # the DEFAULT row; the dropped day's are not counted
    assert where_rows_are(engine, "request_nonces") == []
    # The purge made the days ahead of the cutoff's day too.
    assert day_partitions(engine, NONCES)[0] == date(2031, 3, 15)
    assert date(2031, 3, 15 + partitions.PARTITION_DAYS_AHEAD) in day_partitions(engine, NONCES)


# --- SQLite keeps its tables and its DELETE ---


def test_purge_on_sqlite_deletes_expired_rows(sqlite_template: Path, tmp_path: Path) -> None:
    engine = create_database_engine(databases.fresh_sqlite_copy(sqlite_template, tmp_path))
    factory = SqlUnitOfWorkFactory(engine, response_key=os.urandom(32))
    record_nonce(factory, "h" * 22, 1_000)
    record_nonce(factory, "i" * 22, 2_000)
    with factory() as uow:
        uow.requests.store_response("skyway", str(uuid.uuid4()), RECORD, 1_000 * 10**6)
        uow.requests.purge(nonces_before_s=1_500, responses_before_us=1_500 * 10**6)
        uow.commit()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT nonce FROM request_nonces")).scalars().all() == [
            "i" * 22
        ]
        assert connection.execute(text("SELECT count(*) FROM idempotency_records")).scalar() == 0
    engine.dispose()


# --- migration 0008 converts an installation with data, and back ---


@pytest.fixture
def engine_at_0007() -> Iterator[Engine]:
    databases.require_or_skip_postgres()
    name = f"coalition_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(databases.postgres_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(databases.postgres_admin_url()).set(database=name)
    engine = create_database_engine(url.render_as_string(hide_password=False))
    try:
        upgrade(engine, "0007")
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def old_rows(engine: Engine, now_s: int) -> None:
    """Rows as the plain tables held them: fresh, and long past retention."""
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO request_nonces VALUES (:p, :n, :c)"),
            [
                {"p": "skyway", "n": "j" * 22, "c": now_s - 10},
                {"p": "skyway", "n": "k" * 22, "c": now_s - 40 * partitions.DAY_S},
            ],
        )
        connection.execute(
            text("INSERT INTO idempotency_records VALUES (:p, :k, :m, :h, :r, :c)"),
            [
                {"p": "skyway", "k": key, "m": METHOD, "h": b"\x02" * 32, "r": b"r", "c": at_us}
                for key, at_us in (
                    ("key-fresh", now_s * 10**6),
                    ("key-3-days", (now_s - 3 * partitions.DAY_S) * 10**6),
                    ("key-40-days", (now_s - 40 * partitions.DAY_S) * 10**6),
                )
            ],
        )


def rows(engine: Engine, table: str) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return sorted(tuple(r) for r in connection.execute(text(f"SELECT * FROM {table}")))


def test_migration_0008_partitions_existing_tables_with_their_rows(engine_at_0007: Engine) -> None:
    now_s = int(datetime.now(UTC).timestamp())
    old_rows(engine_at_0007, now_s)
    before = {
        table: rows(engine_at_0007, table) for table in ("request_nonces", "idempotency_records")
    }

    upgrade(engine_at_0007)

    assert {table: rows(engine_at_0007, table) for table in before} == before
    today = datetime.fromtimestamp(now_s, UTC).date()
    assert today in day_partitions(engine_at_0007, NONCES)
    assert (
        len(day_partitions(engine_at_0007, IDEMPOTENCY_RECORDS))
        >= 4 + partitions.PARTITION_DAYS_AHEAD
    )
    places = where_rows_are(engine_at_0007, "idempotency_records")
    assert places.count("partitions.idempotency_records_default") == 1  # the 40-day-old one
    # The converted table keeps refusing a replay.
    factory = SqlUnitOfWorkFactory(engine_at_0007)
    assert not record_nonce(factory, "j" * 22, now_s - 10)


def test_migration_0008_downgrades_to_the_plain_tables(engine_at_0007: Engine) -> None:
    now_s = int(datetime.now(UTC).timestamp())
    old_rows(engine_at_0007, now_s)
    before = {
        table: rows(engine_at_0007, table) for table in ("request_nonces", "idempotency_records")
    }
    upgrade(engine_at_0007)

    config = alembic_config(engine_at_0007)
    with engine_at_0007.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")

    assert {table: rows(engine_at_0007, table) for table in before} == before
    with engine_at_0007.connect() as connection:
        partitioned = connection.execute(text("SELECT count(*) FROM pg_partitioned_table")).scalar()
        schema = connection.execute(
            text("SELECT count(*) FROM pg_namespace WHERE nspname = 'partitions'")
        ).scalar()
    assert (partitioned, schema) == (0, 0)
    upgrade(engine_at_0007)  # and up again
    assert {table: rows(engine_at_0007, table) for table in before} == before
