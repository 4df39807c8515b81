"""Listing links, unlinking (another partner or oneself) and erasing a member."""

from __future__ import annotations

import pytest

from exchange.domain.errors import ErrorCode, InvalidArgument
from exchange.domain.events import MemberErased, MemberUnlinked
from exchange.services import identity
from tests.unit.identity_handlers.support import (
    harbor_tier_report,
    report_elite_at_harbor,
    stored_code,
)
from tests.unit.in_memory_hub import HARBOR, ORBIT, SKYWAY, InMemoryHub


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
