"""DisputeRepository: disputes on statement lines, their adjustments, reconciliation uploads."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from exchange.domain.disputes import ACCEPTED, OPEN, Adjustment, Dispute, Reconciliation
from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from tests.contract.support import (
    ALPHA,
    BRAVO,
    CHARLIE,
    CONFLICT,
    T0,
    commit,
    contend,
    read,
)

COVERS = {
    "DisputeRepository.add",
    "DisputeRepository.get",
    "DisputeRepository.save",
    "DisputeRepository.of_partner",
    "DisputeRepository.open_exists",
    "DisputeRepository.add_adjustment",
    "DisputeRepository.reconciliation_id",
    "DisputeRepository.add_reconciliation",
}
DAY = "2023-11-14"


def dispute(
    dispute_id: str, opened_by: str = ALPHA, counterparty: str = BRAVO, **changes: Any
) -> Dispute:
    base = Dispute(
        dispute_id=dispute_id,
        business_day=DAY,
        transfer_id="t1",
        opened_by=opened_by,
        counterparty=counterparty,
        currency="USD",
        claimed_minor=310,
        recorded_minor=300,
        reason="short paid",
        state=OPEN,
        resolution_reason="",
        adjustment_business_day=None,
        opened_at_us=T0,
        resolved_at_us=None,
    )
    return replace(base, **changes)


def accepted(found: Dispute) -> Dispute:
    return replace(
        found,
        state=ACCEPTED,
        resolution_reason="agreed",
        adjustment_business_day="2023-11-15",
        resolved_at_us=T0 + 9,
    )


def adjustment(adjustment_id: str, dispute_id: str) -> Adjustment:
    return Adjustment(
        adjustment_id=adjustment_id,
        dispute_id=dispute_id,
        business_day="2023-11-15",
        payer=BRAVO,
        payee=ALPHA,
        currency="USD",
        amount_minor=10,
        created_at_us=T0,
    )


def reconciliation(reconciliation_id: str, digest: bytes) -> Reconciliation:
    return Reconciliation(
        reconciliation_id=reconciliation_id,
        partner_id=ALPHA,
        business_day=DAY,
        upload_sha256=digest,
        breaks_csv=b"transfer_id,issue\n",
        created_at_us=T0,
    )


def test_a_dispute_round_trips_and_is_resolved_by_save(uow_factory: UnitOfWorkFactory) -> None:
    commit(uow_factory, lambda uow: uow.disputes.add(dispute("d1")))
    assert read(uow_factory, lambda uow: uow.disputes.get("d1")) == dispute("d1")
    assert read(uow_factory, lambda uow: uow.disputes.get("d9")) is None
    commit(uow_factory, lambda uow: uow.disputes.save(accepted(dispute("d1"))))
    assert read(uow_factory, lambda uow: uow.disputes.get("d1", for_update=True)) == accepted(
        dispute("d1")
    )


def test_add_refuses_a_second_dispute_id(uow_factory: UnitOfWorkFactory) -> None:
    commit(uow_factory, lambda uow: uow.disputes.add(dispute("d1")))
    with pytest.raises(CONFLICT), uow_factory() as uow:
        uow.disputes.add(dispute("d1", reason="again"))


def test_of_partner_lists_both_sides_oldest_first(uow_factory: UnitOfWorkFactory) -> None:
    disputes = [
        dispute("d2", opened_at_us=T0 + 2),
        dispute("d1", BRAVO, ALPHA, opened_at_us=T0 + 2),  # a tie on time: by id
        dispute("d3", opened_at_us=T0 + 1),
        dispute("d4", BRAVO, CHARLIE),
    ]

    def add(uow: UnitOfWork) -> None:
        for each in disputes:
            uow.disputes.add(each)

    commit(uow_factory, add)
    found = read(uow_factory, lambda uow: uow.disputes.of_partner(ALPHA))
    assert [d.dispute_id for d in found] == ["d3", "d1", "d2"]
    assert read(uow_factory, lambda uow: uow.disputes.of_partner("nobody")) == []


def test_open_exists_is_per_opener_and_open_only(uow_factory: UnitOfWorkFactory) -> None:
    commit(uow_factory, lambda uow: uow.disputes.add(dispute("d1")))
    assert read(uow_factory, lambda uow: uow.disputes.open_exists("t1", ALPHA))
    assert not read(uow_factory, lambda uow: uow.disputes.open_exists("t1", BRAVO))
    assert not read(uow_factory, lambda uow: uow.disputes.open_exists("t2", ALPHA))
    commit(uow_factory, lambda uow: uow.disputes.save(accepted(dispute("d1"))))
    assert not read(uow_factory, lambda uow: uow.disputes.open_exists("t1", ALPHA))


def test_a_dispute_books_one_adjustment(uow_factory: UnitOfWorkFactory) -> None:
    def accept(uow: UnitOfWork) -> None:
        uow.disputes.add(dispute("d1"))
        uow.disputes.add_adjustment(adjustment("a1", "d1"))

    commit(uow_factory, accept)
    with pytest.raises(CONFLICT), uow_factory() as uow:
        uow.disputes.add_adjustment(adjustment("a2", "d1"))


def test_a_reconciliation_is_found_by_its_upload(uow_factory: UnitOfWorkFactory) -> None:
    digest = b"\x01" * 32
    assert read(uow_factory, lambda uow: uow.disputes.reconciliation_id(ALPHA, DAY, digest)) is None
    commit(uow_factory, lambda uow: uow.disputes.add_reconciliation(reconciliation("r1", digest)))
    assert read(uow_factory, lambda uow: uow.disputes.reconciliation_id(ALPHA, DAY, digest)) == "r1"
    assert read(uow_factory, lambda uow: uow.disputes.reconciliation_id(BRAVO, DAY, digest)) is None
    other = b"\x02" * 32
    assert read(uow_factory, lambda uow: uow.disputes.reconciliation_id(ALPHA, DAY, other)) is None
    with pytest.raises(CONFLICT), uow_factory() as uow:
        uow.disputes.add_reconciliation(reconciliation("r2", digest))


def test_get_for_update_waits_and_then_reads_the_resolution(uow_factory: UnitOfWorkFactory) -> None:
    commit(uow_factory, lambda uow: uow.disputes.add(dispute("d1")))
    waited, seen = contend(
        uow_factory,
        hold=lambda uow: uow.disputes.get("d1", for_update=True),
        attempt=lambda uow: uow.disputes.get("d1", for_update=True),
        before_release=lambda uow: uow.disputes.save(accepted(dispute("d1"))),
    )
    assert waited and seen == accepted(dispute("d1"))
