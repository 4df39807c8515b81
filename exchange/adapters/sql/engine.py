"""Engines with explicit pool sizes, isolation and SQLite locking, and transaction retries."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import NullPool

from exchange.domain import limits

log = logging.getLogger(__name__)

POSTGRES_POOL_SIZE = 16
POSTGRES_POOL_TIMEOUT_S = 10
SQLITE_BUSY_TIMEOUT_MS = 10_000
# SQLSTATEs that mean "run the transaction again": serialization failure, deadlock.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
# SQLSTATEs of a server that ended the session: admin shutdown, crash shutdown, cannot connect
# now; class 08 (connection exceptions) is matched by its prefix.
CONNECTION_LOST_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
CONNECTION_RETRY_BACKOFF_S_MAX = 0.2


class CommitOutcomeUnknown(Exception):
    """The connection broke during COMMIT: the transaction may or may not have committed.

    Never retried in place; the caller is told UNAVAILABLE and retries with the same
    idempotency key, which returns the stored answer if the first COMMIT did land.
    """


T = TypeVar("T")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_database_engine(url: str, pool_size: int = POSTGRES_POOL_SIZE) -> Engine:
    if is_sqlite(url):
        return _create_sqlite_engine(url)
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=POSTGRES_POOL_TIMEOUT_S,
        pool_pre_ping=True,
        isolation_level="READ COMMITTED",
        # pg_stat_activity tells the hub processes sharing a database apart.
        connect_args={"application_name": hub_connection_name(os.getpid())},
    )


def hub_connection_name(pid: int) -> str:
    return f"coalition-hub-{pid}"


def _create_sqlite_engine(url: str) -> Engine:
    # NullPool: a connection per unit of work; SQLite connections are cheap and this keeps
    # threads from sharing one.
    engine = create_engine(url, poolclass=NullPool, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take control of transactions from the sqlite3 module so BEGIN IMMEDIATE below is
        # the only BEGIN: writers queue for the lock up front instead of failing on upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def is_retryable(error: BaseException) -> bool:
    if not isinstance(error, DBAPIError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(error.orig)


def is_connection_lost(error: BaseException) -> bool:
    """The database went away (or cannot be reached now): not a bug, and a retry may work."""
    if isinstance(error, CommitOutcomeUnknown | PoolTimeoutError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error.orig, psycopg.OperationalError):
        return False  # SQLite's errors (a locked file, a missing table) are never this
    sqlstate = error.orig.sqlstate
    if sqlstate is None:
        return True  # psycopg cannot connect at all: no server answered to give a SQLSTATE
    return sqlstate.startswith("08") or sqlstate in CONNECTION_LOST_SQLSTATES


def run_with_retries(work: Callable[[], T]) -> T:
    """Runs one whole transaction again on serialization failures and deadlocks, and on a
    lost connection when nothing was committed (the pool has discarded the broken one)."""
    for attempt in range(1, limits.TRANSACTION_ATTEMPTS_MAX + 1):
        try:
            return work()
        except DBAPIError as error:
            last = attempt == limits.TRANSACTION_ATTEMPTS_MAX
            if is_retryable(error) and not last:
                backoff_s = limits.TRANSACTION_RETRY_BACKOFF_S_MAX * attempt
            elif is_connection_lost(error) and not last:
                backoff_s = CONNECTION_RETRY_BACKOFF_S_MAX * attempt
            else:
                raise
            log.info(
                "retrying transaction after %s (attempt %s)", type(error.orig).__name__, attempt
            )
            time.sleep(random.uniform(0, backoff_s))
    raise AssertionError("unreachable: the loop returns or raises")
