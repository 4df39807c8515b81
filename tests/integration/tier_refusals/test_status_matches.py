"""Status matches refused or granted once: links, intervals, expiry, agreements, retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from coalition.v1 import tier_pb2
from exchange.adapters.sql.engine import create_database_engine
from partners.programs.program import LoyaltyProgram
from partners.sdk import HubError
from tests.integration.tier_refusals.support import (
    DAY_S,
    TIER_EXPIRES,
    assert_refusal,
    granted_tiers,
    linked_member,
)
from tests.support.coalition import TestCoalition
from tests.support.databases import REPLAY_BOOKKEEPING, table_snapshot
from tests.support.programs import (
    ClockedCoalition,
    Race,
    brand_programs,
    held_row_lock,
    ppid_of,
    publish_ladders,
    refused,
    wait_for_lock_waiters,
)


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
