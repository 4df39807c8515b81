"""A program's own SQLite store: its members, the feed events it applied, and points in flight."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from partners.programs.transfer_store import (
    TRANSFER_SCHEMA,
    OutboxEntry,
    OutgoingState,
    OutgoingTransfer,
    TransferRecords,
)

BUSY_TIMEOUT_S = 5.0
SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS members (
        member_number TEXT PRIMARY KEY,
        ppid TEXT NOT NULL UNIQUE,
        points INTEGER NOT NULL DEFAULT 0 CHECK (points >= 0),
        tier_code TEXT,
        tier_expires_at TEXT
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS processed_events (
        event_id TEXT PRIMARY KEY,
        sequence INTEGER NOT NULL,
        processed_at TEXT NOT NULL
    )
    """,
    *TRANSFER_SCHEMA,
)
MEMBER_COLUMNS = "member_number, ppid, points, tier_code, tier_expires_at"


@dataclass(frozen=True)
class Member:
    member_number: str
    ppid: str
    points: int
    tier_code: str | None
    tier_expires_at: datetime | None


def _member(row: tuple[str, str, int, str | None, str | None] | None) -> Member | None:
    if row is None:
        return None
    number, ppid, points, tier_code, expires = row
    expires_at = datetime.fromisoformat(expires) if expires is not None else None
    return Member(number, ppid, points, tier_code, expires_at)


def _utc_text(moment: datetime) -> str:
    """Stored as UTC ISO 8601, so text order is time order and every row reads back aware."""
    if moment.utcoffset() is None:
        raise ValueError("times must be time-zone aware")
    return moment.astimezone(UTC).isoformat()


class StoreTransaction(TransferRecords):
    """One open transaction; ProgramStore commits it only if the block ends cleanly."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def member(self, member_number: str) -> Member | None:
        cursor = self._connection.execute(
            f"SELECT {MEMBER_COLUMNS} FROM members WHERE member_number = ?",  # noqa: S608
            (member_number,),
        )
        return _member(cursor.fetchone())

    def member_by_ppid(self, ppid: str) -> Member | None:
        cursor = self._connection.execute(
            f"SELECT {MEMBER_COLUMNS} FROM members WHERE ppid = ?",  # noqa: S608
            (ppid,),
        )
        return _member(cursor.fetchone())

    def add_member(self, member_number: str, ppid: str, points: int) -> None:
        self._connection.execute(
            "INSERT INTO members (member_number, ppid, points) VALUES (?, ?, ?)",
            (member_number, ppid, points),
        )

    def credit(self, member_number: str, points: int) -> None:
        assert points >= 0, "a credit adds points"
        self._connection.execute(
            "UPDATE members SET points = points + ? WHERE member_number = ?",
            (points, member_number),
        )

    def debit(self, member_number: str, points: int) -> bool:
        """Takes points if the balance allows; False (and nothing taken) otherwise."""
        assert points >= 0, "a debit takes points"
        cursor = self._connection.execute(
            "UPDATE members SET points = points - ? WHERE member_number = ? AND points >= ?",
            (points, member_number, points),
        )
        return cursor.rowcount == 1

    def set_tier(self, member_number: str, tier_code: str, expires_at: datetime) -> None:
        self._connection.execute(
            "UPDATE members SET tier_code = ?, tier_expires_at = ? WHERE member_number = ?",
            (tier_code, _utc_text(expires_at), member_number),
        )

    def delete_member(self, member_number: str) -> None:
        self._connection.execute("DELETE FROM members WHERE member_number = ?", (member_number,))

    def event_recorded(self, event_id: str) -> bool:
        cursor = self._connection.execute(
            "SELECT 1 FROM processed_events WHERE event_id = ?", (event_id,)
        )
        return cursor.fetchone() is not None

    def record_event(self, event_id: str, sequence: int) -> bool:
        """Records an event as processed; False if it already was (then apply nothing)."""
        cursor = self._connection.execute(
            "INSERT INTO processed_events (event_id, sequence, processed_at) VALUES (?, ?, ?)"
            " ON CONFLICT (event_id) DO NOTHING",
            (event_id, sequence, _utc_text(datetime.now(UTC))),
        )
        return cursor.rowcount == 1


def _is_in_memory(path: str) -> bool:
    return path in {"", ":memory:"} or path.startswith("file::memory:") or "mode=memory" in path


class ProgramStore:
    """A file-backed store; every transaction opens its own connection, so threads may share it.

    An in-memory database is refused: each connection would see a different, empty database.
    """

    def __init__(self, path: str | Path) -> None:
        if _is_in_memory(str(path)):
            raise ValueError("a program store needs a database file, not ':memory:'")
        self.path = str(path)
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        try:
            # WAL lets callers read members while the feed thread applies events.
            connection.execute("PRAGMA journal_mode = WAL")
            for statement in SCHEMA:
                connection.execute(statement)
            connection.commit()
        finally:
            connection.close()

    @contextmanager
    def transaction(self, *, writes: bool = True) -> Iterator[StoreTransaction]:
        """Commits when the block ends cleanly, rolls back otherwise."""
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            # IMMEDIATE takes the write lock up front, so a read-then-write cannot be overtaken.
            connection.execute("BEGIN IMMEDIATE" if writes else "BEGIN")
            try:
                yield StoreTransaction(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            connection.close()

    def member(self, member_number: str) -> Member | None:
        with self.transaction(writes=False) as transaction:
            return transaction.member(member_number)

    def event_recorded(self, event_id: str) -> bool:
        with self.transaction(writes=False) as transaction:
            return transaction.event_recorded(event_id)

    def outgoing(self, idempotency_key: str) -> OutgoingTransfer | None:
        with self.transaction(writes=False) as transaction:
            return transaction.outgoing(idempotency_key)

    def outgoing_by_transfer(self, transfer_id: str) -> OutgoingTransfer | None:
        with self.transaction(writes=False) as transaction:
            return transaction.outgoing_by_transfer(transfer_id)

    def outgoing_in_state(self, state: OutgoingState) -> list[OutgoingTransfer]:
        with self.transaction(writes=False) as transaction:
            return transaction.outgoing_in_state(state)

    def outgoing_of(self, member_number: str) -> list[OutgoingTransfer]:
        with self.transaction(writes=False) as transaction:
            return transaction.outgoing_of(member_number)

    def outbox(self, *, unsent_only: bool = False) -> list[OutboxEntry]:
        with self.transaction(writes=False) as transaction:
            return transaction.outbox(unsent_only=unsent_only)
