"""The bilateral agreement's one acceptance rule, for exchange rates and tier recognition alike
(exchange.domain.agreements): a party only, a proposal only, the counterparty only, the newest
version only."""

from __future__ import annotations

import pytest

from exchange.domain.agreements import Acceptance, AgreementState, ensure_acceptable, next_version
from exchange.domain.errors import DomainError, ErrorCode
from exchange.domain.rates import RateAgreement
from exchange.services import rates
from tests.unit.in_memory_hub import HARBOR, ORBIT, SKYWAY, InMemoryHub, terms

PROPOSED = AgreementState.PROPOSED
PAIR = (SKYWAY, HARBOR)


def refusal(acceptance: Acceptance) -> ErrorCode:
    with pytest.raises(DomainError) as raised:
        ensure_acceptable(acceptance, ErrorCode.RATE_AGREEMENT_NOT_FOUND)
    return raised.value.code


@pytest.mark.parametrize(
    ("acceptance", "code"),
    [
        (Acceptance(ORBIT, PAIR, PROPOSED, SKYWAY, 2, 2), ErrorCode.RATE_AGREEMENT_NOT_FOUND),
        (
            Acceptance(HARBOR, PAIR, AgreementState.ACCEPTED, SKYWAY, 2, 2),
            ErrorCode.AGREEMENT_NOT_PROPOSED,
        ),
        (Acceptance(SKYWAY, PAIR, PROPOSED, SKYWAY, 2, 2), ErrorCode.CANNOT_ACCEPT_OWN_PROPOSAL),
        (Acceptance(HARBOR, PAIR, PROPOSED, SKYWAY, 1, 2), ErrorCode.AGREEMENT_VERSION_STALE),
    ],
)
def test_each_rule_refuses_with_its_own_reason(acceptance: Acceptance, code: ErrorCode) -> None:
    assert refusal(acceptance) is code


def test_a_party_learns_nothing_before_a_stranger_would() -> None:
    """An outsider asking for a stale, accepted or own version still hears only not-found."""
    stranger = Acceptance(ORBIT, PAIR, AgreementState.ACCEPTED, ORBIT, 1, 2)
    assert refusal(stranger) is ErrorCode.RATE_AGREEMENT_NOT_FOUND


def test_the_counterparty_accepts_the_newest_proposal() -> None:
    ensure_acceptable(Acceptance(HARBOR, PAIR, PROPOSED, SKYWAY, 2, 2), ErrorCode.NOT_A_PARTY)


def test_versions_are_numbered_from_one() -> None:
    assert next_version([]) == 1
    hub = InMemoryHub()
    hub.add_partners(SKYWAY, HARBOR)
    first = hub.agree_rate(SKYWAY, HARBOR)
    assert (first.version, next_version([first])) == (1, 2)


def test_accepting_a_rate_version_that_a_newer_proposal_replaced_is_stale() -> None:
    hub = InMemoryHub()
    hub.add_partners(SKYWAY, HARBOR)

    def propose() -> RateAgreement:
        return hub.commit(
            lambda uow: rates.propose_rate_agreement(
                uow, hub.clock, SKYWAY, SKYWAY, HARBOR, terms()
            )
        )

    first, second = propose(), propose()
    error = hub.refused(
        lambda uow: rates.accept_rate_agreement(
            uow, hub.clock, HARBOR, first.agreement_id, first.version
        )
    )
    assert error.code is ErrorCode.AGREEMENT_VERSION_STALE
    accepted = hub.commit(
        lambda uow: rates.accept_rate_agreement(
            uow, hub.clock, HARBOR, second.agreement_id, second.version
        )
    )
    assert (accepted.version, accepted.state) == (2, AgreementState.ACCEPTED)
