"""In-memory fake of the settlement port, behaving like SqlSettlementRepository."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from coalition import merkle
from exchange.adapters.memory.settlement_tables import LeafRow
from exchange.adapters.memory.store import InMemoryStore
from exchange.domain.disputes import Adjustment
from exchange.domain.ports import WriteConflict
from exchange.domain.settlement import (
    DayTree,
    NodeKey,
    SettledDay,
    SettlementRun,
    record_from_bytes,
)
from exchange.domain.transfers import TransferState
from settlement.model import NetPosition, PaymentInstruction, TransferRecord

if TYPE_CHECKING:
    from exchange.domain.settlement import SettlementRepository


class InMemoryLeafSink:
    """Writes a day's leaves, and its tree nodes as they complete, into the store."""

    def __init__(self, store: InMemoryStore, business_day: str) -> None:
        self._tables = store.settlement
        self._day = business_day
        self._nodes = merkle.NodeBuilder()

    def add(self, index: int, transfer_id: str, leaf_hash: bytes, record: bytes) -> None:
        self._tables.leaves[(self._day, index)] = LeafRow(transfer_id, leaf_hash, record)
        self._nodes.add(leaf_hash)
        self._write(self._nodes.take())

    def finish(self) -> None:
        self._write(self._nodes.finish())

    def _write(self, nodes: Iterable[merkle.Node]) -> None:
        for level, index, value in nodes:
            self._tables.nodes[(self._day, level, index)] = value


class InMemorySettlementRepository:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def settled_day(self, business_day: str) -> SettledDay | None:
        return self._store.settlement.days.get(business_day)

    def runs(self, business_day: str) -> list[SettlementRun]:
        runs = self._store.settlement.runs
        return [runs[key] for key in sorted(runs) if key[0] == business_day]

    def positions(self, business_day: str, currency: str) -> list[NetPosition]:
        positions = self._store.settlement.positions
        return [positions[k] for k in sorted(positions) if k[:2] == (business_day, currency)]

    def instructions(
        self, business_day: str, participant: str | None = None
    ) -> list[PaymentInstruction]:
        found = self._store.settlement.instructions
        return [
            found[reference]
            for reference in sorted(found)
            if found[reference].business_day == business_day
            and participant in (None, found[reference].participant)
        ]

    def _leaves(self, business_day: str) -> list[tuple[int, LeafRow]]:
        leaves = self._store.settlement.leaves
        return sorted((i, row) for (day, i), row in leaves.items() if day == business_day)

    def settled_records(self, business_day: str) -> Iterator[tuple[int, TransferRecord]]:
        for index, row in self._leaves(business_day):
            yield index, record_from_bytes(row.record)

    def settled_record(self, business_day: str, transfer_id: str) -> TransferRecord | None:
        found = self.settled_leaf(business_day, transfer_id)
        return record_from_bytes(found[1]) if found is not None else None

    def settled_leaf(self, business_day: str, transfer_id: str) -> tuple[int, bytes] | None:
        return next(
            (
                (i, row.record)
                for i, row in self._leaves(business_day)
                if row.transfer_id == transfer_id
            ),
            None,
        )

    def node_hashes(self, business_day: str, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        tables = self._store.settlement
        found: dict[NodeKey, bytes] = {}
        for level, index in keys:
            if level == 0 and (business_day, index) in tables.leaves:
                found[(0, index)] = tables.leaves[(business_day, index)].leaf_hash
            elif (business_day, level, index) in tables.nodes:
                found[(level, index)] = tables.nodes[(business_day, level, index)]
        return found

    def leaf_hashes(self, business_day: str) -> list[bytes]:
        return [row.leaf_hash for _index, row in self._leaves(business_day)]

    def transfer_record(self, transfer_id: str) -> TransferRecord | None:
        transfer = self._store.transfers.get(transfer_id)
        if transfer is None or transfer.state is not TransferState.COMPLETED:
            return None
        if transfer.business_day is None:
            return None
        return _record(transfer.business_day, transfer_id, self._store)

    def unsettled_days_through(self, business_day: str) -> list[str]:
        days = self._store.business_days
        settled = self._store.settlement.days
        return sorted(d for d in days if d <= business_day and d not in settled)

    def day_records(self, business_day: str) -> Iterator[TransferRecord]:
        transfers = sorted(
            t.transfer_id
            for t in self._store.transfers.values()
            if t.state is TransferState.COMPLETED and t.business_day == business_day
        )
        adjustments = self._store.settlement.adjustments.values()
        return heapq.merge(
            (_record(business_day, t, self._store) for t in transfers),
            sorted(
                (_adjustment_record(a) for a in adjustments if a.business_day == business_day),
                key=lambda record: record.transfer_id,
            ),
            key=lambda record: record.transfer_id,
        )

    def current_leaf_hashes(self, business_day: str) -> Iterator[bytes | None] | None:
        return None  # the handler hashes the records itself, as on SQLite

    def tree_in_store(self, business_day: str) -> DayTree | None:
        return None

    def leaf_sink(self, business_day: str) -> InMemoryLeafSink:
        return InMemoryLeafSink(self._store, business_day)

    def store_day(self, day: SettledDay) -> None:
        if day.business_day in self._store.settlement.days:
            raise WriteConflict(f"business day {day.business_day} is settled already")
        self._store.settlement.days[day.business_day] = day

    def store_run(
        self,
        run: SettlementRun,
        positions: list[NetPosition],
        instructions: list[PaymentInstruction],
    ) -> None:
        tables = self._store.settlement
        tables.runs[(run.business_day, run.currency)] = run
        for p in positions:
            tables.positions[(run.business_day, run.currency, p.participant)] = p
        for i in instructions:
            tables.instructions[i.clearing_reference] = i


def _record(business_day: str, transfer_id: str, store: InMemoryStore) -> TransferRecord:
    t = store.transfers[transfer_id]
    return TransferRecord(
        t.transfer_id,
        t.kind.value,
        t.source_partner_id,
        t.destination_partner_id,
        t.source_points,
        t.destination_points,
        t.currency,
        t.settlement_amount_minor,
        t.fee_minor,
        business_day,
        t.resolved_at_us or 0,
    )


def _adjustment_record(adjustment: Adjustment) -> TransferRecord:
    a = adjustment
    return TransferRecord(
        a.adjustment_id,
        "adjustment",
        a.payer,
        a.payee,
        0,
        0,
        a.currency,
        a.amount_minor,
        0,
        a.business_day,
        a.created_at_us,
    )


if TYPE_CHECKING:
    # mypy proves the fakes satisfy the ports structurally.
    _settlement_check: SettlementRepository = InMemorySettlementRepository(InMemoryStore())
