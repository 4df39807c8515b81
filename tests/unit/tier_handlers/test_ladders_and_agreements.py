"""Publishing ladders; proposing and accepting recognition agreements."""

from __future__ import annotations

import pytest

from exchange.domain.agreements import AgreementState
from exchange.domain.errors import ErrorCode, InvalidArgument
from exchange.domain.tiers import Tier
from exchange.services import tiers
from tests.unit.in_memory_hub import HARBOR, ORBIT, SKYWAY, InMemoryHub
from tests.unit.tier_handlers.support import (
    HARBOR_TIERS,
    INTERVAL_DAYS,
    RULES,
    SKYWAY_TIERS,
    accept,
    agreed,
    mapping,
    match,
    match_refused,
    proposal,
    propose,
    publish,
    report,
)


def test_publishing_again_makes_a_new_current_version_ordered_by_rank(hub: InMemoryHub) -> None:
    assert publish(hub, SKYWAY, SKYWAY_TIERS[:2]) == 1
    assert publish(hub, SKYWAY, tuple(reversed(SKYWAY_TIERS)), canonical=True) == 2

    current = hub.read(lambda uow: uow.tiers.current_ladder(SKYWAY))
    assert current is not None
    assert current.version == 2
    assert current.tiers == SKYWAY_TIERS
    assert current.canonical_matching
    assert hub.read(lambda uow: uow.tiers.current_ladder(HARBOR)) is None


@pytest.mark.parametrize(
    ("ladder", "fields"),
    [
        ((Tier("A", "A", 1, 1), Tier("B", "B", 2, 2), Tier("C", "C", 4, 3)), ["tiers.rank"]),
        ((Tier("A", "A", 1, 1), Tier("B", "B", 2, 2), Tier("C", "C", 2, 3)), ["tiers.rank"]),
        ((Tier("A", "A", 2, 1), Tier("B", "B", 3, 2)), ["tiers.rank"]),
        ((Tier("A", "A", 1, 1), Tier("A", "Again", 2, 2)), ["tiers[1].code"]),
        ((Tier("A", "A", 1, 0), Tier("B", "B", 2, 2)), ["tiers[0].canonical_level"]),
        ((Tier("A", "A", 1, 1), Tier("B", "B", 2, 6)), ["tiers[1].canonical_level"]),
        ((Tier("A", "A", 1, 3), Tier("B", "B", 2, 2)), ["tiers.canonical_level"]),
        ((Tier("B", "B", 2, 2), Tier("A", "A", 1, 3)), ["tiers.canonical_level"]),
        ((), ["tiers"]),
    ],
    ids=[
        "rank-gap",
        "duplicate-rank",
        "ranks-not-from-1",
        "duplicate-code",
        "canonical-0",
        "canonical-6",
        "canonical-decreasing",
        "canonical-decreasing-out-of-order",
        "empty",
    ],
)
def test_a_bad_ladder_is_refused_naming_the_field_and_not_published(
    hub: InMemoryHub, ladder: tuple[Tier, ...], fields: list[str]
) -> None:
    error = hub.refused(lambda uow: tiers.publish_ladder(uow, hub.clock, SKYWAY, ladder, False))

    assert isinstance(error, InvalidArgument)
    assert [violation.field for violation in error.field_violations] == fields
    assert all(field in error.message for field in fields)
    assert hub.read(lambda uow: uow.tiers.current_ladder(SKYWAY)) is None


@pytest.mark.usefixtures("ladders")
def test_a_proposal_takes_effect_once_the_counterparty_accepts_it(hub: InMemoryHub) -> None:
    proposed = propose(hub, proposal(rules=tuple(reversed(RULES))))
    hub.clock.advance_s(60)

    accepted = accept(hub, HARBOR, proposed)

    assert proposed.version == 1
    assert proposed.state is AgreementState.PROPOSED
    assert proposed.proposed_by == SKYWAY
    assert proposed.rules == (("DIAMOND", "AMBASSADOR"), ("GOLD", "ELITE"))
    assert accepted.state is AgreementState.ACCEPTED
    assert accepted.accepted_at_us == hub.clock.now_us()
    stored = hub.read(lambda uow: uow.tiers.agreement_versions(SKYWAY, HARBOR))
    assert stored == [accepted]
    assert hub.read(lambda uow: tiers.effective_agreement(uow, SKYWAY, HARBOR)) == accepted


@pytest.mark.usefixtures("ladders")
def test_the_target_may_propose_and_the_source_accept(hub: InMemoryHub) -> None:
    proposed = propose(hub, proposal(caller=HARBOR))

    assert accept(hub, SKYWAY, proposed).state is AgreementState.ACCEPTED


@pytest.mark.usefixtures("ladders")
def test_only_the_two_partners_may_propose(hub: InMemoryHub) -> None:
    error = hub.refused(lambda uow: tiers.propose_recognition(uow, hub.clock, proposal(ORBIT)))

    assert error.code is ErrorCode.NOT_A_PARTY
    assert hub.read(lambda uow: uow.tiers.agreement_versions(SKYWAY, HARBOR)) == []


@pytest.mark.parametrize(
    ("command", "fields"),
    [
        (proposal(target=SKYWAY), ["target_partner_id"]),
        (proposal(source="Sky Way"), ["source_partner_id"]),
        (
            tiers.ProposeRecognition(SKYWAY, SKYWAY, HARBOR, RULES, 0, -1),
            ["validity_days", "min_days_between_grants"],
        ),
        (proposal(rules=()), ["rules"]),
        (
            proposal(rules=(("GOLD", "ELITE"), ("GOLD", "AMBASSADOR"))),
            ["rules[1].source_tier_code"],
        ),
    ],
    ids=["same-partner", "malformed-partner", "terms", "no-rules", "duplicate-source-tier"],
)
@pytest.mark.usefixtures("ladders")
def test_bad_proposals_are_refused_naming_the_fields(
    hub: InMemoryHub, command: tiers.ProposeRecognition, fields: list[str]
) -> None:
    error = hub.refused(lambda uow: tiers.propose_recognition(uow, hub.clock, command))

    assert isinstance(error, InvalidArgument)
    assert [violation.field for violation in error.field_violations] == fields
    assert hub.read(lambda uow: uow.tiers.agreement_versions(SKYWAY, HARBOR)) == []


@pytest.mark.usefixtures("ladders")
def test_the_proposer_cannot_accept_its_own_proposal(hub: InMemoryHub) -> None:
    proposed = propose(hub, proposal())

    error = hub.refused(
        lambda uow: tiers.accept_recognition(uow, hub.clock, SKYWAY, proposed.agreement_id, 1)
    )

    assert error.code is ErrorCode.CANNOT_ACCEPT_OWN_PROPOSAL
    assert hub.read(lambda uow: tiers.effective_agreement(uow, SKYWAY, HARBOR)) is None


@pytest.mark.usefixtures("ladders")
def test_an_outsider_cannot_see_or_accept_the_proposal(hub: InMemoryHub) -> None:
    proposed = propose(hub, proposal())

    outsider = hub.refused(
        lambda uow: tiers.accept_recognition(uow, hub.clock, ORBIT, proposed.agreement_id, 1)
    )
    unknown = hub.refused(
        lambda uow: tiers.accept_recognition(uow, hub.clock, HARBOR, "ra_0000000000000000", 1)
    )

    assert outsider.code is unknown.code is ErrorCode.AGREEMENT_NOT_FOUND
    assert outsider.message == unknown.message


@pytest.mark.usefixtures("ladders")
def test_accepting_an_older_version_is_stale(hub: InMemoryHub) -> None:
    first = propose(hub, proposal())
    second = propose(hub, proposal(rules=(("GOLD", "PREFERRED"),)))

    error = hub.refused(
        lambda uow: tiers.accept_recognition(uow, hub.clock, HARBOR, first.agreement_id, 1)
    )

    assert second.agreement_id == first.agreement_id
    assert second.version == 2
    assert error.code is ErrorCode.AGREEMENT_VERSION_STALE
    assert accept(hub, HARBOR, second).rules == (("GOLD", "PREFERRED"),)


@pytest.mark.usefixtures("ladders")
def test_an_accepted_version_cannot_be_accepted_again(hub: InMemoryHub) -> None:
    accepted = agreed(hub)

    error = hub.refused(
        lambda uow: tiers.accept_recognition(uow, hub.clock, HARBOR, accepted.agreement_id, 1)
    )

    assert error.code is ErrorCode.AGREEMENT_NOT_PROPOSED


@pytest.mark.usefixtures("ladders")
def test_rules_naming_tiers_off_either_ladder_are_refused_naming_each(hub: InMemoryHub) -> None:
    rules = (("GOLD", "ELITE"), ("PLATINUM", "ELITE"), ("DIAMOND", "KING"))

    error = hub.refused(
        lambda uow: tiers.propose_recognition(uow, hub.clock, proposal(rules=rules))
    )

    assert isinstance(error, InvalidArgument)
    assert [violation.field for violation in error.field_violations] == [
        "rules[1].source_tier_code",
        "rules[2].target_tier_code",
    ]
    assert hub.read(lambda uow: uow.tiers.agreement_versions(SKYWAY, HARBOR)) == []


@pytest.mark.parametrize("published", [SKYWAY, HARBOR])
def test_a_proposal_needs_both_ladders_published(hub: InMemoryHub, published: str) -> None:
    publish(hub, published, SKYWAY_TIERS if published == SKYWAY else HARBOR_TIERS)

    error = hub.refused(lambda uow: tiers.propose_recognition(uow, hub.clock, proposal()))

    assert error.code is ErrorCode.LADDER_NOT_PUBLISHED


@pytest.mark.usefixtures("ladders")
def test_the_newest_accepted_version_applies_never_a_mere_proposal(
    hub: InMemoryHub, member: tuple[str, str]
) -> None:
    skyway_ppid, _ = member
    report(hub, skyway_ppid, "GOLD")
    first = propose(hub, proposal())
    assert match_refused(hub, skyway_ppid) is ErrorCode.NO_RECOGNITION
    accept(hub, HARBOR, first)
    propose(hub, proposal(rules=(("GOLD", "AMBASSADOR"),)))

    assert match(hub, skyway_ppid).tier_code == "ELITE"
    assert mapping(hub).rules == (("DIAMOND", "AMBASSADOR"), ("GOLD", "ELITE"))
    effective = mapping(hub).agreement
    assert effective is not None and effective.version == 1

    accept(hub, HARBOR, propose(hub, proposal(rules=(("GOLD", "PREFERRED"),))))
    hub.clock.advance_s(INTERVAL_DAYS * 24 * 3600)
    assert match(hub, skyway_ppid).tier_code == "PREFERRED"
    effective = mapping(hub).agreement
    assert effective is not None and effective.version == 3
