"""Statements built once, and many rows into one table: COPY on PostgreSQL, else executemany.

An executemany of a few thousand rows costs a hundred microseconds a row through the driver;
COPY streams them for a few. Small sets keep the plain INSERT, whose round trip is cheaper
than setting up a COPY.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Insert, Row, Select, Table, bindparam, insert, select
from sqlalchemy.orm import Session

# Below this many rows a plain INSERT is as fast as COPY.
COPY_ROWS_MIN = 16


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, object]]) -> None:
    """Inserts `rows` (each with the same keys) into `table`; no defaults are applied."""
    if not rows:
        return
    if len(rows) < COPY_ROWS_MIN or session.get_bind().dialect.name != "postgresql":
        session.execute(insert_statement(table), list(rows))
        return
    columns = list(rows[0])
    driver = session.connection().connection.driver_connection
    assert driver is not None, "a live PostgreSQL connection"
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])


@functools.cache
def insert_statement(table: Table) -> Insert:
    """One INSERT per table, built once: building and cache-keying a statement on every call
    cost more CPU than running it."""
    return insert(table)


@functools.cache
def _by_key(table: Table, for_update: bool) -> Select[Any]:
    keys = [column == bindparam(column.key) for column in table.primary_key.columns]
    statement = select(table).where(*keys)
    return statement.with_for_update() if for_update else statement


def fetch_by_key(
    session: Session, table: Table, *, for_update: bool = False, **key: object
) -> Row[Any] | None:
    """The row with this primary key (Core, read afresh), optionally locked until commit."""
    return session.execute(_by_key(table, for_update), key).first()
