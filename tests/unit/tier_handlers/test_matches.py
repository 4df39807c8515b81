"""Matches: granted under the agreement or by canonical level, spaced; the mapping in force."""

from __future__ import annotations

import pytest

from exchange.domain import limits
from exchange.domain.errors import ErrorCode
from exchange.domain.events import TierGranted
from exchange.domain.tiers import DAY_US
from exchange.services import identity, tiers
from tests.unit.in_memory_hub import HARBOR, ORBIT, SKYWAY, InMemoryHub
from tests.unit.tier_handlers.support import (
    CANONICAL_RULES,
    HARBOR_TIERS,
    HOUR_US,
    INTERVAL_DAYS,
    SKYWAY_TIERS,
    VALIDITY_DAYS,
    agreed,
    mapping,
    match,
    match_refused,
    publish,
    report,
)


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
