"""A program's records of points in flight: transfers it started, and answers it owes the hub.

`outgoing` holds every transfer (or reversal) this program started, from the local debit until
the hub's outcome; `outbox` holds each confirmation or rejection it owes the hub, with the
idempotency key every retry must reuse. Both change only inside a StoreTransaction, together
with the member balances they explain.
"""

from __future__ import annotations

import enum
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

TRANSFER_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS outgoing (
        idempotency_key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        member_number TEXT NOT NULL,
        destination_partner_id TEXT NOT NULL,
        points INTEGER NOT NULL CHECK (points > 0),
        destination_points INTEGER NOT NULL,
        quote_id TEXT UNIQUE,
        original_transfer_id TEXT,
        transfer_id TEXT UNIQUE,
        state TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS outbox (
        transfer_id TEXT PRIMARY KEY,
        action TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        idempotency_key TEXT NOT NULL UNIQUE,
        member_number TEXT,
        points_delta INTEGER NOT NULL DEFAULT 0,
        sent INTEGER NOT NULL DEFAULT 0,
        outcome TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    )
    """,
    # An outcome the feed delivered before the program recorded which transfer its CreateTransfer
    # started (a crash between the two): the row takes it once the transfer id is known.
    """
    CREATE TABLE IF NOT EXISTS early_outcomes (
        transfer_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    )
    """,
)
OUTGOING_COLUMNS = (
    "idempotency_key, kind, member_number, destination_partner_id, points, destination_points,"
    " quote_id, original_transfer_id, transfer_id, state, detail"
)
OUTBOX_COLUMNS = (
    "transfer_id, action, reason, idempotency_key, member_number, points_delta, sent, outcome"
)


class OutgoingKind(enum.Enum):
    TRANSFER = "transfer"
    REVERSAL = "reversal"


class OutgoingState(enum.Enum):
    PENDING = "pending"  # debited here; the hub has not (knowingly) started it yet
    STARTED = "started"  # the hub holds it; waiting for the destination
    COMPLETED = "completed"
    VOIDED = "voided"  # rejected or timed out at the hub; refunded here
    REFUSED = "refused"  # the hub refused to start it; refunded here


RESOLVED_STATES = frozenset({OutgoingState.COMPLETED, OutgoingState.VOIDED})


class OutboxAction(enum.Enum):
    CONFIRM = "confirm"
    REJECT = "reject"


class OutboxOutcome(enum.Enum):
    UNSENT = ""
    ACCEPTED = "accepted"  # the hub took the answer
    RESOLVED_FIRST = "resolved_first"  # the hub had voided the transfer already; undone here


@dataclass(frozen=True)
class OutgoingTransfer:
    idempotency_key: str
    kind: OutgoingKind
    member_number: str
    destination_partner_id: str
    # Source points debited here (for a reversal: the points that come back).
    points: int
    destination_points: int
    quote_id: str | None
    original_transfer_id: str | None
    transfer_id: str | None
    state: OutgoingState
    detail: str = ""


@dataclass(frozen=True)
class OutboxEntry:
    transfer_id: str
    action: OutboxAction
    reason: str
    idempotency_key: str
    # Whose balance the applied request changed, and by how much (+credit, -debit): undone if
    # the hub voided the transfer before the confirmation arrived.
    member_number: str | None
    points_delta: int
    sent: bool = False
    outcome: OutboxOutcome = OutboxOutcome.UNSENT


OutgoingRow = tuple[str, str, str, str, int, int, str | None, str | None, str | None, str, str]
OutboxRow = tuple[str, str, str, str, str | None, int, int, str]


def _outgoing(row: OutgoingRow) -> OutgoingTransfer:
    # Columns in OUTGOING_COLUMNS order: only kind (1) and state (9) need converting.
    return OutgoingTransfer(row[0], OutgoingKind(row[1]), *row[2:9], OutgoingState(row[9]), row[10])


def _outbox(row: OutboxRow) -> OutboxEntry:
    transfer_id, action, reason, key, member, delta, sent, outcome = row
    return OutboxEntry(
        transfer_id,
        OutboxAction(action),
        reason,
        key,
        member,
        delta,
        bool(sent),
        OutboxOutcome(outcome),
    )


def _now_text() -> str:
    return datetime.now(UTC).isoformat()


class TransferRecords:
    """The outgoing and outbox half of a StoreTransaction."""

    _connection: sqlite3.Connection

    def add_outgoing(self, transfer: OutgoingTransfer) -> None:
        self._connection.execute(
            f"INSERT INTO outgoing ({OUTGOING_COLUMNS}, created_at)"  # noqa: S608
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                transfer.idempotency_key,
                transfer.kind.value,
                transfer.member_number,
                transfer.destination_partner_id,
                transfer.points,
                transfer.destination_points,
                transfer.quote_id,
                transfer.original_transfer_id,
                transfer.transfer_id,
                transfer.state.value,
                transfer.detail,
                _now_text(),
            ),
        )

    def _outgoing_where(self, condition: str, value: str) -> list[OutgoingTransfer]:
        cursor = self._connection.execute(
            f"SELECT {OUTGOING_COLUMNS} FROM outgoing WHERE {condition} ORDER BY rowid",  # noqa: S608
            (value,),
        )
        return [_outgoing(row) for row in cursor.fetchall()]

    def outgoing(self, idempotency_key: str) -> OutgoingTransfer | None:
        found = self._outgoing_where("idempotency_key = ?", idempotency_key)
        return found[0] if found else None

    def outgoing_by_transfer(self, transfer_id: str) -> OutgoingTransfer | None:
        found = self._outgoing_where("transfer_id = ?", transfer_id)
        return found[0] if found else None

    def outgoing_in_state(self, state: OutgoingState) -> list[OutgoingTransfer]:
        return self._outgoing_where("state = ?", state.value)

    def outgoing_of(self, member_number: str) -> list[OutgoingTransfer]:
        return self._outgoing_where("member_number = ?", member_number)

    def start_outgoing(self, idempotency_key: str, transfer_id: str) -> None:
        """Records the hub's transfer id; an outcome that arrived first applies at once."""
        early = self._connection.execute(
            "SELECT state, detail FROM early_outcomes WHERE transfer_id = ?", (transfer_id,)
        ).fetchone()
        state, detail = early if early is not None else (OutgoingState.STARTED.value, "")
        self._connection.execute(
            "UPDATE outgoing SET transfer_id = ?, state = ?, detail = ?"
            " WHERE idempotency_key = ? AND state = ?",
            (transfer_id, state, detail, idempotency_key, OutgoingState.PENDING.value),
        )
        self._connection.execute("DELETE FROM early_outcomes WHERE transfer_id = ?", (transfer_id,))

    def refuse_outgoing(self, idempotency_key: str, detail: str) -> bool:
        """Marks a pending row refused; False if it was not pending (then refund nothing)."""
        cursor = self._connection.execute(
            "UPDATE outgoing SET state = ?, detail = ? WHERE idempotency_key = ? AND state = ?",
            (OutgoingState.REFUSED.value, detail, idempotency_key, OutgoingState.PENDING.value),
        )
        return cursor.rowcount == 1

    def resolve_outgoing(self, transfer_id: str, state: OutgoingState, detail: str = "") -> None:
        """Records the hub's outcome for a transfer this program started."""
        assert state in RESOLVED_STATES, "only completion or voiding resolves a transfer"
        cursor = self._connection.execute(
            "UPDATE outgoing SET state = ?, detail = ? WHERE transfer_id = ? AND state = ?",
            (state.value, detail, transfer_id, OutgoingState.STARTED.value),
        )
        if cursor.rowcount == 0 and self.outgoing_by_transfer(transfer_id) is None:
            self._connection.execute(
                "INSERT INTO early_outcomes (transfer_id, state, detail) VALUES (?, ?, ?)"
                " ON CONFLICT (transfer_id) DO NOTHING",
                (transfer_id, state.value, detail),
            )

    def queue_answer(self, entry: OutboxEntry) -> None:
        """Queues a confirmation or rejection; a transfer is answered once, so later ones lose."""
        self._connection.execute(
            f"INSERT INTO outbox ({OUTBOX_COLUMNS}, created_at)"  # noqa: S608
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (transfer_id) DO NOTHING",
            (
                entry.transfer_id,
                entry.action.value,
                entry.reason,
                entry.idempotency_key,
                entry.member_number,
                entry.points_delta,
                int(entry.sent),
                entry.outcome.value,
                _now_text(),
            ),
        )

    def outbox(self, *, unsent_only: bool = False) -> list[OutboxEntry]:
        where = "WHERE sent = 0 " if unsent_only else ""
        cursor = self._connection.execute(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox {where}ORDER BY rowid"  # noqa: S608
        )
        return [_outbox(row) for row in cursor.fetchall()]

    def mark_answer_sent(self, transfer_id: str, outcome: OutboxOutcome) -> bool:
        """Marks an answer sent; False if it already was (then undo nothing)."""
        cursor = self._connection.execute(
            "UPDATE outbox SET sent = 1, outcome = ? WHERE transfer_id = ? AND sent = 0",
            (outcome.value, transfer_id),
        )
        return cursor.rowcount == 1
