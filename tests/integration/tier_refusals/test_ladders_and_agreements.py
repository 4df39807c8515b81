"""Invalid reports, rules and ladders; who may read, propose and accept; the feed's ack bound."""

from __future__ import annotations

import grpc

from coalition.v1 import event_pb2, tier_pb2
from exchange.domain.errors import FIELD_VIOLATIONS_SHOWN_MAX
from partners.programs.program import LoyaltyProgram
from partners.sdk import EventClient
from tests.integration.tier_refusals.support import (
    TIER_EXPIRES,
    assert_refusal,
    linked_member,
    tiers,
)
from tests.support.coalition import TestCoalition
from tests.support.programs import error_shape, refused

MALFORMED_LADDERS = {
    "gap": (tiers(("BLUE", 1, 1), ("SILVER", 2, 2), ("GOLD", 4, 3)), {"tiers.rank"}),
    "duplicate rank": (tiers(("BLUE", 1, 1), ("SILVER", 1, 2), ("GOLD", 2, 3)), {"tiers.rank"}),
    "duplicate code": (tiers(("BLUE", 1, 1), ("BLUE", 2, 2)), {"tiers[1].code"}),
    "rank zero": (tiers(("BLUE", 0, 1), ("SILVER", 1, 2)), {"tiers.rank"}),
}


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
