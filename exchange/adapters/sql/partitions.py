"""Daily partitions of the tables that age (PostgreSQL): created ahead, dropped once expired.

`request_nonces` and `idempotency_records` are partitioned by RANGE over their creation
instant, one partition per UTC day, plus a DEFAULT partition so an insert never fails when
no day partition was created in time (infra/SCALING.md, "Tables that age"). Purging them is
then a DROP TABLE per expired day instead of a DELETE of millions of rows; only rows that
landed in DEFAULT are still deleted one by one.

Partitions live in their own schema, `partitions`, so the application schema lists only the
tables the models describe. A day partition is made as a plain table and then attached:
ATTACH takes SHARE UPDATE EXCLUSIVE on the parent, which does not block the inserts every
request makes, where CREATE TABLE ... PARTITION OF takes ACCESS EXCLUSIVE. DROP needs ACCESS
EXCLUSIVE on the parent whatever we do, so every step waits at most PARTITION_LOCK_WAIT_MS_MAX
for its locks and otherwise gives way to the traffic, to be tried again at the next purge.

A day is never attached while DEFAULT holds rows of that day (PostgreSQL refuses it): a given
instant is thus always routed to the place its earlier rows went, which keeps a replayed
nonce conflicting with the first one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from exchange.domain import limits

log = logging.getLogger(__name__)

PARTITION_SCHEMA = "partitions"
# Days created ahead of today: a scheduler stopped for less than this misses none.
PARTITION_DAYS_AHEAD = 7
PARTITION_LOCK_WAIT_MS_MAX = 500
DAY_S = 86_400
# SQLSTATEs of a step that gives way: lock not available, a DEFAULT row in the day's range,
# a table made meanwhile by another process.
YIELDING_SQLSTATES = frozenset({"55P03", "23514", "42P07"})
_DAY_SUFFIX = re.compile(r"_(\d{8})$")


@dataclass(frozen=True)
class PartitionedTable:
    """A table partitioned by RANGE over `column`, `units_per_s` column units to a second."""

    name: str
    column: str
    units_per_s: int
    retention_s: int

    def bounds(self, day: date) -> tuple[int, int]:
        start_s = _day_start_s(day)
        return start_s * self.units_per_s, (start_s + DAY_S) * self.units_per_s

    def partition(self, day: date) -> str:
        return f"{self.name}_{day:%Y%m%d}"

    @property
    def default_partition(self) -> str:
        return f"{self.name}_default"


# The signed `cx-created` second of a request; its primary key includes it (a replay carries
# the very same signed value, so it still conflicts).
NONCES = PartitionedTable("request_nonces", "created_s", 1, limits.NONCE_RETENTION_S)
# The hub's instant of storing; uniqueness of a key comes from the per-key advisory lock.
IDEMPOTENCY_RECORDS = PartitionedTable(
    "idempotency_records", "created_at_us", 1_000_000, limits.IDEMPOTENCY_RETENTION_S
)
PARTITIONED_TABLES = (NONCES, IDEMPOTENCY_RECORDS)

Bind = Engine | Connection


def day_of_us(instant_us: int) -> date:
    return datetime.fromtimestamp(instant_us // 1_000_000, UTC).date()


def _day_start_s(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def default_partition_ddl(table: PartitionedTable) -> tuple[str, str]:
    """The statements making the partitions' schema and `table`'s DEFAULT partition."""
    return (
        f"CREATE SCHEMA IF NOT EXISTS {PARTITION_SCHEMA}",
        f"CREATE TABLE IF NOT EXISTS {PARTITION_SCHEMA}.{table.default_partition}"
        f" PARTITION OF {table.name} DEFAULT",
    )


def ensure_partitions(bind: Bind, now_us: int, days_ahead: int = PARTITION_DAYS_AHEAD) -> list[str]:
    """Creates the DEFAULT partition and the day partitions of today..today+days_ahead that
    are missing; returns the names created. Idempotent; a day that cannot be made now (a
    lock not free, rows of that day already in DEFAULT) is left for the next call."""
    today = day_of_us(now_us)
    created: list[str] = []
    for table in PARTITIONED_TABLES:
        _yielding(bind, *default_partition_ddl(table))
        existing = set(_day_partitions(bind, table))
        for offset in range(days_ahead + 1):
            day = today + timedelta(days=offset)
            if day not in existing and _attach_day(bind, table, day):
                created.append(table.partition(day))
    return created


def drop_expired_partitions(bind: Bind, now_us: int) -> list[str]:
    """Drops the day partitions of both tables whose every row is past its retention."""
    now_s = now_us // 1_000_000
    dropped: list[str] = []
    for table in PARTITIONED_TABLES:
        before = (now_s - table.retention_s) * table.units_per_s
        dropped += drop_partitions_before(bind, table, before)
    return dropped


def drop_partitions_before(bind: Bind, table: PartitionedTable, before: int) -> list[str]:
    """Drops each day partition that can only hold values below `before` (its upper bound is
    at most `before`): a partition goes only once every row it can hold is expired."""
    dropped: list[str] = []
    for day, name in sorted(_day_partitions(bind, table).items()):
        if table.bounds(day)[1] > before:
            continue
        if _yielding(bind, f"DROP TABLE IF EXISTS {PARTITION_SCHEMA}.{name}"):
            dropped.append(name)
    return dropped


def delete_expired_default_rows(bind: Bind, table: PartitionedTable, before: int) -> int:
    """Deletes the rows below `before` that DEFAULT caught (the scheduler was late)."""
    # Names from the constants above, never from input; the cutoff is a bound parameter.
    default = f"{PARTITION_SCHEMA}.{table.default_partition}"
    statement = text(f"DELETE FROM {default} WHERE {table.column} < :before")  # noqa: S608
    with _step(bind) as connection:
        return int(connection.execute(statement, {"before": before}).rowcount)


def purge_expired(bind: Bind, *, nonces_before_s: int, responses_before_us: int) -> int:
    """The purge on PostgreSQL: expired day partitions dropped, expired DEFAULT rows deleted,
    and the days ahead of the nonce cutoff's day made. Returns the rows deleted from DEFAULT
    (a dropped partition's rows are not counted: counting them would cost a scan)."""
    ensure_partitions(bind, nonces_before_s * 1_000_000, PARTITION_DAYS_AHEAD + 1)
    removed = 0
    for table, before in ((NONCES, nonces_before_s), (IDEMPOTENCY_RECORDS, responses_before_us)):
        dropped = drop_partitions_before(bind, table, before)
        if dropped:
            log.info("dropped expired partitions %s", ", ".join(dropped))
        removed += delete_expired_default_rows(bind, table, before)
    return removed


def _day_partitions(bind: Bind, table: PartitionedTable) -> dict[date, str]:
    query = text(
        "SELECT c.relname FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE i.inhparent = CAST(:parent AS regclass) AND n.nspname = :schema"
    )
    with _step(bind) as connection:
        names = connection.execute(
            query, {"parent": table.name, "schema": PARTITION_SCHEMA}
        ).scalars()
        found: dict[date, str] = {}
        for name in names:
            matched = _DAY_SUFFIX.search(name)
            if matched and name == f"{table.name}{matched.group(0)}":
                found[datetime.strptime(matched.group(1), "%Y%m%d").date()] = name
        return found


def _attach_day(bind: Bind, table: PartitionedTable, day: date) -> bool:
    """Makes the day's table and attaches it; PostgreSQL builds its indexes (empty) and
    checks that DEFAULT holds no row of the day."""
    name = f"{PARTITION_SCHEMA}.{table.partition(day)}"
    low, high = table.bounds(day)
    return _yielding(
        bind,
        f"CREATE TABLE {name} (LIKE {table.name} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
        f"ALTER TABLE {table.name} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})",
    )


def _yielding(bind: Bind, *statements: str) -> bool:
    """Runs `statements` as one step with a bounded lock wait; False if the step gave way.

    On a caller's Connection the step is a savepoint, and the lock wait bound stays set
    until the caller's transaction ends."""
    try:
        with _step(bind) as connection, connection.begin_nested():
            connection.execute(text(f"SET LOCAL lock_timeout = {PARTITION_LOCK_WAIT_MS_MAX}"))
            for statement in statements:
                connection.execute(text(statement))
        return True
    except DBAPIError as error:
        sqlstate = getattr(error.orig, "sqlstate", None)
        if sqlstate not in YIELDING_SQLSTATES:
            raise
        log.info("partition step deferred (SQLSTATE %s): %s", sqlstate, statements[-1])
        return False


@contextmanager
def _step(bind: Bind) -> Iterator[Connection]:
    """A step of its own transaction (an Engine), or within the caller's (a Connection)."""
    if isinstance(bind, Connection):
        yield bind
        return
    with bind.begin() as connection:
        yield connection
