"""Ladders, rules and calls the tier handler tests share."""

from __future__ import annotations

from collections.abc import Sequence

from exchange.domain.errors import ErrorCode
from exchange.domain.tiers import DAY_US, RecognitionAgreement, Tier
from exchange.services import tiers
from tests.unit.in_memory_hub import HARBOR, SKYWAY, InMemoryHub

HOUR_US = 3600 * 1_000_000
SKYWAY_TIERS = (
    Tier("BLUE", "Blue", 1, 1),
    Tier("SILVER", "Silver", 2, 2),
    Tier("GOLD", "Gold", 3, 3),
    Tier("DIAMOND", "Diamond", 4, 5),
)
HARBOR_TIERS = (
    Tier("CLASSIC", "Classic", 1, 1),
    Tier("PREFERRED", "Preferred", 2, 2),
    Tier("ELITE", "Elite", 3, 4),
    Tier("AMBASSADOR", "Ambassador", 4, 5),
)
# By canonical level: the highest harbor tier at or below each skyway tier's level.
CANONICAL_RULES = (
    ("BLUE", "CLASSIC"),
    ("SILVER", "PREFERRED"),
    ("GOLD", "PREFERRED"),
    ("DIAMOND", "AMBASSADOR"),
)
RULES = (("GOLD", "ELITE"), ("DIAMOND", "AMBASSADOR"))
VALIDITY_DAYS = 180
INTERVAL_DAYS = 30


def publish(
    hub: InMemoryHub, partner_id: str, ladder: Sequence[Tier], canonical: bool = False
) -> int:
    return hub.commit(
        lambda uow: tiers.publish_ladder(uow, hub.clock, partner_id, ladder, canonical)
    )


def proposal(
    caller: str = SKYWAY,
    rules: tuple[tuple[str, str], ...] = RULES,
    source: str = SKYWAY,
    target: str = HARBOR,
) -> tiers.ProposeRecognition:
    return tiers.ProposeRecognition(caller, source, target, rules, VALIDITY_DAYS, INTERVAL_DAYS)


def propose(hub: InMemoryHub, command: tiers.ProposeRecognition) -> RecognitionAgreement:
    return hub.commit(lambda uow: tiers.propose_recognition(uow, hub.clock, command))


def accept(hub: InMemoryHub, caller: str, agreement: RecognitionAgreement) -> RecognitionAgreement:
    return hub.commit(
        lambda uow: tiers.accept_recognition(
            uow, hub.clock, caller, agreement.agreement_id, agreement.version
        )
    )


def agreed(hub: InMemoryHub, rules: tuple[tuple[str, str], ...] = RULES) -> RecognitionAgreement:
    """Skyway proposes skyway → harbor terms and harbor accepts them."""
    return accept(hub, HARBOR, propose(hub, proposal(rules=rules)))


def report(hub: InMemoryHub, ppid: str, tier_code: str, lasting_us: int = 365 * DAY_US) -> None:
    expires_at_us = hub.clock.now_us() + lasting_us
    hub.commit(
        lambda uow: tiers.report_member_tier(uow, hub.clock, SKYWAY, ppid, tier_code, expires_at_us)
    )


def match(hub: InMemoryHub, ppid: str, target: str = HARBOR) -> tiers.Grant:
    return hub.commit(lambda uow: tiers.request_status_match(uow, hub.clock, SKYWAY, ppid, target))


def match_refused(hub: InMemoryHub, ppid: str, target: str = HARBOR) -> ErrorCode:
    return hub.refused(
        lambda uow: tiers.request_status_match(uow, hub.clock, SKYWAY, ppid, target)
    ).code


def mapping(hub: InMemoryHub, caller: str = SKYWAY) -> tiers.TierMapping:
    return hub.read(lambda uow: tiers.tier_mapping(uow, caller, SKYWAY, HARBOR))
