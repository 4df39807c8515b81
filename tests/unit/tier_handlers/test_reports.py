"""Tier reports: on the partner's own ladder, expiring within ten years, replacing the last."""

from __future__ import annotations

import pytest

from exchange.domain import limits
from exchange.domain.errors import ErrorCode, InvalidArgument
from exchange.domain.members import new_ppid
from exchange.domain.tiers import DAY_US
from exchange.services import tiers
from tests.unit.in_memory_hub import SKYWAY, InMemoryHub
from tests.unit.tier_handlers.support import HOUR_US, agreed, match, report


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
