"""Enrolment, one-time link codes and redeeming them into links."""

from __future__ import annotations

import re

from exchange.domain import limits
from exchange.domain.members import PPID_PATTERN, LinkCode, link_code_digest, normalize_link_code
from exchange.services import identity
from tests.unit.identity_handlers.support import (
    MICROSECONDS_PER_SECOND,
    harbor_tier_report,
    redeem,
    report_elite_at_harbor,
    stored_code,
)
from tests.unit.in_memory_hub import HARBOR, ORBIT, SKYWAY, InMemoryHub


def test_enroll_gives_each_member_a_fresh_ppid_known_only_to_the_enrolling_partner(
    hub: InMemoryHub,
) -> None:
    first, second = hub.enroll(SKYWAY), hub.enroll(SKYWAY)

    assert PPID_PATTERN.fullmatch(first) and PPID_PATTERN.fullmatch(second)
    assert first != second
    assert hub.cmid(SKYWAY, first) != hub.cmid(SKYWAY, second)
    assert hub.read(lambda uow: uow.members.get_ppid(HARBOR, first)) is None
    assert hub.links(SKYWAY, first) == []


def test_create_link_code_issues_a_one_time_code_bound_to_the_ppid(hub: InMemoryHub) -> None:
    ppid = hub.enroll(SKYWAY)

    issued = hub.commit(lambda uow: identity.create_link_code(uow, hub.clock, SKYWAY, ppid))

    assert re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", issued.code)
    ttl_us = limits.LINK_CODE_TTL_S * MICROSECONDS_PER_SECOND
    assert issued.expires_at_us == hub.clock.now_us() + ttl_us
    digest = link_code_digest(normalize_link_code(issued.code))
    assert stored_code(hub, issued.code) == LinkCode(
        digest, SKYWAY, ppid, issued.expires_at_us, None
    )


def test_redeem_links_both_accounts_and_returns_the_sorted_partner_ids(hub: InMemoryHub) -> None:
    skyway_ppid, harbor_ppid = hub.enroll(SKYWAY), hub.enroll(HARBOR)
    code = hub.link_code(SKYWAY, skyway_ppid)

    linked = hub.commit(redeem(hub, HARBOR, code, harbor_ppid))

    assert linked == [HARBOR, SKYWAY]
    assert hub.cmid(HARBOR, harbor_ppid) == hub.cmid(SKYWAY, skyway_ppid)
    assert hub.links(SKYWAY, skyway_ppid) == [HARBOR]
    assert hub.links(HARBOR, harbor_ppid) == [SKYWAY]
    redeemed = stored_code(hub, code)
    assert redeemed is not None and redeemed.redeemed_at_us == hub.clock.now_us()


def test_redeem_adds_a_third_partner_to_an_existing_link(hub: InMemoryHub) -> None:
    skyway_ppid, harbor_ppid, orbit_ppid = hub.enroll(SKYWAY), hub.enroll(HARBOR), hub.enroll(ORBIT)
    hub.link((SKYWAY, skyway_ppid), (ORBIT, orbit_ppid))

    linked = hub.link((ORBIT, orbit_ppid), (HARBOR, harbor_ppid))

    assert linked == [HARBOR, ORBIT, SKYWAY]
    assert hub.links(SKYWAY, skyway_ppid) == [HARBOR, ORBIT]


def test_redeem_accepts_the_code_as_a_member_types_it(hub: InMemoryHub) -> None:
    skyway_ppid, harbor_ppid = hub.enroll(SKYWAY), hub.enroll(HARBOR)
    typed = hub.link_code(SKYWAY, skyway_ppid).replace("-", " ").lower()

    assert hub.commit(redeem(hub, HARBOR, typed, harbor_ppid)) == [HARBOR, SKYWAY]


def test_redeem_carries_the_redeemers_tier_report_to_the_joined_member(hub: InMemoryHub) -> None:
    skyway_ppid, harbor_ppid = hub.enroll(SKYWAY), hub.enroll(HARBOR)
    report_elite_at_harbor(hub, harbor_ppid)

    hub.link((SKYWAY, skyway_ppid), (HARBOR, harbor_ppid))

    joined = hub.cmid(SKYWAY, skyway_ppid)
    report = hub.read(lambda uow: harbor_tier_report(uow, joined))
    assert report is not None and report["tier"] == "ELITE"


def test_redeem_is_allowed_until_the_code_expires(hub: InMemoryHub) -> None:
    skyway_ppid, harbor_ppid = hub.enroll(SKYWAY), hub.enroll(HARBOR)
    code = hub.link_code(SKYWAY, skyway_ppid)
    hub.clock.advance_s(limits.LINK_CODE_TTL_S - 1)

    assert hub.commit(redeem(hub, HARBOR, code, harbor_ppid)) == [HARBOR, SKYWAY]
