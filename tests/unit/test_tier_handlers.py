"""Tier ladder, recognition agreement, tier report and status-match handlers, with the fakes."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from exchange.domain import limits
from exchange.domain.agreements import AgreementState
from exchange.domain.errors import ErrorCode, InvalidArgument
from exchange.domain.events import TierGranted
from exchange.domain.members import new_ppid
from exchange.domain.tiers import DAY_US, RecognitionAgreement, Tier
from exchange.services import identity, tiers
from tests.unit.in_memory_hub import HARBOR, ORBIT, SKYWAY, InMemoryHub

HOUR_US = 3600 * 1_000_000
SKYWAY_TIERS = (
    Tier("BLUE", "Blue", 1, 1),
    Tier("SILVER", "Silver", 2, 2),
    Tier("GOLD", "Gold", 3, 3),
    Tier("DIAMOND", "Diamond", 4, 5),
)
HARBOR_TIERS = (
    Tier("CLASSIC", "Classic", 1, 1),
    Tier("PREFERRED", "Preferred", 2, 2),
    Tier("ELITE", "Elite", 3, 4),
    Tier("AMBASSADOR", "Ambassador", 4, 5),
)
# By canonical level: the highest harbor tier at or below each skyway tier's level.
CANONICAL_RULES = (
    ("BLUE", "CLASSIC"),
    ("SILVER", "PREFERRED"),
    ("GOLD", "PREFERRED"),
    ("DIAMOND", "AMBASSADOR"),
)
RULES = (("GOLD", "ELITE"), ("DIAMOND", "AMBASSADOR"))
VALIDITY_DAYS = 180
INTERVAL_DAYS = 30


@pytest.fixture
def hub() -> InMemoryHub:
    hub = InMemoryHub()
    hub.add_partners(SKYWAY, HARBOR, ORBIT)
    return hub


def publish(
    hub: InMemoryHub, partner_id: str, ladder: Sequence[Tier], canonical: bool = False
) -> int:
    return hub.commit(
        lambda uow: tiers.publish_ladder(uow, hub.clock, partner_id, ladder, canonical)
    )


def proposal(
    caller: str = SKYWAY,
    rules: tuple[tuple[str, str], ...] = RULES,
    source: str = SKYWAY,
    target: str = HARBOR,
) -> tiers.ProposeRecognition:
    return tiers.ProposeRecognition(caller, source, target, rules, VALIDITY_DAYS, INTERVAL_DAYS)


def propose(hub: InMemoryHub, command: tiers.ProposeRecognition) -> RecognitionAgreement:
    return hub.commit(lambda uow: tiers.propose_recognition(uow, hub.clock, command))


def accept(hub: InMemoryHub, caller: str, agreement: RecognitionAgreement) -> RecognitionAgreement:
    return hub.commit(
        lambda uow: tiers.accept_recognition(
            uow, hub.clock, caller, agreement.agreement_id, agreement.version
        )
    )


def agreed(hub: InMemoryHub, rules: tuple[tuple[str, str], ...] = RULES) -> RecognitionAgreement:
    """Skyway proposes skyway → harbor terms and harbor accepts them."""
    return accept(hub, HARBOR, propose(hub, proposal(rules=rules)))


def report(hub: InMemoryHub, ppid: str, tier_code: str, lasting_us: int = 365 * DAY_US) -> None:
    expires_at_us = hub.clock.now_us() + lasting_us
    hub.commit(
        lambda uow: tiers.report_member_tier(uow, hub.clock, SKYWAY, ppid, tier_code, expires_at_us)
    )


def match(hub: InMemoryHub, ppid: str, target: str = HARBOR) -> tiers.Grant:
    return hub.commit(lambda uow: tiers.request_status_match(uow, hub.clock, SKYWAY, ppid, target))


def match_refused(hub: InMemoryHub, ppid: str, target: str = HARBOR) -> ErrorCode:
    return hub.refused(
        lambda uow: tiers.request_status_match(uow, hub.clock, SKYWAY, ppid, target)
    ).code


def mapping(hub: InMemoryHub, caller: str = SKYWAY) -> tiers.TierMapping:
    return hub.read(lambda uow: tiers.tier_mapping(uow, caller, SKYWAY, HARBOR))


@pytest.fixture
def member(hub: InMemoryHub) -> tuple[str, str]:
    """(skyway ppid, harbor ppid) of one member linked at both."""
    skyway_ppid, harbor_ppid = hub.enroll(SKYWAY), hub.enroll(HARBOR)
    hub.link((SKYWAY, skyway_ppid), (HARBOR, harbor_ppid))
    return skyway_ppid, harbor_ppid


@pytest.fixture
def ladders(hub: InMemoryHub) -> None:
    publish(hub, SKYWAY, SKYWAY_TIERS)
    publish(hub, HARBOR, HARBOR_TIERS)


# publish_ladder


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


# propose_recognition and accept_recognition


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


# report_member_tier


@pytest.mark.usefixtures("ladders")
def test_report_refuses_a_tier_off_the_partners_own_ladder(
    hub: InMemoryHub, member: tuple[str, str]
) -> None:
    skyway_ppid, _ = member
    far = hub.clock.now_us() + DAY_US

    error = hub.refused(
        lambda uow: tiers.report_member_tier(uow, hub.clock, SKYWAY, skyway_ppid, "ELITE", far)
    )

    assert isinstance(error, InvalidArgument)
    assert [violation.field for violation in error.field_violations] == ["tier_code"]


@pytest.mark.parametrize(
    "lasting_us", [0, -HOUR_US, limits.TIER_EXPIRY_S_MAX * 1_000_000 + 1], ids=str
)
@pytest.mark.usefixtures("ladders")
def test_report_refuses_an_expiry_not_in_the_next_ten_years(
    hub: InMemoryHub, member: tuple[str, str], lasting_us: int
) -> None:
    skyway_ppid, _ = member
    expires_at_us = hub.clock.now_us() + lasting_us

    error = hub.refused(
        lambda uow: tiers.report_member_tier(
            uow, hub.clock, SKYWAY, skyway_ppid, "GOLD", expires_at_us
        )
    )

    assert isinstance(error, InvalidArgument)
    assert [violation.field for violation in error.field_violations] == ["expire_time"]


@pytest.mark.usefixtures("ladders")
def test_a_new_report_replaces_the_old_one(hub: InMemoryHub, member: tuple[str, str]) -> None:
    skyway_ppid, _ = member
    report(hub, skyway_ppid, "DIAMOND", limits.TIER_EXPIRY_S_MAX * 1_000_000)
    report(hub, skyway_ppid, "GOLD")
    agreed(hub)

    assert match(hub, skyway_ppid).tier_code == "ELITE"


def test_report_needs_a_published_ladder(hub: InMemoryHub, member: tuple[str, str]) -> None:
    skyway_ppid, _ = member
    far = hub.clock.now_us() + DAY_US

    error = hub.refused(
        lambda uow: tiers.report_member_tier(uow, hub.clock, SKYWAY, skyway_ppid, "GOLD", far)
    )

    assert error.code is ErrorCode.LADDER_NOT_PUBLISHED


@pytest.mark.usefixtures("ladders")
def test_report_refuses_another_partners_ppid_like_an_unknown_one(
    hub: InMemoryHub, member: tuple[str, str]
) -> None:
    _, harbor_ppid = member
    far = hub.clock.now_us() + DAY_US

    foreign = hub.refused(
        lambda uow: tiers.report_member_tier(uow, hub.clock, SKYWAY, harbor_ppid, "GOLD", far)
    )
    unknown = hub.refused(
        lambda uow: tiers.report_member_tier(uow, hub.clock, SKYWAY, new_ppid(), "GOLD", far)
    )

    assert foreign.code is unknown.code is ErrorCode.MEMBER_NOT_FOUND
    assert foreign.message == unknown.message


# request_status_match


@pytest.mark.usefixtures("ladders")
def test_a_match_under_the_agreement_tells_only_the_target_and_only_the_grant(
    hub: InMemoryHub, member: tuple[str, str]
) -> None:
    skyway_ppid, harbor_ppid = member
    report(hub, skyway_ppid, "GOLD")
    agreed(hub)

    grant = match(hub, skyway_ppid)

    assert grant.target_partner_id == HARBOR
    assert grant.tier_code == "ELITE"
    assert grant.expires_at_us == hub.clock.now_us() + VALIDITY_DAYS * DAY_US
    assert hub.feed(HARBOR) == [
        TierGranted(harbor_ppid, grant.grant_id, "ELITE", grant.expires_at_us)
    ]
    assert hub.feed(SKYWAY) == []
    [stored] = hub.read(lambda uow: uow.events.after(HARBOR, 0, 10))
    assert b"GOLD" not in stored.payload
    assert skyway_ppid.encode() not in stored.payload


def test_a_match_by_canonical_level_when_both_partners_opted_in(
    hub: InMemoryHub, member: tuple[str, str]
) -> None:
    skyway_ppid, harbor_ppid = member
    publish(hub, SKYWAY, SKYWAY_TIERS, canonical=True)
    publish(hub, HARBOR, HARBOR_TIERS, canonical=True)
    report(hub, skyway_ppid, "GOLD")

    grant = match(hub, skyway_ppid)

    assert grant.tier_code == "PREFERRED"
    validity_us = limits.CANONICAL_GRANT_VALIDITY_DAYS * DAY_US
    assert grant.expires_at_us == hub.clock.now_us() + validity_us
    assert hub.feed(HARBOR) == [
        TierGranted(harbor_ppid, grant.grant_id, "PREFERRED", grant.expires_at_us)
    ]


@pytest.mark.parametrize(
    ("skyway_opted_in", "harbor_opted_in"), [(False, False), (True, False), (False, True)]
)
def test_no_recognition_without_an_agreement_unless_both_opted_in(
    hub: InMemoryHub, member: tuple[str, str], skyway_opted_in: bool, harbor_opted_in: bool
) -> None:
    skyway_ppid, _ = member
    publish(hub, SKYWAY, SKYWAY_TIERS, canonical=skyway_opted_in)
    publish(hub, HARBOR, HARBOR_TIERS, canonical=harbor_opted_in)
    report(hub, skyway_ppid, "GOLD")

    assert match_refused(hub, skyway_ppid) is ErrorCode.NO_RECOGNITION
    no_mapping = hub.refused(lambda uow: tiers.tier_mapping(uow, SKYWAY, SKYWAY, HARBOR))
    assert no_mapping.code is ErrorCode.NO_RECOGNITION
    assert hub.feed(HARBOR) == []


@pytest.mark.usefixtures("ladders")
def test_a_source_tier_without_a_rule_gets_nothing(
    hub: InMemoryHub, member: tuple[str, str]
) -> None:
    skyway_ppid, _ = member
    report(hub, skyway_ppid, "SILVER")
    agreed(hub)

    assert match_refused(hub, skyway_ppid) is ErrorCode.NO_MATCHING_RULE


@pytest.mark.usefixtures("ladders")
def test_a_match_needs_the_member_linked_at_the_target(hub: InMemoryHub) -> None:
    skyway_ppid = hub.enroll(SKYWAY)
    hub.link((SKYWAY, skyway_ppid), (ORBIT, hub.enroll(ORBIT)))
    hub.enroll(HARBOR)
    report(hub, skyway_ppid, "GOLD")
    agreed(hub)

    assert match_refused(hub, skyway_ppid) is ErrorCode.NOT_LINKED
    assert match_refused(hub, skyway_ppid, target=SKYWAY) is ErrorCode.NOT_LINKED
    assert hub.feed(HARBOR) == []


@pytest.mark.usefixtures("ladders")
def test_a_match_needs_a_current_tier(hub: InMemoryHub, member: tuple[str, str]) -> None:
    skyway_ppid, _ = member
    agreed(hub)
    assert match_refused(hub, skyway_ppid) is ErrorCode.NO_CURRENT_TIER

    report(hub, skyway_ppid, "GOLD", lasting_us=HOUR_US)
    hub.clock.advance_s(3600)

    assert match_refused(hub, skyway_ppid) is ErrorCode.NO_CURRENT_TIER
    assert hub.feed(HARBOR) == []


@pytest.mark.usefixtures("ladders")
def test_matches_are_spaced_by_the_agreed_interval(
    hub: InMemoryHub, member: tuple[str, str]
) -> None:
    skyway_ppid, harbor_ppid = member
    report(hub, skyway_ppid, "GOLD")
    agreed(hub)
    first = match(hub, skyway_ppid)

    hub.clock.advance_s(INTERVAL_DAYS * 24 * 3600 - 1)
    assert match_refused(hub, skyway_ppid) is ErrorCode.MATCH_TOO_FREQUENT
    hub.clock.advance_s(1)
    second = match(hub, skyway_ppid)

    assert second.grant_id != first.grant_id
    assert hub.feed(HARBOR) == [
        TierGranted(harbor_ppid, first.grant_id, "ELITE", first.expires_at_us),
        TierGranted(harbor_ppid, second.grant_id, "ELITE", second.expires_at_us),
    ]


@pytest.mark.parametrize(
    "target_issues_the_code",
    [False, True],
    ids=["source-issues-code", "target-issues-code"],
)
@pytest.mark.usefixtures("ladders")
def test_unlinking_and_relinking_does_not_reset_the_grant_interval(
    hub: InMemoryHub, member: tuple[str, str], target_issues_the_code: bool
) -> None:
    skyway_ppid, harbor_ppid = member
    report(hub, skyway_ppid, "GOLD")
    agreed(hub)
    match(hub, skyway_ppid)
    hub.commit(lambda uow: identity.unlink(uow, hub.clock, SKYWAY, skyway_ppid, HARBOR))

    skyway, harbor = (SKYWAY, skyway_ppid), (HARBOR, harbor_ppid)
    hub.link(*((harbor, skyway) if target_issues_the_code else (skyway, harbor)))

    assert match_refused(hub, skyway_ppid) is ErrorCode.MATCH_TOO_FREQUENT
    assert sum(isinstance(event, TierGranted) for event in hub.feed(HARBOR)) == 1


# tier_mapping


@pytest.mark.usefixtures("ladders")
def test_the_mapping_in_force_is_the_accepted_agreement(hub: InMemoryHub) -> None:
    accepted = agreed(hub)

    for caller in (SKYWAY, HARBOR):
        shown = mapping(hub, caller)
        assert shown.rules == (("DIAMOND", "AMBASSADOR"), ("GOLD", "ELITE"))
        assert shown.agreement == accepted


def test_the_mapping_falls_back_to_canonical_levels_when_both_opted_in(hub: InMemoryHub) -> None:
    publish(hub, SKYWAY, SKYWAY_TIERS, canonical=True)
    publish(hub, HARBOR, HARBOR_TIERS, canonical=True)

    shown = mapping(hub, HARBOR)

    assert shown.rules == CANONICAL_RULES
    assert shown.agreement is None


@pytest.mark.usefixtures("ladders")
def test_only_the_two_partners_may_read_their_mapping(hub: InMemoryHub) -> None:
    agreed(hub)

    error = hub.refused(lambda uow: tiers.tier_mapping(uow, ORBIT, SKYWAY, HARBOR))

    assert error.code is ErrorCode.NOT_A_PARTY
