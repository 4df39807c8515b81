"""RateAgreementRepository: versioned rate agreements per direction, and their listing."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from exchange.domain.agreements import AgreementState
from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from exchange.domain.rates import RateAgreement, RateTerms
from tests.contract.support import ALPHA, BRAVO, CHARLIE, CONFLICT, T0, commit, read, seed_partners

COVERS = {
    "RateAgreementRepository.versions",
    "RateAgreementRepository.get",
    "RateAgreementRepository.agreement_id_for",
    "RateAgreementRepository.add",
    "RateAgreementRepository.mark_accepted",
    "RateAgreementRepository.list_for",
}
TERMS = RateTerms(
    source_units=1000,
    destination_units=750,
    minimum_source_points=1000,
    increment_source_points=1000,
    maximum_source_points=100_000,
    member_daily_cap_source_points=200_000,
    bonus_percent=10,
    bonus_start_us=T0,
    bonus_end_us=T0 + 99,
    currency="USD",
    price_per_destination_point=Decimal("0.0040"),
    effective_from_us=T0,
    effective_to_us=None,
)


def rate(
    agreement_id: str, version: int, source: str = ALPHA, destination: str = BRAVO
) -> RateAgreement:
    return RateAgreement(
        agreement_id, version, source, destination, TERMS, AgreementState.PROPOSED, source, T0
    )


@pytest.fixture
def factory(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    seed_partners(uow_factory)
    return uow_factory


def test_versions_round_trip_oldest_first(factory: UnitOfWorkFactory) -> None:
    assert read(factory, lambda uow: uow.rates.versions(ALPHA, BRAVO)) == []
    assert read(factory, lambda uow: uow.rates.agreement_id_for(ALPHA, BRAVO)) is None
    exact = replace(
        rate("ra1", 1), terms=replace(TERMS, price_per_destination_point=Decimal("0.0001"))
    )

    def propose(uow: UnitOfWork) -> None:
        uow.rates.add(rate("ra1", 2))
        uow.rates.add(exact)
        uow.rates.add(rate("ra2", 1, BRAVO, ALPHA))

    commit(factory, propose)
    assert read(factory, lambda uow: uow.rates.versions(ALPHA, BRAVO)) == [exact, rate("ra1", 2)]
    assert read(factory, lambda uow: uow.rates.agreement_id_for(ALPHA, BRAVO)) == "ra1"
    assert read(factory, lambda uow: uow.rates.agreement_id_for(BRAVO, ALPHA)) == "ra2"
    assert read(factory, lambda uow: uow.rates.agreement_id_for(ALPHA, CHARLIE)) is None


def test_get_and_mark_accepted(factory: UnitOfWorkFactory) -> None:
    commit(factory, lambda uow: uow.rates.add(rate("ra1", 1)))
    assert read(factory, lambda uow: uow.rates.get("ra1", 2)) is None
    commit(factory, lambda uow: uow.rates.mark_accepted("ra1", 1, T0 + 5))
    commit(factory, lambda uow: uow.rates.mark_accepted("ra1", 7, T0 + 5))  # unknown: no-op
    accepted = replace(rate("ra1", 1), state=AgreementState.ACCEPTED, accepted_at_us=T0 + 5)
    assert read(factory, lambda uow: uow.rates.get("ra1", 1)) == accepted


@pytest.mark.parametrize("refused", [rate("ra1", 1), rate("ra9", 1, ALPHA, "nobody")])
def test_add_refuses(factory: UnitOfWorkFactory, refused: RateAgreement) -> None:
    commit(factory, lambda uow: uow.rates.add(rate("ra1", 1)))
    with pytest.raises(CONFLICT), factory() as uow:
        uow.rates.add(refused)


def test_list_for_pages_the_partners_agreements_by_id_and_version(
    factory: UnitOfWorkFactory,
) -> None:
    def propose(uow: UnitOfWork) -> None:
        for agreement in (
            rate("rb", 1, CHARLIE, ALPHA),
            rate("ra", 2),
            rate("ra", 1),
            rate("rc", 1, BRAVO, CHARLIE),  # alpha is no party
        ):
            uow.rates.add(agreement)

    commit(factory, propose)

    def page(after: tuple[str, int] | None, limit: int) -> list[tuple[str, int]]:
        found = read(factory, lambda uow: uow.rates.list_for(ALPHA, after, limit))
        return [(a.agreement_id, a.version) for a in found]

    assert page(None, 2) == [("ra", 1), ("ra", 2)]
    assert page(("ra", 1), 2) == [("ra", 2), ("rb", 1)], "strictly after the position"
    assert page(("ra", 2), 5) == [("rb", 1)]
    assert page(("rb", 1), 5) == []
    assert page(None, 0) == []
