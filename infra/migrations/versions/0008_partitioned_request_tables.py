"""request_nonces and idempotency_records partitioned by day on PostgreSQL; SQLite unchanged

Each table is renamed aside, made again partitioned by RANGE over its creation instant with
its partition key in the primary key, given a DEFAULT partition and one partition per UTC day
from the oldest unexpired row's day (at most its retention back) to PARTITION_DAYS_AHEAD days
ahead; the rows are copied over and the old table dropped. Rows already past retention land
in DEFAULT, where the purge deletes them. The hub should be stopped while this runs: the
copy holds the tables. Names, bounds and retentions are written out here rather than
imported, so this revision does what it did when it was written (infra/SCALING.md).

Downgrade makes the plain tables again with their old keys; of nonces spent twice with
different signed instants (which the partitioned key allows) the latest is kept.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-14
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SCHEMA = "partitions"
PARTITION_DAYS_AHEAD = 7
DAY_S = 86_400


# A NamedTuple, not a dataclass: Alembic loads revisions outside sys.modules.
class _Table(NamedTuple):
    name: str
    columns: str
    column_names: str
    old_key: str
    column: str
    units_per_s: int
    retention_s: int

    @property
    def new_key(self) -> str:
        return f"{self.old_key}, {self.column}"

    @property
    def index_name(self) -> str:
        return f"ix_{self.name}_{self.column}"


TABLES = (
    _Table(
        "request_nonces",
        "partner_id VARCHAR(32) NOT NULL, nonce VARCHAR(22) NOT NULL, created_s BIGINT NOT NULL",
        "partner_id, nonce, created_s",
        "partner_id, nonce",
        "created_s",
        1,
        360,
    ),
    _Table(
        "idempotency_records",
        "partner_id VARCHAR(32) NOT NULL, idempotency_key VARCHAR(36) NOT NULL,"
        " method VARCHAR(200) NOT NULL, request_sha256 BYTEA NOT NULL, response BYTEA NOT NULL,"
        " created_at_us BIGINT NOT NULL",
        "partner_id, idempotency_key, method, request_sha256, response, created_at_us",
        "partner_id, idempotency_key",
        "created_at_us",
        1_000_000,
        7 * DAY_S,
    ),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for table in TABLES:
        _set_aside(table, "unpartitioned")
        op.execute(
            f"CREATE TABLE {table.name} ({table.columns},"
            f" CONSTRAINT pk_{table.name} PRIMARY KEY ({table.new_key}))"
            f" PARTITION BY RANGE ({table.column})"
        )
        op.execute(f"CREATE INDEX {table.index_name} ON {table.name} ({table.column})")
        op.execute(f"CREATE TABLE {SCHEMA}.{table.name}_default PARTITION OF {table.name} DEFAULT")
        for day in _days(table):
            low = _day_start_s(day) * table.units_per_s
            high = low + DAY_S * table.units_per_s
            op.execute(
                f"CREATE TABLE {SCHEMA}.{table.name}_{day:%Y%m%d} PARTITION OF {table.name}"
                f" FOR VALUES FROM ({low}) TO ({high})"
            )
        _copy_and_drop(table, "unpartitioned", "")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        _set_aside(table, "partitioned")
        op.execute(
            f"CREATE TABLE {table.name} ({table.columns},"
            f" CONSTRAINT pk_{table.name} PRIMARY KEY ({table.old_key}))"
        )
        op.execute(f"CREATE INDEX {table.index_name} ON {table.name} ({table.column})")
        latest_first = f" ORDER BY {table.old_key}, {table.column} DESC"
        _copy_and_drop(table, "partitioned", f"DISTINCT ON ({table.old_key}) ", latest_first)
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}")


def _set_aside(table: _Table, suffix: str) -> None:
    aside = f"{table.name}_{suffix}"
    op.execute(f"ALTER TABLE {table.name} RENAME TO {aside}")
    op.execute(f"ALTER TABLE {aside} RENAME CONSTRAINT pk_{table.name} TO pk_{aside}")
    op.execute(f"ALTER INDEX {table.index_name} RENAME TO {table.index_name}_{suffix}")


def _copy_and_drop(table: _Table, suffix: str, distinct: str, order: str = "") -> None:
    aside = f"{table.name}_{suffix}"
    # Every name here is a constant of this revision; no value comes from outside.
    selected = f"SELECT {distinct}{table.column_names} FROM {aside}{order}"  # noqa: S608
    op.execute(f"INSERT INTO {table.name} ({table.column_names}) {selected}")
    op.execute(f"DROP TABLE {aside}")


def _days(table: _Table) -> list[date]:
    """Today to the days ahead, from the oldest row's day if it is not yet expired."""
    now_s = int(time.time())
    query = f"SELECT min({table.column}) FROM {table.name}_unpartitioned"  # noqa: S608
    oldest = op.get_bind().exec_driver_sql(query).scalar()
    first_s = now_s
    if oldest is not None:
        first_s = min(now_s, max(int(oldest) // table.units_per_s, now_s - table.retention_s))
    first = datetime.fromtimestamp(first_s, UTC).date()
    today = datetime.fromtimestamp(now_s, UTC).date()
    count = (today - first).days + PARTITION_DAYS_AHEAD + 1
    return [first + timedelta(days=offset) for offset in range(count)]


def _day_start_s(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
