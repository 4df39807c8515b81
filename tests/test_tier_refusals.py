"""TierService and feed refusals through the real hub: each with its status and reason.

Status matches need a link, a current tier, a recognition the hub may apply (an accepted
agreement, or canonical levels both partners opted into) and respect the frequency window
(DESIGN §3.5); bad ladders and rules name their fields (§4.3); another partner's ppid is
answered like an unknown one (§7 inv. 8); nothing refused is written (§7 inv. 9).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from sqlalchemy import Engine

from coalition.keys import SigningKey
from coalition.v1 import event_pb2, tier_pb2
from exchange.adapters.sql.engine import create_database_engine
from exchange.config import Settings
from exchange.domain.errors import FIELD_VIOLATIONS_SHOWN_MAX
from exchange.domain.members import new_ppid
from partners.programs.program import LoyaltyProgram
from partners.sdk import EventClient, HubError, TierClient, verify_event
from tests.support.coalition import TestCoalition
from tests.support.databases import REPLAY_BOOKKEEPING, table_snapshot
from tests.support.programs import (
    ClockedCoalition,
    Race,
    brand_programs,
    clocked_coalition,
    error_shape,
    held_row_lock,
    link,
    ppid_of,
    publish_ladders,
    real_time_clock,
    refused,
    wait_for_lock_waiters,
)

TIER_EXPIRES = datetime.now(UTC) + timedelta(days=365)
DAY_S = 24 * 3600
MALFORMED_PPIDS = ("", "pp_" + "a" * 25, "PP_" + "a" * 26, "pp_" + "1" * 26, "SKY-1234-1")

# Every TierService RPC whose request names a ppid, called by skyway.
PpidCall = Callable[[TierClient, str], object]
PPID_CALLS: dict[str, PpidCall] = {
    "ReportMemberTier": lambda client, ppid: client.report_member_tier(ppid, "GOLD", TIER_EXPIRES),
    "RequestStatusMatch": lambda client, ppid: client.request_status_match(ppid, "harbor"),
}


@pytest.fixture
def programs(coalition: TestCoalition, tmp_path: Path) -> dict[str, LoyaltyProgram]:
    programs = brand_programs(coalition, tmp_path / "programs")
    publish_ladders(programs)
    return programs


@pytest.fixture
def clocked(settings: Settings, hub_key: SigningKey, engine: Engine) -> Iterator[ClockedCoalition]:
    with clocked_coalition(settings, hub_key, engine, real_time_clock()) as coalition:
        yield coalition


def linked_member(programs: dict[str, LoyaltyProgram], suffix: str, tier_code: str) -> None:
    """SKY-<suffix> linked to HBR-<suffix>, with `tier_code` reported at skyway."""
    programs["skyway"].enrol(f"SKY-{suffix}")
    programs["harbor"].enrol(f"HBR-{suffix}")
    link(programs["skyway"], f"SKY-{suffix}", (programs["harbor"], f"HBR-{suffix}"))
    programs["skyway"].report_tier(f"SKY-{suffix}", tier_code, TIER_EXPIRES)


def granted_tiers(program: LoyaltyProgram) -> list[str]:
    """The tier codes of every TierGranted in the program's feed, in order."""
    page = program.events.list_events(after_sequence=0)
    payloads = [
        verify_event(e, program.feed.hub_public_keys, program.partner_id) for e in page.events
    ]
    return [p.tier_granted.tier_code for p in payloads if p.HasField("tier_granted")]


def tiers(*spec: tuple[str, int, int]) -> list[tier_pb2.Tier]:
    return [
        tier_pb2.Tier(code=code, display_name=code.title(), rank=rank, canonical_level=level)
        for code, rank, level in spec
    ]


def assert_refusal(error: HubError, code: grpc.StatusCode, reason: str) -> None:
    assert (error.code, error.reason) == (code, reason)


# ppids


def test_every_tier_rpc_that_takes_a_ppid_is_covered_here() -> None:
    service = tier_pb2.DESCRIPTOR.services_by_name["TierService"]
    taking_ppid = {m.name for m in service.methods if "ppid" in m.input_type.fields_by_name}
    assert taking_ppid == set(PPID_CALLS)


def test_another_partners_ppid_is_answered_exactly_like_an_unknown_one_in_every_rpc(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    linked_member(programs, "100", "GOLD")
    programs["harbor"].report_tier("HBR-100", "GOLD", TIER_EXPIRES)
    ppids = {
        "unknown": new_ppid(),
        "linked": ppid_of(programs["harbor"], "HBR-100"),  # the same person, at harbor
        "stranger": programs["harbor"].enrol("HBR-101"),
    }
    skyway = programs["skyway"].tiers

    for rpc, call in PPID_CALLS.items():
        shapes = {
            name: error_shape(refused(coalition.hub.engine, lambda c=call, p=ppid: c(skyway, p)))
            for name, ppid in ppids.items()
        }
        assert shapes["linked"] == shapes["unknown"], rpc
        assert shapes["stranger"] == shapes["unknown"], rpc
        assert shapes["unknown"][:2] == (grpc.StatusCode.NOT_FOUND, "MEMBER_NOT_FOUND"), rpc

    # The caller's own ppid still works, so the refusals above were about ownership.
    for call in PPID_CALLS.values():
        call(skyway, ppid_of(programs["skyway"], "SKY-100"))


def test_a_malformed_ppid_is_invalid_and_names_the_field_in_every_rpc(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway = programs["skyway"].tiers

    for rpc, call in PPID_CALLS.items():
        for ppid in MALFORMED_PPIDS:
            error = refused(coalition.hub.engine, lambda c=call, p=ppid: c(skyway, p))
            assert_refusal(error, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
            assert list(error.field_violations) == ["ppid"], (rpc, ppid)


# Status matches


def test_a_status_match_needs_a_link_at_the_target(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway = programs["skyway"]
    skyway.enrol("SKY-200")
    skyway.report_tier("SKY-200", "GOLD", TIER_EXPIRES)
    linked_member(programs, "201", "GOLD")

    for number, target in (("SKY-200", "harbor"), ("SKY-201", "orbit"), ("SKY-201", "skyway")):
        error = refused(
            coalition.hub.engine, lambda n=number, t=target: skyway.request_status_match(n, t)
        )
        assert_refusal(error, grpc.StatusCode.FAILED_PRECONDITION, "NOT_LINKED")
    assert granted_tiers(programs["harbor"]) == []


def test_a_second_match_within_the_canonical_interval_is_too_frequent(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    linked_member(programs, "300", "GOLD")
    programs["skyway"].request_status_match("SKY-300", "harbor")

    error = refused(
        coalition.hub.engine, lambda: programs["skyway"].request_status_match("SKY-300", "harbor")
    )

    assert_refusal(error, grpc.StatusCode.FAILED_PRECONDITION, "MATCH_TOO_FREQUENT")
    assert granted_tiers(programs["harbor"]) == ["GOLD"]


def test_an_agreements_interval_allows_the_next_match_once_it_has_passed(
    clocked: ClockedCoalition, tmp_path: Path
) -> None:
    programs = brand_programs(clocked, tmp_path / "programs")
    publish_ladders(programs)
    skyway, harbor = programs["skyway"], programs["harbor"]
    proposed = skyway.tiers.propose_recognition("skyway", "harbor", [("SILVER", "GOLD")], 30, 7)
    harbor.tiers.accept_recognition(proposed.agreement_id, proposed.version)
    linked_member(programs, "400", "SILVER")
    skyway.request_status_match("SKY-400", "harbor")

    clocked.clock.advance_s(7 * DAY_S - 1)
    error = refused(clocked.hub.engine, lambda: skyway.request_status_match("SKY-400", "harbor"))
    assert_refusal(error, grpc.StatusCode.FAILED_PRECONDITION, "MATCH_TOO_FREQUENT")
    clocked.clock.advance_s(1)
    skyway.request_status_match("SKY-400", "harbor")

    assert granted_tiers(harbor) == ["GOLD", "GOLD"]


def test_an_expired_tier_report_is_no_current_tier(
    clocked: ClockedCoalition, tmp_path: Path
) -> None:
    programs = brand_programs(clocked, tmp_path / "programs")
    publish_ladders(programs)
    linked_member(programs, "450", "GOLD")
    expires = datetime.fromtimestamp(clocked.clock.now_us() / 1_000_000, UTC) + timedelta(hours=1)
    programs["skyway"].report_tier("SKY-450", "GOLD", expires)

    clocked.clock.advance_s(3600)
    error = refused(
        clocked.hub.engine, lambda: programs["skyway"].request_status_match("SKY-450", "harbor")
    )

    assert_refusal(error, grpc.StatusCode.FAILED_PRECONDITION, "NO_CURRENT_TIER")


def test_a_proposal_that_was_never_accepted_does_not_apply(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway, harbor = programs["skyway"], programs["harbor"]
    skyway.tiers.propose_recognition("skyway", "harbor", [("SILVER", "PLATINUM")], 30, 0)
    linked_member(programs, "500", "SILVER")

    skyway.request_status_match("SKY-500", "harbor")

    assert granted_tiers(harbor) == ["SILVER"]  # canonical level 2, not the proposed PLATINUM
    mapping = harbor.tiers.get_tier_mapping("skyway", "harbor")
    assert mapping.basis == tier_pb2.MAPPING_BASIS_CANONICAL


def test_without_canonical_opt_in_a_proposal_alone_is_no_recognition(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway, harbor = programs["skyway"], programs["harbor"]
    harbor.publish_ladder(canonical_matching=False)
    proposed = skyway.tiers.propose_recognition("skyway", "harbor", [("SILVER", "PLATINUM")], 30, 0)
    linked_member(programs, "600", "SILVER")

    error = refused(coalition.hub.engine, lambda: skyway.request_status_match("SKY-600", "harbor"))

    assert_refusal(error, grpc.StatusCode.FAILED_PRECONDITION, "NO_RECOGNITION")
    mapping_error = refused(
        coalition.hub.engine, lambda: harbor.tiers.get_tier_mapping("skyway", "harbor")
    )
    assert_refusal(mapping_error, grpc.StatusCode.FAILED_PRECONDITION, "NO_RECOGNITION")
    # Acceptance is what was missing.
    harbor.tiers.accept_recognition(proposed.agreement_id, proposed.version)
    skyway.request_status_match("SKY-600", "harbor")
    assert granted_tiers(harbor) == ["PLATINUM"]


@pytest.mark.postgres_only
def test_two_matches_at_once_grant_only_once(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram], database_url: str
) -> None:
    linked_member(programs, "650", "GOLD")
    ppid = ppid_of(programs["skyway"], "SKY-650")
    skyway = programs["skyway"].tiers
    race = Race([lambda: skyway.request_status_match(ppid, "harbor")] * 2)
    observer = create_database_engine(database_url)
    try:
        # Both matches pass the frequency check, then queue behind the test for harbor's feed.
        with held_row_lock(observer, "partner_feeds", "partner_id", "harbor"):
            race.start()
            wait_for_lock_waiters(observer, 2)
        outcomes = race.join()
    finally:
        observer.dispose()

    refusals = [outcome for outcome in outcomes if isinstance(outcome, HubError)]
    assert granted_tiers(programs["harbor"]) == ["GOLD"]
    assert len(refusals) == 1
    assert_refusal(refusals[0], grpc.StatusCode.FAILED_PRECONDITION, "MATCH_TOO_FREQUENT")


def test_a_status_match_retried_with_its_idempotency_key_grants_once(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    linked_member(programs, "700", "GOLD")
    ppid = ppid_of(programs["skyway"], "SKY-700")
    key = "0d7e2c4a-9b1f-4e3d-8a6c-5f4e3d2c1b0a"
    first = programs["skyway"].tiers.request_status_match(ppid, "harbor", idempotency_key=key)
    before = table_snapshot(coalition.hub.engine, exclude=REPLAY_BOOKKEEPING)

    retried = programs["skyway"].tiers.request_status_match(ppid, "harbor", idempotency_key=key)

    assert retried == first
    assert table_snapshot(coalition.hub.engine, exclude=REPLAY_BOOKKEEPING) == before
    assert granted_tiers(programs["harbor"]) == ["GOLD"]


# Tier codes, ladders and agreements


def test_reporting_a_tier_that_is_not_on_the_ladder_is_invalid(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    ppid = programs["skyway"].enrol("SKY-800")

    for code in ("PLATINUM", "gold", "NOSUCH"):  # PLATINUM is harbor's, not skyway's
        error = refused(
            coalition.hub.engine,
            lambda c=code: programs["skyway"].tiers.report_member_tier(ppid, c, TIER_EXPIRES),
        )
        assert_refusal(error, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
        assert list(error.field_violations) == ["tier_code"], code


def test_proposing_rules_with_unknown_tier_codes_names_each_bad_rule(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    rules = [("PLATINUM", "GOLD"), ("GOLD", "DIAMOND"), ("SILVER", "SILVER")]

    error = refused(
        coalition.hub.engine,
        lambda: programs["skyway"].tiers.propose_recognition("skyway", "harbor", rules, 30, 0),
    )

    assert_refusal(error, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert set(error.field_violations) == {
        "rules[0].source_tier_code",
        "rules[1].target_tier_code",
    }


MALFORMED_LADDERS = {
    "gap": (tiers(("BLUE", 1, 1), ("SILVER", 2, 2), ("GOLD", 4, 3)), {"tiers.rank"}),
    "duplicate rank": (tiers(("BLUE", 1, 1), ("SILVER", 1, 2), ("GOLD", 2, 3)), {"tiers.rank"}),
    "duplicate code": (tiers(("BLUE", 1, 1), ("BLUE", 2, 2)), {"tiers[1].code"}),
    "rank zero": (tiers(("BLUE", 0, 1), ("SILVER", 1, 2)), {"tiers.rank"}),
}


def test_a_malformed_ladder_is_invalid_names_its_fields_and_the_published_one_stays(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway = programs["skyway"].tiers

    for case, (ladder, fields) in MALFORMED_LADDERS.items():
        error = refused(
            coalition.hub.engine, lambda ladder=ladder: skyway.publish_tier_ladder(ladder, True)
        )
        assert_refusal(error, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
        assert set(error.field_violations) == fields, case

    assert skyway.publish_tier_ladder(programs["skyway"].ladder, True) == 2


def test_a_ladder_wrong_in_hundreds_of_places_gets_a_status_that_fits_its_trailers(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    """Found by the fuzz harness: a status naming every bad field of 600 tiers was larger than
    gRPC's 16 KiB trailer limit, so the caller got RESOURCE_EXHAUSTED instead of the answer."""
    skyway = programs["skyway"].tiers
    ladder = [tier_pb2.Tier(code="bad code", display_name="", rank=0) for _ in range(600)]

    error = refused(coalition.hub.engine, lambda: skyway.publish_tier_ladder(ladder, True))

    assert_refusal(error, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert 0 < len(error.field_violations) <= FIELD_VIOLATIONS_SHOWN_MAX
    assert error.message.endswith("more")


def test_only_the_two_partners_may_read_or_propose_their_mapping(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    orbit = programs["orbit"].tiers

    reading = refused(coalition.hub.engine, lambda: orbit.get_tier_mapping("skyway", "harbor"))
    proposing = refused(
        coalition.hub.engine,
        lambda: orbit.propose_recognition("skyway", "harbor", [("GOLD", "GOLD")], 30, 0),
    )

    assert_refusal(reading, grpc.StatusCode.PERMISSION_DENIED, "NOT_A_PARTY")
    assert_refusal(proposing, grpc.StatusCode.PERMISSION_DENIED, "NOT_A_PARTY")
    for party in ("skyway", "harbor"):
        mapping = programs[party].tiers.get_tier_mapping("skyway", "harbor")
        assert mapping.basis == tier_pb2.MAPPING_BASIS_CANONICAL


def test_accepting_is_for_the_counterparty_and_only_the_latest_version(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway, harbor, orbit = (programs[p].tiers for p in ("skyway", "harbor", "orbit"))
    first = skyway.propose_recognition("skyway", "harbor", [("GOLD", "GOLD")], 30, 0)
    second = skyway.propose_recognition("skyway", "harbor", [("GOLD", "PLATINUM")], 30, 0)
    engine = coalition.hub.engine

    own = refused(engine, lambda: skyway.accept_recognition(second.agreement_id, 2))
    stale = refused(engine, lambda: harbor.accept_recognition(first.agreement_id, 1))
    outsider = refused(engine, lambda: orbit.accept_recognition(second.agreement_id, 2))
    unknown = refused(engine, lambda: orbit.accept_recognition("ra_0000000000000000", 2))

    assert_refusal(own, grpc.StatusCode.FAILED_PRECONDITION, "CANNOT_ACCEPT_OWN_PROPOSAL")
    assert_refusal(stale, grpc.StatusCode.FAILED_PRECONDITION, "AGREEMENT_VERSION_STALE")
    assert error_shape(outsider) == error_shape(unknown)
    assert_refusal(unknown, grpc.StatusCode.NOT_FOUND, "AGREEMENT_NOT_FOUND")
    assert harbor.accept_recognition(second.agreement_id, 2).version == 2


# The feed


def test_acknowledging_beyond_the_feed_is_refused(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    events = EventClient(coalition.connection("harbor"))
    empty = refused(coalition.hub.engine, lambda: events.ack_events(1))
    linked_member(programs, "900", "GOLD")
    programs["skyway"].request_status_match("SKY-900", "harbor")

    beyond = refused(coalition.hub.engine, lambda: events.ack_events(2))

    for error in (empty, beyond):
        assert_refusal(error, grpc.StatusCode.FAILED_PRECONDITION, "ACK_BEYOND_FEED")
    assert events.ack_events(1) == 1
    page: event_pb2.ListEventsResponse = events.list_events(after_sequence=None)
    assert (list(page.events), page.acked_sequence) == ([], 1)
