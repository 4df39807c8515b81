"""TierRepository: tier ladders, recognition agreements, members' sealed tiers and grants."""

from __future__ import annotations

from dataclasses import replace

import pytest

from exchange.domain.agreements import AgreementState
from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from exchange.domain.tiers import RecognitionAgreement, Tier, TierLadder
from tests.contract.support import (
    ALPHA,
    BRAVO,
    CONFLICT,
    T0,
    commit,
    read,
    seed_member,
    seed_partners,
)

COVERS = {
    "TierRepository.current_ladder",
    "TierRepository.add_ladder",
    "TierRepository.agreement_versions",
    "TierRepository.get_agreement",
    "TierRepository.agreement_id_for",
    "TierRepository.add_agreement",
    "TierRepository.mark_accepted",
    "TierRepository.save_member_tier",
    "TierRepository.member_tier",
    "TierRepository.delete_member_tiers",
    "TierRepository.last_grant_at_us",
    "TierRepository.add_grant",
    "TierRepository.move_grants",
    "TierRepository.delete_grants",
}
GOLD, SILVER = Tier("GOLD", "Gold", 2, 3), Tier("SILVER", "Silver", 1, 2)


@pytest.fixture
def factory(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    seed_partners(uow_factory)
    seed_member(uow_factory, "m1", alpha="a1", bravo="b1")
    seed_member(uow_factory, "m2", alpha="a2")
    return uow_factory


def ladder(version: int, *tiers: Tier, partner_id: str = ALPHA) -> TierLadder:
    return TierLadder(partner_id, version, tiers, canonical_matching=version % 2 == 0)


def agreement(version: int, agreement_id: str = "ta1") -> RecognitionAgreement:
    # Rules out of order: stored and read back ordered by source tier code.
    rules = (("SILVER", "B_SILVER"), ("GOLD", "B_GOLD"))
    return RecognitionAgreement(
        agreement_id, version, ALPHA, BRAVO, rules, 365, 30, AgreementState.PROPOSED, ALPHA, T0
    )


def sorted_rules(found: RecognitionAgreement) -> RecognitionAgreement:
    return replace(found, rules=tuple(sorted(found.rules)))


def test_the_current_ladder_is_the_newest_version_tiers_by_rank(
    factory: UnitOfWorkFactory,
) -> None:
    assert read(factory, lambda uow: uow.tiers.current_ladder(ALPHA)) is None

    def publish(uow: UnitOfWork) -> None:
        uow.tiers.add_ladder(ladder(1, SILVER), T0)
        uow.tiers.add_ladder(ladder(3, GOLD, SILVER), T0 + 2)
        uow.tiers.add_ladder(ladder(2, SILVER, GOLD), T0 + 1)

    commit(factory, publish)
    assert read(factory, lambda uow: uow.tiers.current_ladder(ALPHA)) == ladder(3, SILVER, GOLD)
    assert read(factory, lambda uow: uow.tiers.current_ladder(BRAVO)) is None


@pytest.mark.parametrize(
    "refused",
    [
        ladder(1, GOLD),  # version 1 is taken
        ladder(2, GOLD, Tier("GOLD", "Gold again", 3, 4)),  # one code twice
        ladder(1, GOLD, partner_id="nobody"),
    ],
)
def test_add_ladder_refuses(factory: UnitOfWorkFactory, refused: TierLadder) -> None:
    commit(factory, lambda uow: uow.tiers.add_ladder(ladder(1, SILVER), T0))
    with pytest.raises(CONFLICT), factory() as uow:
        uow.tiers.add_ladder(refused, T0)


def test_agreement_versions_round_trip_oldest_first(factory: UnitOfWorkFactory) -> None:
    assert read(factory, lambda uow: uow.tiers.agreement_versions(ALPHA, BRAVO)) == []
    assert read(factory, lambda uow: uow.tiers.agreement_id_for(ALPHA, BRAVO)) is None

    def propose(uow: UnitOfWork) -> None:
        uow.tiers.add_agreement(agreement(2))
        uow.tiers.add_agreement(agreement(1))

    commit(factory, propose)
    found = read(factory, lambda uow: uow.tiers.agreement_versions(ALPHA, BRAVO))
    assert found == [sorted_rules(agreement(1)), sorted_rules(agreement(2))]
    assert found[0].rules == (("GOLD", "B_GOLD"), ("SILVER", "B_SILVER"))
    assert read(factory, lambda uow: uow.tiers.agreement_versions(BRAVO, ALPHA)) == []
    assert read(factory, lambda uow: uow.tiers.agreement_id_for(ALPHA, BRAVO)) == "ta1"
    assert read(factory, lambda uow: uow.tiers.agreement_id_for(BRAVO, ALPHA)) is None


def test_get_agreement_and_mark_accepted(factory: UnitOfWorkFactory) -> None:
    commit(factory, lambda uow: uow.tiers.add_agreement(agreement(1)))
    assert read(factory, lambda uow: uow.tiers.get_agreement("ta1", 2)) is None
    commit(factory, lambda uow: uow.tiers.mark_accepted("ta1", 1, T0 + 5))
    commit(factory, lambda uow: uow.tiers.mark_accepted("ta1", 9, T0 + 5))  # unknown: no-op
    found = read(factory, lambda uow: uow.tiers.get_agreement("ta1", 1))
    assert found is not None
    assert (found.state, found.accepted_at_us) == (AgreementState.ACCEPTED, T0 + 5)
    assert found.rules == sorted_rules(agreement(1)).rules


def test_add_agreement_refuses_a_taken_version(factory: UnitOfWorkFactory) -> None:
    commit(factory, lambda uow: uow.tiers.add_agreement(agreement(1)))
    with pytest.raises(CONFLICT), factory() as uow:
        uow.tiers.add_agreement(agreement(1))


def test_a_member_tier_is_replaced_and_deleted_per_partner(factory: UnitOfWorkFactory) -> None:
    def report(uow: UnitOfWork) -> None:
        uow.tiers.save_member_tier("m1", ALPHA, b"first", T0)
        uow.tiers.save_member_tier("m1", ALPHA, b"second", T0 + 1)
        uow.tiers.save_member_tier("m1", BRAVO, b"bravo", T0)

    commit(factory, report)
    assert read(factory, lambda uow: uow.tiers.member_tier("m1", ALPHA)) == b"second"
    assert read(factory, lambda uow: uow.tiers.member_tier("m2", ALPHA)) is None
    commit(factory, lambda uow: uow.tiers.delete_member_tiers("m1", ALPHA))
    assert read(factory, lambda uow: uow.tiers.member_tier("m1", ALPHA)) is None
    assert read(factory, lambda uow: uow.tiers.member_tier("m1", BRAVO)) == b"bravo"
    commit(factory, lambda uow: uow.tiers.delete_member_tiers("m1"))
    assert read(factory, lambda uow: uow.tiers.member_tier("m1", BRAVO)) is None


def test_save_member_tier_refuses_an_unknown_member(factory: UnitOfWorkFactory) -> None:
    with pytest.raises(CONFLICT), factory() as uow:
        uow.tiers.save_member_tier("nobody", ALPHA, b"x", T0)


def _grant(uow: UnitOfWork, grant_id: str, cmid: str, at_us: int) -> None:
    uow.tiers.add_grant(grant_id, cmid, (ALPHA, BRAVO, "B_GOLD"), ("ta1", 1), at_us, at_us + 9)


def test_last_grant_is_the_latest_of_one_member_and_direction(
    factory: UnitOfWorkFactory,
) -> None:
    def grant(uow: UnitOfWork) -> None:
        _grant(uow, "g1", "m1", T0 + 10)
        _grant(uow, "g2", "m1", T0 + 30)
        _grant(uow, "g3", "m2", T0 + 50)
        uow.tiers.add_grant("g4", "m1", (BRAVO, ALPHA, "GOLD"), None, T0 + 70, T0 + 90)

    commit(factory, grant)
    assert read(factory, lambda uow: uow.tiers.last_grant_at_us("m1", ALPHA, BRAVO)) == T0 + 30
    assert read(factory, lambda uow: uow.tiers.last_grant_at_us("m1", BRAVO, ALPHA)) == T0 + 70
    assert read(factory, lambda uow: uow.tiers.last_grant_at_us("m2", BRAVO, ALPHA)) is None


@pytest.mark.parametrize(("grant_id", "cmid"), [("g1", "m2"), ("g2", "nobody")])
def test_add_grant_refuses(factory: UnitOfWorkFactory, grant_id: str, cmid: str) -> None:
    commit(factory, lambda uow: _grant(uow, "g1", "m1", T0))
    with pytest.raises(CONFLICT), factory() as uow:
        _grant(uow, grant_id, cmid, T0)


def test_grants_follow_a_merged_member_and_go_with_deletion(factory: UnitOfWorkFactory) -> None:
    commit(factory, lambda uow: _grant(uow, "g1", "m2", T0 + 10))
    commit(factory, lambda uow: uow.tiers.move_grants("m2", "m1"))
    assert read(factory, lambda uow: uow.tiers.last_grant_at_us("m1", ALPHA, BRAVO)) == T0 + 10
    assert read(factory, lambda uow: uow.tiers.last_grant_at_us("m2", ALPHA, BRAVO)) is None
    commit(factory, lambda uow: uow.tiers.delete_grants("m1"))
    assert read(factory, lambda uow: uow.tiers.last_grant_at_us("m1", ALPHA, BRAVO)) is None
