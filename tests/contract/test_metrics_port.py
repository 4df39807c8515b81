"""MetricsRepository, the reads of one day's records that the fold turns into cells."""

from __future__ import annotations

import pytest

from exchange.domain.metrics import GrantFact, OutcomeFact, TransferFact
from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from exchange.domain.tiers import Tier, TierLadder
from exchange.domain.transfers import TransferKind, TransferState, VoidReason
from tests.contract.support import (
    ALPHA,
    BRAVO,
    CHARLIE,
    T0,
    commit,
    fake_disagrees,
    quote,
    read,
    seed_member,
    seed_partners,
    transfer,
)

COVERS = {
    "MetricsRepository.completed_transfers",
    "MetricsRepository.resolutions",
    "MetricsRepository.quotes",
    "MetricsRepository.grants",
    "MetricsRepository.tier_reports",
    "MetricsRepository.net_positions",
    "MetricsRepository.linked_brands",
}
DAY = "2023-11-14"
WINDOW = (T0, T0 + 100)
COMPLETED, VOIDED = TransferState.COMPLETED, TransferState.VOIDED


@pytest.fixture
def factory(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    seed_partners(uow_factory)
    seed_member(uow_factory, "m1", alpha="pa", bravo="pb", charlie="pc")
    seed_member(uow_factory, "m2", alpha="qa")
    return uow_factory


def _transfers(uow: UnitOfWork) -> None:
    done = {"state": COMPLETED, "business_day": DAY}
    uow.transfers.add_many(
        [
            transfer("t1", "m1", created_at_us=T0, resolved_at_us=T0 + 40, **done),
            transfer("t2", "m1", kind=TransferKind.REVERSAL, resolved_at_us=T0 + 200, **done),
            transfer("t3", "m1", state=COMPLETED, business_day="2023-11-15", resolved_at_us=T0),
            transfer(
                "t4", "m1", state=VOIDED, void_reason=VoidReason.TIMED_OUT, resolved_at_us=T0 + 99
            ),
            transfer("t5", "m1", resolved_at_us=None),
        ]
    )


def test_completed_transfers_are_the_days_completions(factory: UnitOfWorkFactory) -> None:
    commit(factory, _transfers)
    found = read(factory, lambda uow: uow.metrics.completed_transfers(DAY))
    fact = TransferFact("transfer", ALPHA, BRAVO, "m1", 1000, 750, "USD", 300, 40)
    reversal = TransferFact("reversal", ALPHA, BRAVO, "m1", 1000, 750, "USD", 300, 200)
    assert sorted(found, key=repr) == sorted([fact, reversal], key=repr)
    assert read(factory, lambda uow: uow.metrics.completed_transfers("2023-11-13")) == []


def test_resolutions_are_transfers_resolved_in_the_window(factory: UnitOfWorkFactory) -> None:
    commit(factory, _transfers)
    found = read(factory, lambda uow: uow.metrics.resolutions(WINDOW))
    assert sorted(found, key=repr) == [
        OutcomeFact(ALPHA, BRAVO, "completed", None),
        OutcomeFact(ALPHA, BRAVO, "completed", None),
        OutcomeFact(ALPHA, BRAVO, "voided", "timed_out"),
    ], "reversals and resolutions at the window's end are left out"


def test_quotes_issued_in_the_window_and_whether_used(factory: UnitOfWorkFactory) -> None:
    def issue(uow: UnitOfWork) -> None:
        uow.transfers.add_quote(quote("q1", "m1", created_at_us=T0))
        uow.transfers.add_quote(quote("q2", "m1", created_at_us=T0 + 99, transfer_id="t1"))
        uow.transfers.add_quote(quote("q3", "m1", created_at_us=T0 + 100))

    commit(factory, issue)
    found = read(factory, lambda uow: uow.metrics.quotes(WINDOW))
    assert sorted(found) == [(ALPHA, BRAVO, False), (ALPHA, BRAVO, True)]


def test_grants_carry_the_canonical_level_on_the_targets_current_ladder(
    factory: UnitOfWorkFactory,
) -> None:
    def grant(uow: UnitOfWork) -> None:
        uow.tiers.add_ladder(TierLadder(BRAVO, 1, (Tier("GOLD", "Gold", 1, 2),), False), T0)
        uow.tiers.add_ladder(TierLadder(BRAVO, 2, (Tier("GOLD", "Gold", 1, 4),), False), T0)
        recognitions = [(ALPHA, BRAVO, "GOLD"), (ALPHA, CHARLIE, "X"), (ALPHA, BRAVO, "GOLD")]
        for n, (recognition, at_us) in enumerate(
            zip(recognitions, (T0, T0 + 5, T0 + 100), strict=True)
        ):
            uow.tiers.add_grant(f"g{n}", "m1", recognition, None, at_us, at_us + 50)

    commit(factory, grant)
    found = read(factory, lambda uow: uow.metrics.grants(WINDOW))
    assert sorted(found, key=repr) == [
        GrantFact(ALPHA, BRAVO, "m1", 4),
        GrantFact(ALPHA, CHARLIE, "m1", 0),
    ]
    held = read(factory, lambda uow: uow.metrics.grants(WINDOW, held_at_us=T0 + 50))
    assert held == [GrantFact(ALPHA, CHARLIE, "m1", 0)], "g0 expired at T0 + 50"


def test_tier_reports_are_none_without_reports(factory: UnitOfWorkFactory) -> None:
    assert read(factory, lambda uow: uow.metrics.tier_reports(WINDOW)) == []


def test_tier_reports_are_the_latest_reports_in_the_window(
    factory: UnitOfWorkFactory, backend: str, request: pytest.FixtureRequest
) -> None:
    fake_disagrees(request, backend, "the fake keeps no tier-report times: always []")

    def report(uow: UnitOfWork) -> None:
        uow.tiers.save_member_tier("m1", ALPHA, b"old", T0 - 1)
        uow.tiers.save_member_tier("m1", ALPHA, b"new", T0 + 1)
        uow.tiers.save_member_tier("m1", BRAVO, b"late", T0 + 100)
        uow.tiers.save_member_tier("m2", ALPHA, b"on time", T0)

    commit(factory, report)
    found = read(factory, lambda uow: uow.metrics.tier_reports(WINDOW))
    assert sorted(found) == [("m1", ALPHA), ("m2", ALPHA)]


def test_net_positions_of_a_day_without_transfers_are_none(factory: UnitOfWorkFactory) -> None:
    assert read(factory, lambda uow: uow.metrics.net_positions(DAY)) == []


def test_net_positions_come_only_from_a_settled_day(
    factory: UnitOfWorkFactory, backend: str, request: pytest.FixtureRequest
) -> None:
    fake_disagrees(request, backend, "the fake nets completed transfers: no settlement runs")
    commit(factory, _transfers)
    assert read(factory, lambda uow: uow.metrics.net_positions(DAY)) == []


def test_linked_brands_are_those_of_members_linked_at_two_or_more(
    factory: UnitOfWorkFactory,
) -> None:
    assert read(factory, lambda uow: uow.metrics.linked_brands()) == {
        "m1": frozenset({ALPHA, BRAVO, CHARLIE})
    }
