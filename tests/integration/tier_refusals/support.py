"""The ppid calls, linked members and granted tiers the tier refusal tests share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import grpc

from coalition.v1 import tier_pb2
from partners.programs.program import LoyaltyProgram
from partners.sdk import HubError, TierClient, verify_event
from tests.support.programs import link

TIER_EXPIRES = datetime.now(UTC) + timedelta(days=365)
DAY_S = 24 * 3600
MALFORMED_PPIDS = ("", "pp_" + "a" * 25, "PP_" + "a" * 26, "pp_" + "1" * 26, "SKY-1234-1")

# Every TierService RPC whose request names a ppid, called by skyway.
PpidCall = Callable[[TierClient, str], object]
PPID_CALLS: dict[str, PpidCall] = {
    "ReportMemberTier": lambda client, ppid: client.report_member_tier(ppid, "GOLD", TIER_EXPIRES),
    "RequestStatusMatch": lambda client, ppid: client.request_status_match(ppid, "harbor"),
}


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
