"""The settlement port on SQL: a settled day's rows, and settling one inside PostgreSQL where
it can (settlement_bulk), or by the leaves and nodes the handler streams to it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy.orm import Session

from coalition import merkle
from coalition.records import check_business_day, decode_record
from exchange.adapters.sql import settlement_bulk as bulk
from exchange.adapters.sql import settlement_store as store
from exchange.adapters.sql import tree_store
from exchange.domain.settlement import DayTree, NodeKey, SettledDay, SettlementRun
from settlement.model import NetPosition, PaymentInstruction, TransferRecord
from settlement.netting import Netting


class SqlLeafSink:
    """The day's leaves and the stored tree nodes over them, written in batches."""

    def __init__(self, session: Session, business_day: str) -> None:
        self.leaves = store.LeafWriter(session, business_day)
        self.nodes = tree_store.NodeWriter(session, business_day)

    def add(self, index: int, transfer_id: str, leaf_hash: bytes, record: bytes) -> None:
        self.leaves.add(index, transfer_id, leaf_hash, record)
        self.nodes.add(leaf_hash)

    def finish(self) -> None:
        self.leaves.flush()
        self.nodes.finish()


class SqlSettlementRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._bulk: bool | None = None

    def _bulk_supported(self) -> bool:
        if self._bulk is None:
            self._bulk = bulk.supported(self.session)
        return self._bulk

    def settled_day(self, business_day: str) -> SettledDay | None:
        return store.settled_day(self.session, business_day)

    def runs(self, business_day: str) -> list[SettlementRun]:
        return store.runs(self.session, business_day)

    def positions(self, business_day: str, currency: str) -> list[NetPosition]:
        return store.positions(self.session, business_day, currency)

    def instructions(
        self, business_day: str, participant: str | None = None
    ) -> list[PaymentInstruction]:
        return store.instructions(self.session, business_day, participant)

    def settled_records(self, business_day: str) -> Iterator[tuple[int, TransferRecord]]:
        return store.settled_records(self.session, business_day)

    def settled_record(self, business_day: str, transfer_id: str) -> TransferRecord | None:
        return store.settled_record(self.session, business_day, transfer_id)

    def settled_leaf(self, business_day: str, transfer_id: str) -> tuple[int, bytes] | None:
        return tree_store.settled_leaf(self.session, business_day, transfer_id)

    def node_hashes(self, business_day: str, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        return tree_store.node_hashes(self.session, business_day, keys)

    def leaf_hashes(self, business_day: str) -> list[bytes]:
        return store.leaf_hashes(self.session, business_day)

    def transfer_record(self, transfer_id: str) -> TransferRecord | None:
        return store.transfer_record(self.session, transfer_id)

    def unsettled_days_through(self, business_day: str) -> list[str]:
        return store.unsettled_days_through(self.session, business_day)

    def day_records(self, business_day: str) -> Iterator[TransferRecord]:
        return store.day_records(self.session, business_day)

    def current_leaf_hashes(self, business_day: str) -> Iterator[bytes | None] | None:
        if not self._bulk_supported():
            return None
        return bulk.current_leaf_hashes(self.session, business_day)

    def tree_in_store(self, business_day: str) -> DayTree | None:
        if not self._bulk_supported():
            return None
        return _in_database(self.session, business_day)

    def leaf_sink(self, business_day: str) -> SqlLeafSink:
        return SqlLeafSink(self.session, business_day)

    def store_day(self, day: SettledDay) -> None:
        store.store_day(self.session, day)

    def store_run(
        self,
        run: SettlementRun,
        positions: list[NetPosition],
        instructions: list[PaymentInstruction],
    ) -> None:
        store.store_run(self.session, run, positions, instructions)


def _in_database(session: Session, business_day: str) -> DayTree | None:
    """Nets, encodes, hashes and writes the day inside the database; None (nothing written)
    if a record is one the encoder refuses, for the streamed path to refuse it."""
    check_business_day(business_day)  # the day's text, by the encoder's rule, once
    rows = bulk.gross(session, business_day)
    if rows is None:
        return None
    nettings: dict[str, Netting] = {}
    for row in rows:
        netting = nettings.get(row.currency)
        if netting is None:
            netting = nettings[row.currency] = Netting(business_day, row.currency)
        netting.add_gross(row.payer, row.payee, row.amount_minor, row.fee_minor, row.records)
    size = bulk.write_leaves(session, business_day)
    counted = sum(row.records for row in rows)
    if size != counted:
        raise RuntimeError(f"{size} leaves written for {counted} records netted")
    bulk.write_nodes(session, business_day, size)
    keys = merkle.root_node_keys(size) if size else ()
    root = merkle.root_from_nodes(size, tree_store.node_hashes(session, business_day, keys))
    # The strict decoder over the first and last records written, as a guard on the SQL.
    for index in {0, size - 1} if size else set():
        decode_record(bulk.record_at(session, business_day, index))
    return DayTree(root=root, size=size, nettings=nettings)
