"""Members across brands, end to end: the real hub, the partner SDK and the reference programs.

Enrolment, linking, status matches (canonical and by agreement), unlinking and erasure, and the
event feed's at-least-once delivery across dropped streams and hub restarts (DESIGN §3.2,
§3.5, §3.6).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import grpc
import pytest

from coalition.v1 import common_pb2, event_pb2, tier_pb2
from exchange.bootstrap import Hub
from partners.programs.program import LoyaltyProgram
from partners.sdk import EventClient, HubError, verify_event
from tests.support.coalition import TestCoalition
from tests.support.programs import (
    brand_programs,
    feed_thread,
    link,
    processed_events,
    publish_ladders,
    query_rows,
    restart_hub,
    wait_until,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TIER_EXPIRES = datetime.now(UTC) + timedelta(days=365)
CANONICAL_GRANT_DAYS = 365
DAY_US = 24 * 3600 * 1_000_000
# A stream that should deliver at once still gets a deadline, so a silent hub fails the test.
SUBSCRIBE_DEADLINE_S = 10.0


@pytest.fixture
def programs(coalition: TestCoalition, tmp_path: Path) -> dict[str, LoyaltyProgram]:
    programs = brand_programs(coalition, tmp_path / "programs")
    publish_ladders(programs)
    return programs


def now_us() -> int:
    return time.time_ns() // 1000


def feed_payloads(program: LoyaltyProgram) -> list[event_pb2.EventPayload]:
    """Every event in the program's feed from the start, acknowledged or not, verified."""
    page = program.events.list_events(after_sequence=0)
    return [verify_event(e, program.feed.hub_public_keys, program.partner_id) for e in page.events]


def hub_feed_position(coalition: TestCoalition, partner_id: str) -> tuple[int, int]:
    [row] = query_rows(
        coalition.hub.engine,
        "SELECT last_sequence, acked_sequence FROM partner_feeds WHERE partner_id = :partner_id",
        partner_id=partner_id,
    )
    last, acked = row
    return cast(int, last), cast(int, acked)


def expires_us(program: LoyaltyProgram, member_number: str) -> int:
    member = program.member(member_number)
    assert member is not None and member.tier_expires_at is not None
    return (member.tier_expires_at - EPOCH) // timedelta(microseconds=1)


def grant_to_harbor(programs: dict[str, LoyaltyProgram], suffix: str, tier_code: str) -> str:
    """A fresh member at skyway and harbor, linked, matched into harbor; returns the grant id."""
    skyway, harbor = programs["skyway"], programs["harbor"]
    skyway.enrol(f"SKY-{suffix}")
    harbor.enrol(f"HBR-{suffix}")
    link(skyway, f"SKY-{suffix}", (harbor, f"HBR-{suffix}"))
    skyway.report_tier(f"SKY-{suffix}", tier_code, TIER_EXPIRES)
    return skyway.request_status_match(f"SKY-{suffix}", "harbor").grant_id


# Linking and status recognition


def test_status_match_by_canonical_levels_is_applied_at_the_target_by_sync_feed(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway, harbor = programs["skyway"], programs["harbor"]
    sky_ppid = skyway.enrol("SKY-100", points=42_000)
    hbr_ppid = harbor.enrol("HBR-100")

    code = skyway.link_code("SKY-100")
    assert harbor.redeem_link_code("HBR-100", code) == ["harbor", "skyway"]
    assert skyway.identity.list_links(sky_ppid) == ["harbor"]
    assert harbor.identity.list_links(hbr_ppid) == ["skyway"]

    skyway.report_tier("SKY-100", "GOLD", TIER_EXPIRES)
    before_us = now_us()
    grant = skyway.request_status_match("SKY-100", "harbor")
    after_us = now_us()

    assert grant.target_partner_id == "harbor"
    assert harbor.sync_feed() == 1
    member = harbor.member("HBR-100")
    assert member is not None and member.tier_code == "GOLD"  # canonical level 3 at both
    granted_days_us = CANONICAL_GRANT_DAYS * DAY_US
    assert (
        before_us + granted_days_us <= expires_us(harbor, "HBR-100") <= after_us + granted_days_us
    )
    [payload] = feed_payloads(harbor)
    assert payload.tier_granted.ppid == hbr_ppid
    assert payload.tier_granted.grant_id == grant.grant_id
    assert [event_id for event_id, _ in processed_events(harbor)] == [payload.event_id]
    # Nothing new, nothing twice; the source brand's feed stays empty.
    assert harbor.sync_feed() == 0
    assert skyway.sync_feed() == 0
    assert hub_feed_position(coalition, "harbor") == (1, 1)
    assert hub_feed_position(coalition, "skyway") == (0, 0)


def test_status_match_is_applied_by_run_feed_on_its_own_thread(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway, orbit = programs["skyway"], programs["orbit"]
    skyway.enrol("SKY-200")
    orbit.enrol("ORB-200")
    link(skyway, "SKY-200", (orbit, "ORB-200"))
    skyway.report_tier("SKY-200", "DIAMOND", TIER_EXPIRES)

    with feed_thread(orbit) as feed:
        skyway.request_status_match("SKY-200", "orbit")
        wait_until(lambda: len(processed_events(orbit)) == 1, "orbit to apply the grant")
        wait_until(lambda: hub_feed_position(coalition, "orbit") == (1, 1), "orbit's ack")

    assert feed.result is not None
    assert (feed.result.applied, feed.result.verification_failure) == (1, None)
    member = orbit.member("ORB-200")
    # DIAMOND is level 5; orbit's highest tier at or below it is ELITE (level 4).
    assert member is not None and member.tier_code == "ELITE"


def test_an_accepted_recognition_agreement_decides_the_match(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway, harbor = programs["skyway"], programs["harbor"]
    proposed = skyway.tiers.propose_recognition(
        "skyway", "harbor", [("GOLD", "PLATINUM"), ("SILVER", "GOLD")], 90, 30
    )
    assert (proposed.state, proposed.version) == (common_pb2.AGREEMENT_STATE_PROPOSED, 1)
    assert proposed.proposed_by_partner_id == "skyway"

    accepted = harbor.tiers.accept_recognition(proposed.agreement_id, proposed.version)

    assert accepted.state == common_pb2.AGREEMENT_STATE_ACCEPTED
    mapping = harbor.tiers.get_tier_mapping("skyway", "harbor")
    assert mapping.basis == tier_pb2.MAPPING_BASIS_AGREEMENT
    assert mapping.agreement.agreement_id == proposed.agreement_id
    assert sorted((r.source_tier_code, r.target_tier_code) for r in mapping.rules) == [
        ("GOLD", "PLATINUM"),
        ("SILVER", "GOLD"),
    ]

    before_us = now_us()
    grant_id = grant_to_harbor(programs, "300", "GOLD")
    after_us = now_us()

    assert harbor.sync_feed() == 1
    member = harbor.member("HBR-300")
    assert member is not None and member.tier_code == "PLATINUM"  # canonical would give GOLD
    assert before_us + 90 * DAY_US <= expires_us(harbor, "HBR-300") <= after_us + 90 * DAY_US
    assert query_rows(
        coalition.hub.engine,
        "SELECT agreement_id, agreement_version, tier_code FROM tier_grants"
        " WHERE grant_id = :grant_id",
        grant_id=grant_id,
    ) == [(proposed.agreement_id, 1, "PLATINUM")]


# Unlinking and erasure


def test_unlink_tells_the_detached_partner_and_updates_every_link_list(
    programs: dict[str, LoyaltyProgram],
) -> None:
    skyway, harbor, orbit = programs["skyway"], programs["harbor"], programs["orbit"]
    sky_ppid = skyway.enrol("SKY-400")
    hbr_ppid = harbor.enrol("HBR-400")
    orb_ppid = orbit.enrol("ORB-400")
    link(skyway, "SKY-400", (harbor, "HBR-400"), (orbit, "ORB-400"))
    assert skyway.identity.list_links(sky_ppid) == ["harbor", "orbit"]

    assert skyway.unlink("SKY-400", "harbor") == ["orbit"]

    [payload] = feed_payloads(harbor)
    assert payload.WhichOneof("body") == "member_unlinked"
    assert payload.member_unlinked.ppid == hbr_ppid
    assert harbor.sync_feed() == 1
    assert harbor.member("HBR-400") is not None  # the hotel account itself is untouched
    assert (skyway.sync_feed(), orbit.sync_feed()) == (0, 0)
    assert skyway.identity.list_links(sky_ppid) == ["orbit"]
    assert orbit.identity.list_links(orb_ppid) == ["skyway"]
    assert harbor.identity.list_links(hbr_ppid) == []
    skyway.report_tier("SKY-400", "GOLD", TIER_EXPIRES)
    with pytest.raises(HubError) as caught:
        skyway.request_status_match("SKY-400", "harbor")
    assert (caught.value.code, caught.value.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOT_LINKED",
    )


def test_erasure_reaches_every_linked_partner_and_leaves_nothing_behind(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway, harbor, orbit = programs["skyway"], programs["harbor"], programs["orbit"]
    ppids = {
        "skyway": skyway.enrol("SKY-500"),
        "harbor": harbor.enrol("HBR-500"),
        "orbit": orbit.enrol("ORB-500"),
    }
    link(skyway, "SKY-500", (harbor, "HBR-500"), (orbit, "ORB-500"))
    skyway.report_tier("SKY-500", "GOLD", TIER_EXPIRES)
    skyway.request_status_match("SKY-500", "harbor")
    assert harbor.sync_feed() == 1
    bystander_grant = grant_to_harbor(programs, "501", "SILVER")  # another member, kept
    engine = coalition.hub.engine
    [(cmid,)] = query_rows(engine, "SELECT cmid FROM ppids WHERE ppid = :p", p=ppids["orbit"])

    assert orbit.erase("ORB-500") == 3

    for program, number in ((skyway, "SKY-500"), (harbor, "HBR-500"), (orbit, "ORB-500")):
        erased = [p for p in feed_payloads(program) if p.WhichOneof("body") == "member_erased"]
        assert [p.member_erased.ppid for p in erased] == [ppids[program.partner_id]]
        program.sync_feed()
        assert program.member(number) is None
    bystander = harbor.member("HBR-501")
    assert bystander is not None and bystander.tier_code == "SILVER"
    for program in (skyway, harbor, orbit):
        with pytest.raises(HubError) as caught:
            program.identity.list_links(ppids[program.partner_id])
        assert (caught.value.code, caught.value.reason) == (
            grpc.StatusCode.NOT_FOUND,
            "MEMBER_NOT_FOUND",
        )
        with pytest.raises(HubError) as caught:
            program.tiers.report_member_tier(ppids[program.partner_id], "SILVER", TIER_EXPIRES)
        assert caught.value.reason == "MEMBER_NOT_FOUND"
    for table in ("ppids", "member_keys", "member_tiers", "tier_grants"):
        rows = query_rows(engine, f"SELECT * FROM {table} WHERE cmid = :cmid", cmid=cmid)
        assert rows == [], f"{table} still holds the erased member"
    [(erased_at_us,)] = query_rows(
        engine, "SELECT erased_at_us FROM members WHERE cmid = :cmid", cmid=cmid
    )
    assert erased_at_us is not None
    assert query_rows(
        engine, "SELECT grant_id FROM tier_grants WHERE grant_id = :g", g=bystander_grant
    ) == [(bystander_grant,)]


# Feed delivery: at least once, applied exactly once


def test_an_unacknowledged_event_is_redelivered_after_a_dropped_stream_and_applied_once(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    harbor = programs["harbor"]
    grant_id = grant_to_harbor(programs, "600", "GOLD")
    events = EventClient(coalition.connection("harbor"), subscribe_deadline_s=SUBSCRIBE_DEADLINE_S)

    first = first_event(events)  # dropped before it was applied or acknowledged
    second = first_event(events)
    harbor.sink.apply(verify_event(second, coalition.hub_public_keys, "harbor"))
    third = first_event(events)  # applied this time, but dropped before the acknowledgement

    assert second == first and third == first
    assert verify_event(first, coalition.hub_public_keys, "harbor").tier_granted.grant_id == (
        grant_id
    )
    assert harbor.sync_feed() == 0  # redelivered once more, recognised, acknowledged
    assert processed_events(harbor) == [(first.event_id, first.sequence)]
    member = harbor.member("HBR-600")
    assert member is not None and member.tier_code == "GOLD"
    assert hub_feed_position(coalition, "harbor") == (1, 1)
    assert list(events.list_events(after_sequence=None).events) == []


def first_event(events: EventClient) -> event_pb2.Event:
    """Opens a subscription from the acknowledged position, takes one event, drops the stream."""
    subscription = events.open_subscription(None)
    try:
        return next(iter(subscription))
    finally:
        subscription.cancel()


@pytest.fixture
def hubs(coalition: TestCoalition) -> Iterator[list[Hub]]:
    """Hubs a test started to replace the fixture's; each is stopped at the end."""
    started: list[Hub] = []
    yield started
    for hub in started:
        hub.stop(0)


def test_after_a_hub_restart_the_feed_resumes_from_the_acknowledged_sequence(
    coalition: TestCoalition,
    programs: dict[str, LoyaltyProgram],
    database_url: str,
    hubs: list[Hub],
    tmp_path: Path,
) -> None:
    harbor = programs["harbor"]
    grant_to_harbor(programs, "701", "SILVER")
    assert harbor.sync_feed() == 1  # applied and acknowledged
    grant_to_harbor(programs, "702", "GOLD")
    [unacked] = harbor.events.list_events(after_sequence=None).events
    harbor.sink.apply(verify_event(unacked, coalition.hub_public_keys, "harbor"))  # no ack

    hubs.append(restart_hub(coalition.hub, database_url))
    grant_to_harbor(programs, "703", "DIAMOND")

    # The brand's process restarts too: a new consumer on the same store knows no position.
    restarted = brand_programs(coalition, tmp_path / "programs")["harbor"]
    assert restarted.sync_feed() == 1  # 702 redelivered but not re-applied; 703 applied
    assert [sequence for _, sequence in processed_events(restarted)] == [1, 2, 3]
    tiers = {n: restarted.member(f"HBR-{n}") for n in ("701", "702", "703")}
    # DIAMOND is canonical level 5; harbor's highest tier at or below it is PLATINUM (4).
    assert {n: m.tier_code if m else None for n, m in tiers.items()} == {
        "701": "SILVER",
        "702": "GOLD",
        "703": "PLATINUM",
    }
    assert hub_feed_position(coalition, "harbor") == (3, 3)


def test_run_feed_reconnects_across_a_hub_restart_without_losing_or_repeating_events(
    coalition: TestCoalition,
    programs: dict[str, LoyaltyProgram],
    database_url: str,
    hubs: list[Hub],
) -> None:
    harbor = programs["harbor"]
    with feed_thread(harbor) as feed:
        grant_to_harbor(programs, "801", "SILVER")
        wait_until(lambda: hub_feed_position(coalition, "harbor") == (1, 1), "the first ack")

        hubs.append(restart_hub(coalition.hub, database_url))
        grant_to_harbor(programs, "802", "GOLD")
        wait_until(lambda: len(processed_events(harbor)) == 2, "the grant after the restart")
        wait_until(lambda: hub_feed_position(coalition, "harbor") == (2, 2), "the second ack")

    assert feed.result is not None
    assert (feed.result.applied, feed.result.verification_failure) == (2, None)
    assert [sequence for _, sequence in processed_events(harbor)] == [1, 2]
    member = harbor.member("HBR-802")
    assert member is not None and member.tier_code == "GOLD"
