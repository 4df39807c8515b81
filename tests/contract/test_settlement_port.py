"""SettlementRepository, a day's records and its settlement read back: the day is settled
through the settlement service on the backend's factory, then read through the port."""

from __future__ import annotations

import pytest

from coalition import merkle
from exchange.adapters.memory import FixedClock
from exchange.domain.ports import UnitOfWorkFactory
from exchange.domain.settlement import SettledDay, SettlementRun, record_bytes
from exchange.services.settlement import settle_day
from settlement.calendar import CoalitionCalendar
from tests.contract.settlement_day import (
    DAY,
    LATER,
    LEAVES,
    NEXT,
    NEXT_RECORDS,
    RECORDS,
    ROOT,
    TRANSFERS,
    nettings,
    record_of,
    seed_day,
)
from tests.contract.support import ALPHA, CHARLIE, read

COVERS = {
    "SettlementRepository.settled_day",
    "SettlementRepository.runs",
    "SettlementRepository.positions",
    "SettlementRepository.instructions",
    "SettlementRepository.settled_records",
    "SettlementRepository.settled_record",
    "SettlementRepository.settled_leaf",
    "SettlementRepository.node_hashes",
    "SettlementRepository.leaf_hashes",
    "SettlementRepository.transfer_record",
    "SettlementRepository.unsettled_days_through",
    "SettlementRepository.day_records",
}


@pytest.fixture
def day(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    return seed_day(uow_factory)


@pytest.fixture
def settled(day: UnitOfWorkFactory, clock: FixedClock) -> UnitOfWorkFactory:
    settle_day(day, CoalitionCalendar(), clock, DAY, close_early=True)
    return day


def test_day_records_are_the_completed_transfers_and_adjustments_in_id_order(
    day: UnitOfWorkFactory,
) -> None:
    assert read(day, lambda uow: list(uow.settlement.day_records(DAY))) == RECORDS
    assert read(day, lambda uow: list(uow.settlement.day_records(NEXT))) == NEXT_RECORDS
    assert read(day, lambda uow: list(uow.settlement.day_records(LATER))) == []


def test_transfer_record_is_a_completed_transfers_record_whatever_its_day(
    day: UnitOfWorkFactory,
) -> None:
    assert read(day, lambda uow: uow.settlement.transfer_record("t2")) == record_of(TRANSFERS[1])
    assert read(day, lambda uow: uow.settlement.transfer_record("t5")) == NEXT_RECORDS[0]
    assert read(day, lambda uow: uow.settlement.transfer_record("t4")) is None, "pending"
    assert read(day, lambda uow: uow.settlement.transfer_record("a1")) is None, "an adjustment"
    assert read(day, lambda uow: uow.settlement.transfer_record("t9")) is None


def test_unsettled_days_through_lists_known_days_without_a_settlement(
    day: UnitOfWorkFactory, clock: FixedClock
) -> None:
    assert read(day, lambda uow: uow.settlement.unsettled_days_through(LATER)) == [DAY, NEXT]
    assert read(day, lambda uow: uow.settlement.unsettled_days_through(DAY)) == [DAY]
    assert read(day, lambda uow: uow.settlement.unsettled_days_through("2023-11-13")) == []
    settle_day(day, CoalitionCalendar(), clock, DAY, close_early=True)
    assert read(day, lambda uow: uow.settlement.unsettled_days_through(LATER)) == [NEXT]


def test_a_settled_day_its_runs_and_positions_are_the_nettings_of_its_records(
    settled: UnitOfWorkFactory, clock: FixedClock
) -> None:
    at_us = clock.now_us()
    found = read(settled, lambda uow: uow.settlement.settled_day(DAY))
    assert found == SettledDay(business_day=DAY, merkle_root=ROOT, tree_size=4, settled_at_us=at_us)
    assert read(settled, lambda uow: uow.settlement.settled_day(NEXT)) is None
    expected = nettings()
    runs = [
        SettlementRun(
            business_day=DAY, currency=c, record_count=r.record_count, settled_at_us=at_us
        )
        for c, r in expected.items()
    ]
    assert read(settled, lambda uow: uow.settlement.runs(DAY)) == runs
    assert [run.record_count for run in runs] == [1, 3]
    assert read(settled, lambda uow: uow.settlement.runs(NEXT)) == []
    with settled() as uow:
        for currency, result in expected.items():
            positions = uow.settlement.positions(DAY, currency)
            assert positions == sorted(result.positions, key=lambda p: p.participant)
    assert read(settled, lambda uow: uow.settlement.positions(DAY, "GBP")) == []


def test_instructions_are_by_clearing_reference_for_one_participant_or_all(
    settled: UnitOfWorkFactory,
) -> None:
    every = [i for result in nettings().values() for i in result.instructions]
    by_reference = sorted(every, key=lambda i: i.clearing_reference)
    assert by_reference, "the day moves money"
    assert read(settled, lambda uow: uow.settlement.instructions(DAY)) == by_reference
    with settled() as uow:
        for participant in (ALPHA, CHARLIE, "nobody"):
            mine = [i for i in by_reference if i.participant == participant]
            assert uow.settlement.instructions(DAY, participant) == mine
    assert read(settled, lambda uow: uow.settlement.instructions(NEXT)) == []


def test_settled_records_and_leaves_are_the_day_as_it_was_settled(
    settled: UnitOfWorkFactory,
) -> None:
    listed = read(settled, lambda uow: list(uow.settlement.settled_records(DAY)))
    assert listed == list(enumerate(RECORDS))
    assert read(settled, lambda uow: list(uow.settlement.settled_records(NEXT))) == []
    assert read(settled, lambda uow: uow.settlement.settled_record(DAY, "t2")) == RECORDS[2]
    assert read(settled, lambda uow: uow.settlement.settled_record(DAY, "t5")) is None
    assert read(settled, lambda uow: uow.settlement.settled_record(NEXT, "t2")) is None
    leaf = read(settled, lambda uow: uow.settlement.settled_leaf(DAY, "a1"))
    assert leaf == (0, record_bytes(RECORDS[0]))
    assert read(settled, lambda uow: uow.settlement.settled_leaf(DAY, "t3")) == (
        3,
        record_bytes(RECORDS[3]),
    )
    assert read(settled, lambda uow: uow.settlement.settled_leaf(DAY, "t4")) is None
    assert read(settled, lambda uow: uow.settlement.leaf_hashes(DAY)) == LEAVES
    assert read(settled, lambda uow: uow.settlement.leaf_hashes(NEXT)) == []


def test_node_hashes_are_the_stored_tree_over_the_leaves(settled: UnitOfWorkFactory) -> None:
    keys = merkle.root_node_keys(len(LEAVES))
    stored = read(settled, lambda uow: uow.settlement.node_hashes(DAY, keys))
    assert merkle.root_from_nodes(len(LEAVES), stored) == ROOT
    some = [(0, 1), (0, 4), (1, 1), (1, 2), (2, 0), (3, 0)]
    assert read(settled, lambda uow: uow.settlement.node_hashes(DAY, some)) == {
        (0, 1): LEAVES[1],
        (1, 1): merkle.node_hash(LEAVES[2], LEAVES[3]),
        (2, 0): ROOT,
    }
    assert read(settled, lambda uow: uow.settlement.node_hashes(NEXT, some)) == {}
    assert read(settled, lambda uow: uow.settlement.node_hashes(DAY, [])) == {}
