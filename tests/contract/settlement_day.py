"""A small business day for the settlement port's contract tests, and what settling it gives.

Three completed transfers of DAY in two currencies, an accepted dispute's adjustment booked
into DAY, a pending transfer (no record) and a completed one of NEXT. The expected values are
computed from the records with the settlement library and the Merkle module, never read back.
"""

from __future__ import annotations

from dataclasses import replace

from coalition import merkle
from exchange.domain.disputes import ACCEPTED, Adjustment, Dispute
from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from exchange.domain.settlement import record_bytes
from exchange.domain.transfers import Transfer, TransferState
from settlement.model import TransferRecord
from settlement.netting import Netting, NettingResult
from tests.contract.support import (
    ALPHA,
    BRAVO,
    CHARLIE,
    T0,
    commit,
    seed_member,
    seed_partners,
    transfer,
)

DAY, NEXT, LATER = "2023-11-14", "2023-11-15", "2023-11-16"
PPIDS = {ALPHA: "pa", BRAVO: "pb", CHARLIE: "pc"}


def completed(
    transfer_id: str, source: str, destination: str, business_day: str = DAY, **changes: object
) -> Transfer:
    return transfer(
        transfer_id,
        "m1",
        source_partner_id=source,
        destination_partner_id=destination,
        source_ppid=PPIDS[source],
        destination_ppid=PPIDS[destination],
        state=TransferState.COMPLETED,
        resolved_at_us=T0 + int(transfer_id[1:]),
        business_day=business_day,
        **changes,
    )


TRANSFERS = (
    completed("t1", ALPHA, BRAVO),
    completed("t2", BRAVO, ALPHA, settlement_amount_minor=450, fee_minor=4),
    completed("t3", ALPHA, CHARLIE, currency="EUR", settlement_amount_minor=120, fee_minor=1),
    replace(completed("t4", ALPHA, BRAVO), state=TransferState.PENDING, resolved_at_us=None),
    completed("t5", CHARLIE, ALPHA, business_day=NEXT),
)
ADJUSTMENT = Adjustment(
    adjustment_id="a1",
    dispute_id="d1",
    business_day=DAY,
    payer=BRAVO,
    payee=CHARLIE,
    currency="USD",
    amount_minor=25,
    created_at_us=T0 + 7,
)
DISPUTE = Dispute(
    dispute_id="d1",
    business_day="2023-11-13",
    transfer_id="t0",
    opened_by=CHARLIE,
    counterparty=BRAVO,
    currency="USD",
    claimed_minor=325,
    recorded_minor=300,
    reason="short paid",
    state=ACCEPTED,
    resolution_reason="agreed",
    adjustment_business_day=DAY,
    opened_at_us=T0,
    resolved_at_us=T0 + 7,
)


def record_of(found: Transfer) -> TransferRecord:
    assert found.business_day is not None and found.resolved_at_us is not None
    return TransferRecord(
        found.transfer_id,
        found.kind.value,
        found.source_partner_id,
        found.destination_partner_id,
        found.source_points,
        found.destination_points,
        found.currency,
        found.settlement_amount_minor,
        found.fee_minor,
        found.business_day,
        found.resolved_at_us,
    )


ADJUSTMENT_RECORD = TransferRecord(
    "a1", "adjustment", BRAVO, CHARLIE, 0, 0, "USD", 25, 0, DAY, T0 + 7
)
# DAY's records in id order: the adjustment's id sorts first.
RECORDS = [ADJUSTMENT_RECORD, *(record_of(t) for t in TRANSFERS[:3])]
NEXT_RECORDS = [record_of(TRANSFERS[4])]
LEAVES = [merkle.leaf_hash(record_bytes(r)) for r in RECORDS]
ROOT = merkle.root(LEAVES)


def nettings(records: list[TransferRecord] = RECORDS) -> dict[str, NettingResult]:
    found: dict[str, Netting] = {}
    for record in records:
        netting = found.setdefault(record.currency, Netting(record.business_day, record.currency))
        netting.add(record)
    return {currency: found[currency].result() for currency in sorted(found)}


def seed_day(factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """The partners, member, business days, transfers and adjustment above."""
    seed_partners(factory)
    seed_member(factory, "m1", **PPIDS)

    def add(uow: UnitOfWork) -> None:
        for day in (DAY, NEXT):
            uow.business_days.open_day_at_or_after(day)
        uow.transfers.add_many(list(TRANSFERS))
        uow.disputes.add(DISPUTE)
        uow.disputes.add_adjustment(ADJUSTMENT)

    commit(factory, add)
    return factory
