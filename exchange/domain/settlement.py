"""A settled day as the hub stored it, and the port its handlers read and write it through.

The records, positions and instructions are the settlement library's own values
(settlement.model): the netting is a pure library, and a settled day is made of its results.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from coalition.records import decode_record, encode_record
from settlement.model import NetPosition, PaymentInstruction, TransferRecord
from settlement.netting import Netting

# (level, index) of a node of a day's Merkle tree; level 0 is the leaves.
NodeKey = tuple[int, int]


@dataclass(frozen=True, kw_only=True)
class SettledDay:
    business_day: str
    merkle_root: bytes
    tree_size: int
    settled_at_us: int


@dataclass(frozen=True, kw_only=True)
class SettlementRun:
    """One currency's netting of a settled day."""

    business_day: str
    currency: str
    record_count: int
    settled_at_us: int


@dataclass(kw_only=True)
class DayTree:
    """A day's leaves written: their root and size, and the day netted per currency."""

    root: bytes
    size: int
    nettings: dict[str, Netting] = field(default_factory=dict)


class LeafSink(Protocol):
    """Where a day's leaves (and the tree nodes over them) are written as they are hashed."""

    def add(self, index: int, transfer_id: str, leaf_hash: bytes, record: bytes) -> None: ...

    def finish(self) -> None:
        """Writes what is buffered, and the nodes over the last leaves."""


class SettlementRepository(Protocol):
    def settled_day(self, business_day: str) -> SettledDay | None: ...

    def runs(self, business_day: str) -> list[SettlementRun]:
        """The day's runs, by currency."""

    def positions(self, business_day: str, currency: str) -> list[NetPosition]:
        """By participant."""

    def instructions(
        self, business_day: str, participant: str | None = None
    ) -> list[PaymentInstruction]:
        """By clearing reference; one participant's, or all."""

    def settled_records(self, business_day: str) -> Iterator[tuple[int, TransferRecord]]:
        """A settled day's records as they were settled, with their leaf indexes, in tree order."""

    def settled_record(self, business_day: str, transfer_id: str) -> TransferRecord | None: ...

    def settled_leaf(self, business_day: str, transfer_id: str) -> tuple[int, bytes] | None:
        """(leaf index, record bytes as settled) of one record."""

    def node_hashes(self, business_day: str, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        """The stored hashes of those of these nodes that exist (the leaves' for level 0)."""

    def leaf_hashes(self, business_day: str) -> list[bytes]:
        """Every leaf hash of a settled day, in leaf order."""

    def transfer_record(self, transfer_id: str) -> TransferRecord | None:
        """A completed transfer's record as it is now, whatever its day; None otherwise."""

    def unsettled_days_through(self, business_day: str) -> list[str]:
        """Known business days up to and including this one that have no settlement yet."""

    def day_records(self, business_day: str) -> Iterator[TransferRecord]:
        """Every record of a business day as it is now, transfers and adjustments, in id order."""

    def current_leaf_hashes(self, business_day: str) -> Iterator[bytes | None] | None:
        """The leaf hash of each of the day's records as they are now, computed by the store
        (None for a record the encoder refuses); None where the store cannot."""

    def tree_in_store(self, business_day: str) -> DayTree | None:
        """Nets the day and writes its leaves and tree nodes inside the store; None (nothing
        written) where the store cannot, or a record is one the encoder refuses."""

    def leaf_sink(self, business_day: str) -> LeafSink: ...

    def store_day(self, day: SettledDay) -> None:
        """Raises WriteConflict if the day is settled already."""

    def store_run(
        self,
        run: SettlementRun,
        positions: list[NetPosition],
        instructions: list[PaymentInstruction],
    ) -> None: ...


class SettlementReader(Protocol):
    """What a settled day's reads need: a unit of work is one."""

    @property
    def settlement(self) -> SettlementRepository: ...


def record_bytes(record: TransferRecord) -> bytes:
    """The record's cx-transfer-record-v1 bytes: its Merkle leaf and statement line."""
    return encode_record(
        transfer_id=record.transfer_id,
        kind=record.kind,
        source_partner_id=record.source_partner_id,
        destination_partner_id=record.destination_partner_id,
        source_points=record.source_points,
        destination_points=record.destination_points,
        currency=record.currency,
        amount_minor=record.amount_minor,
        fee_minor=record.fee_minor,
        business_day=record.business_day,
        completed_at_us=record.completed_at_us,
    )


def record_from_bytes(data: bytes) -> TransferRecord:
    fields = decode_record(data)
    return TransferRecord(
        str(fields["transfer_id"]),
        str(fields["kind"]),
        str(fields["source_partner_id"]),
        str(fields["destination_partner_id"]),
        int(fields["source_points"]),
        int(fields["destination_points"]),
        str(fields["currency"]),
        int(fields["amount_minor"]),
        int(fields["fee_minor"]),
        str(fields["business_day"]),
        int(fields["completed_at_us"]),
    )
