"""In-memory fakes of the settlement and dispute ports, behaving like the SQL adapters."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from coalition import merkle
from exchange.adapters.memory_settlement_tables import LeafRow
from exchange.adapters.memory_store import InMemoryStore
from exchange.domain.disputes import OPEN, Adjustment, Dispute, Reconciliation
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
    from exchange.domain.disputes import DisputeRepository
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


class InMemoryDisputeRepository:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def add(self, dispute: Dispute) -> None:
        disputes = self._store.settlement.disputes
        if dispute.dispute_id in disputes:
            raise WriteConflict(f"dispute {dispute.dispute_id} exists")
        disputes[dispute.dispute_id] = dispute

    def get(self, dispute_id: str, *, for_update: bool = False) -> Dispute | None:
        return self._store.settlement.disputes.get(dispute_id)

    def save(self, dispute: Dispute) -> None:
        assert dispute.dispute_id in self._store.settlement.disputes, "saves a stored dispute"
        self._store.settlement.disputes[dispute.dispute_id] = dispute

    def of_partner(self, partner_id: str) -> list[Dispute]:
        found = [
            d
            for d in self._store.settlement.disputes.values()
            if partner_id in (d.opened_by, d.counterparty)
        ]
        return sorted(found, key=lambda d: (d.opened_at_us, d.dispute_id))

    def open_exists(self, transfer_id: str, partner_id: str) -> bool:
        return any(
            d.transfer_id == transfer_id and d.opened_by == partner_id and d.state == OPEN
            for d in self._store.settlement.disputes.values()
        )

    def add_adjustment(self, adjustment: Adjustment) -> None:
        adjustments = self._store.settlement.adjustments
        if adjustment.adjustment_id in adjustments:
            raise WriteConflict(f"adjustment {adjustment.adjustment_id} exists")
        if any(a.dispute_id == adjustment.dispute_id for a in adjustments.values()):
            raise WriteConflict(f"dispute {adjustment.dispute_id} has an adjustment")
        adjustments[adjustment.adjustment_id] = adjustment

    def reconciliation_id(self, partner_id: str, business_day: str, digest: bytes) -> str | None:
        return next(
            (
                r.reconciliation_id
                for r in self._store.settlement.reconciliations.values()
                if (r.partner_id, r.business_day, r.upload_sha256)
                == (partner_id, business_day, digest)
            ),
            None,
        )

    def add_reconciliation(self, reconciliation: Reconciliation) -> None:
        r = reconciliation
        reconciliations = self._store.settlement.reconciliations
        if r.reconciliation_id in reconciliations:
            raise WriteConflict(f"reconciliation {r.reconciliation_id} exists")
        if self.reconciliation_id(r.partner_id, r.business_day, r.upload_sha256) is not None:
            raise WriteConflict("this upload is reconciled already")
        reconciliations[r.reconciliation_id] = r


if TYPE_CHECKING:
    _settlement_check: SettlementRepository = InMemorySettlementRepository(InMemoryStore())
    _dispute_check: DisputeRepository = InMemoryDisputeRepository(InMemoryStore())
