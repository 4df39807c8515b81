"""TransferRepository, writes and keyed reads: quotes, transfers, their resolution and locks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from exchange.domain.transfers import Quote, Transfer, TransferState, VoidReason
from tests.contract.support import (
    CONFLICT,
    T0,
    commit,
    contend,
    quote,
    read,
    seed_member,
    seed_partners,
    transfer,
)

COVERS = {
    "TransferRepository.add_quote",
    "TransferRepository.get_quote",
    "TransferRepository.mark_quote_used",
    "TransferRepository.add",
    "TransferRepository.add_many",
    "TransferRepository.get",
    "TransferRepository.get_many",
    "TransferRepository.save",
    "TransferRepository.save_many",
}


@pytest.fixture
def factory(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    seed_partners(uow_factory)
    seed_member(uow_factory, "m1", alpha="pa", bravo="pb")
    return uow_factory


def resolved(found: Transfer) -> Transfer:
    return replace(
        found, state=TransferState.COMPLETED, resolved_at_us=T0 + 5, business_day="2023-11-14"
    )


def test_a_quote_round_trips(factory: UnitOfWorkFactory) -> None:
    q1 = quote("q1", "m1", bonus_points=75)
    commit(factory, lambda uow: uow.transfers.add_quote(q1))
    assert read(factory, lambda uow: uow.transfers.get_quote("q1")) == q1
    assert read(factory, lambda uow: uow.transfers.get_quote("q1", for_update=True)) == q1
    assert read(factory, lambda uow: uow.transfers.get_quote("q9")) is None


@pytest.mark.parametrize("refused", [quote("q1", "m1"), quote("q2", "nobody")])
def test_add_quote_refuses(factory: UnitOfWorkFactory, refused: Quote) -> None:
    commit(factory, lambda uow: uow.transfers.add_quote(quote("q1", "m1")))
    with pytest.raises(CONFLICT), factory() as uow:
        uow.transfers.add_quote(refused)


def test_mark_quote_used_records_its_one_transfer(factory: UnitOfWorkFactory) -> None:
    def quote_twice(uow: UnitOfWork) -> None:
        uow.transfers.add_quote(quote("q1", "m1"))
        uow.transfers.add_quote(quote("q2", "m1"))
        uow.transfers.mark_quote_used("q1", "t1")
        uow.transfers.mark_quote_used("q9", "t9")  # an unknown quote: a no-op

    commit(factory, quote_twice)
    used = read(factory, lambda uow: uow.transfers.get_quote("q1"))
    assert used is not None and used.transfer_id == "t1"
    with pytest.raises(CONFLICT), factory() as uow:
        uow.transfers.mark_quote_used("q2", "t1")


def test_a_transfer_round_trips(factory: UnitOfWorkFactory) -> None:
    t1 = transfer("t1", "m1", quote_id="q1", bonus_points=75, reject_reason="")
    commit(factory, lambda uow: uow.transfers.add(t1))
    assert read(factory, lambda uow: uow.transfers.get("t1")) == t1
    assert read(factory, lambda uow: uow.transfers.get("t1", for_update=True)) == t1
    assert read(factory, lambda uow: uow.transfers.get("t9")) is None


@pytest.mark.parametrize(
    "refused",
    [
        transfer("t1", "m1"),
        transfer("t2", "nobody"),
        transfer("t3", "m1", destination_partner_id="nobody"),
        transfer("t4", "m1", quote_id="q1"),  # the quote already made t1
    ],
)
def test_add_refuses(factory: UnitOfWorkFactory, refused: Transfer) -> None:
    commit(factory, lambda uow: uow.transfers.add(transfer("t1", "m1", quote_id="q1")))
    with pytest.raises(CONFLICT), factory() as uow:
        uow.transfers.add(refused)


def test_add_many_and_get_many(factory: UnitOfWorkFactory) -> None:
    batch = [transfer(f"t{n}", "m1", created_at_us=T0 + n) for n in (3, 1, 2)]

    def add(uow: UnitOfWork) -> None:
        uow.transfers.add_many(batch)
        uow.transfers.add_many([])

    commit(factory, add)
    found = read(factory, lambda uow: uow.transfers.get_many(["t2", "t9", "t1", "t2"]))
    assert found == {"t1": batch[1], "t2": batch[2]}
    locked = read(factory, lambda uow: uow.transfers.get_many(["t3"], for_update=True))
    assert locked == {"t3": batch[0]}
    assert read(factory, lambda uow: uow.transfers.get_many([])) == {}


def test_save_stores_the_resolution_and_nothing_else(factory: UnitOfWorkFactory) -> None:
    t1 = transfer("t1", "m1")
    commit(factory, lambda uow: uow.transfers.add(t1))
    voided = replace(
        t1,
        state=TransferState.VOIDED,
        resolved_at_us=T0 + 9,
        void_reason=VoidReason.REJECTED,
        reject_reason="account closed",
        business_day="2023-11-14",
    )
    commit(factory, lambda uow: uow.transfers.save(replace(voided, source_points=1, cmid="m0")))
    commit(factory, lambda uow: uow.transfers.save(transfer("t9", "m1")))  # unknown: a no-op
    assert read(factory, lambda uow: uow.transfers.get("t1")) == voided
    assert read(factory, lambda uow: uow.transfers.get("t9")) is None


def test_save_many_resolves_each(factory: UnitOfWorkFactory) -> None:
    batch = [transfer("t1", "m1"), transfer("t2", "m1"), transfer("t3", "m1")]
    commit(factory, lambda uow: uow.transfers.add_many(batch))

    def resolve(uow: UnitOfWork) -> None:
        uow.transfers.save_many([resolved(batch[0]), resolved(batch[2])])
        uow.transfers.save_many([])

    commit(factory, resolve)
    found = read(factory, lambda uow: uow.transfers.get_many(["t1", "t2", "t3"]))
    assert found == {"t1": resolved(batch[0]), "t2": batch[1], "t3": resolved(batch[2])}


def test_get_for_update_waits_and_then_reads_the_resolution(factory: UnitOfWorkFactory) -> None:
    commit(factory, lambda uow: uow.transfers.add(transfer("t1", "m1")))
    waited, seen = contend(
        factory,
        hold=lambda uow: uow.transfers.get("t1", for_update=True),
        attempt=lambda uow: uow.transfers.get("t1", for_update=True),
        before_release=lambda uow: uow.transfers.save(resolved(transfer("t1", "m1"))),
    )
    assert waited and seen == resolved(transfer("t1", "m1"))


def test_get_many_for_update_waits_and_then_reads_the_resolution(
    factory: UnitOfWorkFactory,
) -> None:
    batch = [transfer("t1", "m1"), transfer("t2", "m1")]
    commit(factory, lambda uow: uow.transfers.add_many(batch))
    waited, seen = contend(
        factory,
        hold=lambda uow: uow.transfers.get_many(["t2"], for_update=True),
        attempt=lambda uow: uow.transfers.get_many(["t2", "t1"], for_update=True),
        before_release=lambda uow: uow.transfers.save(resolved(batch[1])),
    )
    assert waited and seen == {"t1": batch[0], "t2": resolved(batch[1])}


def test_get_quote_for_update_waits_and_then_reads_its_use(factory: UnitOfWorkFactory) -> None:
    commit(factory, lambda uow: uow.transfers.add_quote(quote("q1", "m1")))
    waited, seen = contend(
        factory,
        hold=lambda uow: uow.transfers.get_quote("q1", for_update=True),
        attempt=lambda uow: uow.transfers.get_quote("q1", for_update=True),
        before_release=lambda uow: uow.transfers.mark_quote_used("q1", "t1"),
    )
    assert waited and seen is not None and seen.transfer_id == "t1"
