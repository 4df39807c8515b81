"""SettlementRepository, writing a settlement: the day's row and runs, the streamed leaves and
nodes, and the store-side paths (tree_in_store, current_leaf_hashes) a store may decline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from coalition import merkle
from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from exchange.domain.settlement import SettledDay, SettlementRun, record_bytes
from settlement.model import Direction, NetPosition, PaymentInstruction
from tests.contract.settlement_day import DAY, LEAVES, NEXT, RECORDS, ROOT, nettings, seed_day
from tests.contract.support import ALPHA, BRAVO, CONFLICT, T0, commit, read

COVERS = {
    "SettlementRepository.store_day",
    "SettlementRepository.store_run",
    "SettlementRepository.leaf_sink",
    "SettlementRepository.tree_in_store",
    "SettlementRepository.current_leaf_hashes",
}
SETTLED = SettledDay(business_day=DAY, merkle_root=b"\x07" * 32, tree_size=2, settled_at_us=T0)


def test_a_day_is_stored_once(uow_factory: UnitOfWorkFactory) -> None:
    commit(uow_factory, lambda uow: uow.settlement.store_day(SETTLED))
    assert read(uow_factory, lambda uow: uow.settlement.settled_day(DAY)) == SETTLED
    with pytest.raises(CONFLICT), uow_factory() as uow:
        uow.settlement.store_day(SettledDay(**{**vars(SETTLED), "tree_size": 3}))
    assert read(uow_factory, lambda uow: uow.settlement.settled_day(DAY)) == SETTLED


def test_a_day_not_committed_is_not_stored(uow_factory: UnitOfWorkFactory) -> None:
    assert read(uow_factory, lambda uow: uow.settlement.store_day(SETTLED)) is None
    assert read(uow_factory, lambda uow: uow.settlement.settled_day(DAY)) is None


def test_a_run_round_trips_with_its_positions_and_instructions(
    uow_factory: UnitOfWorkFactory,
) -> None:
    run = SettlementRun(business_day=DAY, currency="USD", record_count=2, settled_at_us=T0)
    positions = [NetPosition(BRAVO, "USD", 0, 40, -40), NetPosition(ALPHA, "USD", 40, 0, 40)]
    instructions = [
        PaymentInstruction("CX-20231114-USD-bravo-IN", DAY, "USD", BRAVO, Direction.PAY_IN, 40),
        PaymentInstruction("CX-20231114-USD-alpha-OUT", DAY, "USD", ALPHA, Direction.PAY_OUT, 40),
    ]
    empty = SettlementRun(business_day=DAY, currency="EUR", record_count=0, settled_at_us=T0)

    def store(uow: UnitOfWork) -> None:
        uow.settlement.store_day(SETTLED)
        uow.settlement.store_run(run, positions, instructions)
        uow.settlement.store_run(empty, [], [])

    commit(uow_factory, store)
    assert read(uow_factory, lambda uow: uow.settlement.runs(DAY)) == [empty, run]
    assert read(uow_factory, lambda uow: uow.settlement.positions(DAY, "USD")) == positions[::-1]
    assert read(uow_factory, lambda uow: uow.settlement.positions(DAY, "EUR")) == []
    assert read(uow_factory, lambda uow: uow.settlement.instructions(DAY)) == instructions[::-1]
    only_bravo = read(uow_factory, lambda uow: uow.settlement.instructions(DAY, BRAVO))
    assert only_bravo == instructions[:1]


def _sink(uow: UnitOfWork) -> None:
    sink = uow.settlement.leaf_sink(DAY)
    for index, record in enumerate(RECORDS):
        sink.add(index, record.transfer_id, LEAVES[index], record_bytes(record))
    sink.finish()


def test_a_leaf_sink_writes_the_leaves_and_the_nodes_over_them(
    uow_factory: UnitOfWorkFactory,
) -> None:
    commit(uow_factory, _sink)
    assert read(uow_factory, lambda uow: uow.settlement.leaf_hashes(DAY)) == LEAVES
    listed = read(uow_factory, lambda uow: list(uow.settlement.settled_records(DAY)))
    assert listed == list(enumerate(RECORDS))
    leaf = read(uow_factory, lambda uow: uow.settlement.settled_leaf(DAY, "t2"))
    assert leaf == (2, record_bytes(RECORDS[2]))
    keys = [(1, 0), (1, 1), (2, 0)]
    assert read(uow_factory, lambda uow: uow.settlement.node_hashes(DAY, keys)) == {
        (1, 0): merkle.node_hash(LEAVES[0], LEAVES[1]),
        (1, 1): merkle.node_hash(LEAVES[2], LEAVES[3]),
        (2, 0): ROOT,
    }
    assert read(uow_factory, lambda uow: uow.settlement.leaf_hashes(NEXT)) == []


def test_a_leaf_sink_not_committed_leaves_nothing(uow_factory: UnitOfWorkFactory) -> None:
    read(uow_factory, _sink)
    assert read(uow_factory, lambda uow: uow.settlement.leaf_hashes(DAY)) == []
    assert read(uow_factory, lambda uow: uow.settlement.node_hashes(DAY, [(2, 0)])) == {}


def test_a_leaf_sink_finished_empty_writes_nothing(uow_factory: UnitOfWorkFactory) -> None:
    commit(uow_factory, lambda uow: uow.settlement.leaf_sink(DAY).finish())
    assert read(uow_factory, lambda uow: uow.settlement.leaf_hashes(DAY)) == []
    assert read(uow_factory, lambda uow: uow.settlement.node_hashes(DAY, [(0, 0), (1, 0)])) == {}


def test_tree_in_store_nets_and_writes_the_day_or_writes_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    day = seed_day(uow_factory)
    tree = commit(day, lambda uow: uow.settlement.tree_in_store(DAY))
    if tree is None:  # a store that cannot: the handler streams the day instead
        assert read(day, lambda uow: uow.settlement.leaf_hashes(DAY)) == []
        return
    assert (tree.root, tree.size) == (ROOT, len(RECORDS))
    assert {c: n.result() for c, n in tree.nettings.items()} == nettings()
    assert read(day, lambda uow: uow.settlement.leaf_hashes(DAY)) == LEAVES
    listed = read(day, lambda uow: list(uow.settlement.settled_records(DAY)))
    assert listed == list(enumerate(RECORDS))
    keys = merkle.root_node_keys(tree.size)
    stored = read(day, lambda uow: uow.settlement.node_hashes(DAY, keys))
    assert merkle.root_from_nodes(tree.size, stored) == ROOT
    assert read(day, lambda uow: uow.settlement.settled_day(DAY)) is None, "store_day's job"


def test_tree_in_store_of_an_empty_day(uow_factory: UnitOfWorkFactory) -> None:
    tree = commit(uow_factory, lambda uow: uow.settlement.tree_in_store(NEXT))
    if tree is not None:
        assert (tree.root, tree.size, tree.nettings) == (merkle.root([]), 0, {})
    assert read(uow_factory, lambda uow: uow.settlement.leaf_hashes(NEXT)) == []


def test_current_leaf_hashes_are_the_days_records_hashed_or_none(
    uow_factory: UnitOfWorkFactory,
) -> None:
    day = seed_day(uow_factory)
    hashes = read(day, lambda uow: _listed(uow.settlement.current_leaf_hashes(DAY)))
    assert hashes in (None, LEAVES)
    empty = read(day, lambda uow: _listed(uow.settlement.current_leaf_hashes("2023-11-20")))
    assert empty in (None, [])


def _listed(hashes: Iterator[bytes | None] | None) -> list[bytes | None] | None:
    return None if hashes is None else list(hashes)
