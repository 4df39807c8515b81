"""Many rows into one table, in the session's transaction: COPY on PostgreSQL, else executemany.

An executemany of a few thousand rows costs a hundred microseconds a row through the driver;
COPY streams them for a few. Small sets keep the plain INSERT, whose round trip is cheaper
than setting up a COPY.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

# Below this many rows a plain INSERT is as fast as COPY.
COPY_ROWS_MIN = 16


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, object]]) -> None:
    """Inserts `rows` (each with the same keys) into `table`; no defaults are applied."""
    if not rows:
        return
    if len(rows) < COPY_ROWS_MIN or session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), list(rows))
        return
    columns = list(rows[0])
    driver = session.connection().connection.driver_connection
    assert driver is not None, "a live PostgreSQL connection"
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])
