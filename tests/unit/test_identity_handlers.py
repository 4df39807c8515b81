"""Enrolment, link codes, links, unlinking and erasure handlers, driven with the in-memory fakes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from exchange.adapters.memory import InMemoryUnitOfWork
from exchange.domain import limits
from exchange.domain.errors import DomainError, ErrorCode, InvalidArgument
from exchange.domain.events import MemberErased, MemberUnlinked
from exchange.domain.members import (
    PPID_PATTERN,
    LinkCode,
    link_code_digest,
    new_link_code,
    new_ppid,
    normalize_link_code,
)
from exchange.domain.tiers import Tier
from exchange.services import identity, tiers
from tests.unit.in_memory_hub import HARBOR, ORBIT, SKYWAY, InMemoryHub

MICROSECONDS_PER_SECOND = 1_000_000
HARBOR_TIERS = (Tier("CLASSIC", "Classic", 1, 1), Tier("ELITE", "Elite", 2, 4))


@pytest.fixture
def hub() -> InMemoryHub:
    hub = InMemoryHub()
    hub.add_partners(SKYWAY, HARBOR, ORBIT)
    return hub


def redeem(
    hub: InMemoryHub, partner_id: str, code: str, ppid: str
) -> Callable[[InMemoryUnitOfWork], list[str]]:
    return lambda uow: identity.redeem_link_code(uow, hub.clock, partner_id, code, ppid)


def stored_code(hub: InMemoryHub, code: str) -> LinkCode | None:
    digest = link_code_digest(normalize_link_code(code))
    return hub.read(lambda uow: uow.members.get_link_code(digest))


def failures(hub: InMemoryHub, partner_id: str) -> int:
    return hub.read(lambda uow: uow.members.link_failures_since(partner_id, 0))


def report_elite_at_harbor(hub: InMemoryHub, ppid: str) -> None:
    expires_at_us = hub.clock.now_us() + 3600 * MICROSECONDS_PER_SECOND
    hub.commit(lambda uow: tiers.publish_ladder(uow, hub.clock, HARBOR, HARBOR_TIERS, False))
    hub.commit(
        lambda uow: tiers.report_member_tier(uow, hub.clock, HARBOR, ppid, "ELITE", expires_at_us)
    )


def harbor_tier_report(uow: InMemoryUnitOfWork, cmid: str) -> dict[str, object] | None:
    sealed = uow.tiers.member_tier(cmid, HARBOR)
    opened = uow.vault.open(cmid, sealed) if sealed is not None else None
    return json.loads(opened) if opened is not None else None


# enroll_member and create_link_code


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


# redeem_link_code


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


def _unknown_code(hub: InMemoryHub, skyway_ppid: str) -> str:
    hub.link_code(SKYWAY, skyway_ppid)
    return new_link_code()


def _expired_code(hub: InMemoryHub, skyway_ppid: str) -> str:
    code = hub.link_code(SKYWAY, skyway_ppid)
    hub.clock.advance_s(limits.LINK_CODE_TTL_S + 1)
    return code


def _used_code(hub: InMemoryHub, skyway_ppid: str) -> str:
    code = hub.link_code(SKYWAY, skyway_ppid)
    hub.commit(redeem(hub, ORBIT, code, hub.enroll(ORBIT)))
    return code


@pytest.mark.parametrize(
    ("make_code", "code"),
    [
        (_unknown_code, ErrorCode.LINK_CODE_NOT_FOUND),
        (_expired_code, ErrorCode.LINK_CODE_EXPIRED),
        (_used_code, ErrorCode.LINK_CODE_USED),
    ],
    ids=["wrong", "expired", "reused"],
)
def test_redeem_refuses_a_bad_code_and_keeps_only_the_failure_record(
    hub: InMemoryHub, make_code: Callable[[InMemoryHub, str], str], code: ErrorCode
) -> None:
    skyway_ppid, harbor_ppid = hub.enroll(SKYWAY), hub.enroll(HARBOR)
    text = make_code(hub, skyway_ppid)
    harbor_cmid = hub.cmid(HARBOR, harbor_ppid)
    stored_before = stored_code(hub, text)

    error = hub.refused(redeem(hub, HARBOR, text, harbor_ppid))

    assert error.code is code
    assert error.keep_writes
    assert failures(hub, HARBOR) == 1
    assert stored_code(hub, text) == stored_before
    assert hub.cmid(HARBOR, harbor_ppid) == harbor_cmid
    assert hub.links(HARBOR, harbor_ppid) == []


def test_failures_past_the_limit_throttle_even_a_good_code_until_the_window_passes(
    hub: InMemoryHub,
) -> None:
    skyway_ppid, harbor_ppid = hub.enroll(SKYWAY), hub.enroll(HARBOR)
    good = hub.link_code(SKYWAY, skyway_ppid)
    for _ in range(limits.LINK_CODE_FAILURES_MAX):
        wrong = hub.refused(redeem(hub, HARBOR, new_link_code(), harbor_ppid))
        assert wrong.code is ErrorCode.LINK_CODE_NOT_FOUND

    throttled = hub.refused(redeem(hub, HARBOR, good, harbor_ppid))

    assert throttled.code is ErrorCode.LINK_CODE_THROTTLED
    assert not throttled.keep_writes
    assert failures(hub, HARBOR) == limits.LINK_CODE_FAILURES_MAX
    good_record = stored_code(hub, good)
    assert good_record is not None and good_record.redeemed_at_us is None
    hub.clock.advance_s(limits.LINK_CODE_FAILURE_WINDOW_S + 1)
    assert hub.commit(redeem(hub, HARBOR, good, harbor_ppid)) == [HARBOR, SKYWAY]


def test_one_partners_failures_do_not_throttle_another_partner(hub: InMemoryHub) -> None:
    skyway_ppid, harbor_ppid, orbit_ppid = hub.enroll(SKYWAY), hub.enroll(HARBOR), hub.enroll(ORBIT)
    for _ in range(limits.LINK_CODE_FAILURES_MAX):
        hub.refused(redeem(hub, HARBOR, new_link_code(), harbor_ppid))

    assert hub.link((SKYWAY, skyway_ppid), (ORBIT, orbit_ppid)) == [ORBIT, SKYWAY]


def test_redeem_refuses_a_code_from_the_same_partner(hub: InMemoryHub) -> None:
    issuer, redeemer = hub.enroll(SKYWAY), hub.enroll(SKYWAY)
    code = hub.link_code(SKYWAY, issuer)

    error = hub.refused(redeem(hub, SKYWAY, code, redeemer))

    assert error.code is ErrorCode.LINK_TO_SAME_PARTNER
    assert not error.keep_writes
    record = stored_code(hub, code)
    assert record is not None and record.redeemed_at_us is None
    assert hub.cmid(SKYWAY, issuer) != hub.cmid(SKYWAY, redeemer)


def test_redeem_refuses_a_redeemer_who_is_linked_already(hub: InMemoryHub) -> None:
    skyway_ppid, harbor_ppid, orbit_ppid = hub.enroll(SKYWAY), hub.enroll(HARBOR), hub.enroll(ORBIT)
    hub.link((ORBIT, orbit_ppid), (HARBOR, harbor_ppid))
    code = hub.link_code(SKYWAY, skyway_ppid)

    error = hub.refused(redeem(hub, HARBOR, code, harbor_ppid))

    assert error.code is ErrorCode.ALREADY_LINKED
    assert not error.keep_writes
    assert hub.links(SKYWAY, skyway_ppid) == []


def test_redeem_refuses_when_the_issuer_is_linked_to_another_account_here(
    hub: InMemoryHub,
) -> None:
    skyway_ppid, first_harbor, second_harbor = (
        hub.enroll(SKYWAY),
        hub.enroll(HARBOR),
        hub.enroll(HARBOR),
    )
    hub.link((SKYWAY, skyway_ppid), (HARBOR, first_harbor))
    code = hub.link_code(SKYWAY, skyway_ppid)

    error = hub.refused(redeem(hub, HARBOR, code, second_harbor))

    assert error.code is ErrorCode.PARTNER_ALREADY_LINKED
    assert hub.links(SKYWAY, skyway_ppid) == [HARBOR]
    assert hub.cmid(HARBOR, first_harbor) == hub.cmid(SKYWAY, skyway_ppid)


# Another partner's ppid, and malformed input

MemberCall = Callable[[InMemoryHub, str], Callable[[InMemoryUnitOfWork], object]]
MEMBER_CALLS: dict[str, MemberCall] = {
    "create_link_code": lambda hub, ppid: (
        lambda uow: identity.create_link_code(uow, hub.clock, HARBOR, ppid)
    ),
    "redeem_link_code": lambda hub, ppid: redeem(hub, HARBOR, new_link_code(), ppid),
    "list_links": lambda hub, ppid: lambda uow: identity.list_links(uow, HARBOR, ppid),
    "unlink": lambda hub, ppid: lambda uow: identity.unlink(uow, hub.clock, HARBOR, ppid, ""),
    "erase_member": lambda hub, ppid: (
        lambda uow: identity.erase_member(uow, hub.clock, HARBOR, ppid)
    ),
}


def _shape(error: DomainError) -> tuple[object, ...]:
    return (type(error), error.code, error.message, error.field_violations, error.keep_writes)


@pytest.mark.parametrize("call", MEMBER_CALLS.values(), ids=MEMBER_CALLS.keys())
def test_another_partners_ppid_is_refused_exactly_like_an_unknown_ppid(
    hub: InMemoryHub, call: MemberCall
) -> None:
    skyway_ppid = hub.enroll(SKYWAY)
    hub.link((SKYWAY, skyway_ppid), (HARBOR, hub.enroll(HARBOR)))

    foreign = hub.refused(call(hub, skyway_ppid))
    unknown = hub.refused(call(hub, new_ppid()))

    assert foreign.code is ErrorCode.MEMBER_NOT_FOUND
    assert _shape(foreign) == _shape(unknown)
    assert hub.links(SKYWAY, skyway_ppid) == [HARBOR]


@pytest.mark.parametrize("ppid", ["", "pp_short", "PP_" + "A" * 26, "cm_" + "a" * 26])
@pytest.mark.parametrize("call", MEMBER_CALLS.values(), ids=MEMBER_CALLS.keys())
def test_a_malformed_ppid_is_an_invalid_argument_naming_the_field(
    hub: InMemoryHub, call: MemberCall, ppid: str
) -> None:
    error = hub.refused(call(hub, ppid))

    assert isinstance(error, InvalidArgument)
    assert [violation.field for violation in error.field_violations] == ["ppid"]
    assert not error.keep_writes


@pytest.mark.parametrize("text", ["", "ABCDE-FGHJ", "ABCDE-FGHJKM", "ABCDE-FGHIL", "ABCDE_FGHJK"])
def test_a_malformed_link_code_is_an_invalid_argument_and_no_failure(
    hub: InMemoryHub, text: str
) -> None:
    harbor_ppid = hub.enroll(HARBOR)

    error = hub.refused(redeem(hub, HARBOR, text, harbor_ppid))

    assert isinstance(error, InvalidArgument)
    assert [violation.field for violation in error.field_violations] == ["link_code"]
    assert failures(hub, HARBOR) == 0


# list_links and unlink


@pytest.fixture
def trio(hub: InMemoryHub) -> dict[str, str]:
    """One member linked at all three partners: each partner's ppid for it."""
    ppids = {partner_id: hub.enroll(partner_id) for partner_id in (SKYWAY, HARBOR, ORBIT)}
    hub.link((SKYWAY, ppids[SKYWAY]), (HARBOR, ppids[HARBOR]))
    hub.link((SKYWAY, ppids[SKYWAY]), (ORBIT, ppids[ORBIT]))
    return ppids


def test_list_links_names_every_other_linked_partner_in_order(
    hub: InMemoryHub, trio: dict[str, str]
) -> None:
    assert hub.links(SKYWAY, trio[SKYWAY]) == [HARBOR, ORBIT]
    assert hub.links(HARBOR, trio[HARBOR]) == [ORBIT, SKYWAY]
    assert hub.links(ORBIT, trio[ORBIT]) == [HARBOR, SKYWAY]


def test_unlinking_another_partner_tells_that_partner_with_its_own_ppid(
    hub: InMemoryHub, trio: dict[str, str]
) -> None:
    remaining = hub.commit(
        lambda uow: identity.unlink(uow, hub.clock, SKYWAY, trio[SKYWAY], HARBOR)
    )

    assert remaining == [ORBIT]
    assert hub.feed(HARBOR) == [MemberUnlinked(trio[HARBOR])]
    assert hub.feed(SKYWAY) == []
    assert hub.feed(ORBIT) == []
    assert hub.links(HARBOR, trio[HARBOR]) == []
    assert hub.links(ORBIT, trio[ORBIT]) == [SKYWAY]
    assert hub.cmid(HARBOR, trio[HARBOR]) != hub.cmid(SKYWAY, trio[SKYWAY])


def test_unlinking_oneself_detaches_the_callers_own_ppid(
    hub: InMemoryHub, trio: dict[str, str]
) -> None:
    remaining = hub.commit(lambda uow: identity.unlink(uow, hub.clock, SKYWAY, trio[SKYWAY], ""))

    assert remaining == []
    assert hub.links(SKYWAY, trio[SKYWAY]) == []
    assert hub.links(HARBOR, trio[HARBOR]) == [ORBIT]
    assert hub.feed(SKYWAY) == []


def test_unlinking_by_naming_oneself_is_unlinking_oneself(
    hub: InMemoryHub, trio: dict[str, str]
) -> None:
    remaining = hub.commit(
        lambda uow: identity.unlink(uow, hub.clock, HARBOR, trio[HARBOR], HARBOR)
    )

    assert remaining == []
    assert hub.links(SKYWAY, trio[SKYWAY]) == [ORBIT]
    assert hub.feed(HARBOR) == []


def test_an_unlinked_partner_keeps_its_tier_report_under_its_new_member(
    hub: InMemoryHub, trio: dict[str, str]
) -> None:
    report_elite_at_harbor(hub, trio[HARBOR])

    hub.commit(lambda uow: identity.unlink(uow, hub.clock, SKYWAY, trio[SKYWAY], HARBOR))

    detached = hub.cmid(HARBOR, trio[HARBOR])
    report = hub.read(lambda uow: harbor_tier_report(uow, detached))
    assert report is not None and report["tier"] == "ELITE"
    old = hub.cmid(SKYWAY, trio[SKYWAY])
    assert hub.read(lambda uow: uow.tiers.member_tier(old, HARBOR)) is None


@pytest.mark.parametrize("target", [HARBOR, "nobody"])
def test_unlink_refuses_a_partner_the_member_is_not_linked_at(
    hub: InMemoryHub, target: str
) -> None:
    skyway_ppid = hub.enroll(SKYWAY)
    hub.link((SKYWAY, skyway_ppid), (ORBIT, hub.enroll(ORBIT)))

    error = hub.refused(lambda uow: identity.unlink(uow, hub.clock, SKYWAY, skyway_ppid, target))

    assert error.code is ErrorCode.NOT_LINKED
    assert hub.links(SKYWAY, skyway_ppid) == [ORBIT]


@pytest.mark.parametrize("target", ["", SKYWAY, HARBOR])
def test_unlink_refuses_a_member_with_no_links(hub: InMemoryHub, target: str) -> None:
    lone = hub.enroll(SKYWAY)
    cmid = hub.cmid(SKYWAY, lone)

    error = hub.refused(lambda uow: identity.unlink(uow, hub.clock, SKYWAY, lone, target))

    assert error.code is ErrorCode.NOT_LINKED
    assert hub.cmid(SKYWAY, lone) == cmid


@pytest.mark.parametrize("target", ["Harbor", "h", "harbor!"])
def test_unlink_refuses_a_malformed_partner_id(
    hub: InMemoryHub, trio: dict[str, str], target: str
) -> None:
    error = hub.refused(lambda uow: identity.unlink(uow, hub.clock, SKYWAY, trio[SKYWAY], target))

    assert isinstance(error, InvalidArgument)
    assert [violation.field for violation in error.field_violations] == ["partner_id"]


# erase_member


def test_erase_tells_every_linked_partner_and_forgets_the_member(
    hub: InMemoryHub, trio: dict[str, str]
) -> None:
    report_elite_at_harbor(hub, trio[HARBOR])
    cmid = hub.cmid(SKYWAY, trio[SKYWAY])
    sealed = hub.read(lambda uow: uow.tiers.member_tier(cmid, HARBOR))
    assert sealed is not None and b"ELITE" not in sealed
    assert hub.read(lambda uow: harbor_tier_report(uow, cmid)) is not None
    outstanding = hub.link_code(ORBIT, trio[ORBIT])
    hub.clock.advance_s(60)

    erased = hub.commit(lambda uow: identity.erase_member(uow, hub.clock, HARBOR, trio[HARBOR]))

    assert erased == 3
    for partner_id, ppid in trio.items():
        assert hub.feed(partner_id) == [MemberErased(ppid)]
        assert hub.read(lambda uow, p=partner_id, q=ppid: uow.members.get_ppid(p, q)) is None
    assert hub.read(lambda uow: uow.vault.open(cmid, sealed)) is None
    assert hub.read(lambda uow: uow.tiers.member_tier(cmid, HARBOR)) is None
    assert hub.read(lambda uow: uow.members.erased_at_us(cmid)) == hub.clock.now_us()
    assert stored_code(hub, outstanding) is None


def test_erase_of_an_unlinked_member_tells_only_its_partner(hub: InMemoryHub) -> None:
    ppid = hub.enroll(SKYWAY)

    erased = hub.commit(lambda uow: identity.erase_member(uow, hub.clock, SKYWAY, ppid))

    assert erased == 1
    assert hub.feed(SKYWAY) == [MemberErased(ppid)]
    assert hub.feed(HARBOR) == []
    again = hub.refused(lambda uow: identity.create_link_code(uow, hub.clock, SKYWAY, ppid))
    assert again.code is ErrorCode.MEMBER_NOT_FOUND
