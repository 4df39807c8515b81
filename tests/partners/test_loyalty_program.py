"""LoyaltyProgram with an in-process fake hub: member numbers stay home, the feed lands once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from coalition.keys import SigningKey
from partners.programs import brands
from partners.programs.program import (
    LoyaltyProgram,
    MemberAlreadyEnrolled,
    UnknownMember,
    UnknownTier,
)
from tests.partners.fakes import FakeHubConnection, signed_event, tier_granted

EXPIRES = datetime(2031, 6, 30, tzinfo=UTC)


@pytest.fixture
def hub_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def connection() -> Iterator[FakeHubConnection]:
    connection = FakeHubConnection("harbor")
    yield connection
    connection.close()


@pytest.fixture
def program(tmp_path: Path, connection: FakeHubConnection, hub_key: SigningKey) -> LoyaltyProgram:
    return brands.hotel(
        tmp_path / "harbor.db", connection, {hub_key.key_id: hub_key.public_key_bytes}
    )


def test_enrolment_keeps_the_member_number_away_from_the_hub(
    program: LoyaltyProgram, connection: FakeHubConnection
) -> None:
    ppid = program.enrol("HARBOR-77123", points=2_500)

    member = program.member("HARBOR-77123")
    assert member is not None
    assert (member.ppid, member.points) == (ppid, 2_500)
    program.link_code("HARBOR-77123")
    program.report_tier("HARBOR-77123", "GOLD", EXPIRES)
    assert b"HARBOR-77123" not in connection.sent_bytes()


def test_enrolling_a_member_twice_is_refused_before_asking_the_hub(
    program: LoyaltyProgram, connection: FakeHubConnection
) -> None:
    program.enrol("H-1")

    with pytest.raises(MemberAlreadyEnrolled):
        program.enrol("H-1")
    assert connection.enrolled == 1


def test_calls_for_an_unknown_member_are_refused_locally(
    program: LoyaltyProgram, connection: FakeHubConnection
) -> None:
    with pytest.raises(UnknownMember):
        program.link_code("H-404")
    assert connection.requests == []


def test_a_reported_tier_must_be_on_the_ladder_and_carry_a_time_zone(
    program: LoyaltyProgram,
) -> None:
    program.enrol("H-1")

    with pytest.raises(UnknownTier):
        program.report_tier("H-1", "DIAMOND", EXPIRES)
    with pytest.raises(ValueError, match="aware"):
        program.report_tier("H-1", "GOLD", datetime(2031, 1, 1))


def test_a_reported_tier_is_kept_locally_in_utc(program: LoyaltyProgram) -> None:
    program.enrol("H-1")
    paris_summer = timezone(timedelta(hours=2))

    program.report_tier("H-1", "PLATINUM", datetime(2031, 7, 1, 2, tzinfo=paris_summer))

    member = program.member("H-1")
    assert member is not None
    assert member.tier_code == "PLATINUM"
    assert member.tier_expires_at == datetime(2031, 7, 1, 0, tzinfo=UTC)


def test_sync_feed_applies_a_status_match_once_and_acknowledges_it(
    program: LoyaltyProgram, connection: FakeHubConnection, hub_key: SigningKey
) -> None:
    ppid = program.enrol("H-1")
    connection.feed.events.append(
        signed_event(hub_key, 1, tier_granted(ppid, "GOLD", EXPIRES))
    )

    assert program.sync_feed() == 1
    assert program.sync_feed() == 0

    member = program.member("H-1")
    assert member is not None and member.tier_code == "GOLD"
    assert connection.feed.acked_sequence == 1


def test_erasing_a_member_removes_them_here_too(program: LoyaltyProgram) -> None:
    program.enrol("H-1")

    program.erase("H-1")

    assert program.member("H-1") is None


def test_a_program_refuses_a_connection_signing_as_another_partner(
    tmp_path: Path, connection: FakeHubConnection
) -> None:
    with pytest.raises(ValueError, match="signs as harbor"):
        brands.airline(tmp_path / "skyway.db", connection, {})


@pytest.mark.parametrize(
    ("tiers", "expected"),
    [
        (brands.AIRLINE_TIERS, {"BLUE": 1, "SILVER": 2, "GOLD": 3, "DIAMOND": 5}),
        (brands.HOTEL_TIERS, {"MEMBER": 1, "SILVER": 2, "GOLD": 3, "PLATINUM": 4}),
        (brands.CARD_ISSUER_TIERS, {"CLASSIC": 1, "PREFERRED": 2, "ELITE": 4}),
    ],
)
def test_brand_ladders_rank_tiers_lowest_first_and_map_them_to_canonical_levels(
    tiers: tuple[tuple[str, str, int], ...], expected: dict[str, int]
) -> None:
    ladder = brands.ladder(tiers)

    assert {t.code: t.canonical_level for t in ladder} == expected
    assert [t.code for t in ladder] == list(expected)
    assert [t.rank for t in ladder] == list(range(1, len(expected) + 1))
