"""The coalition's reference brands: an airline, a hotel group and a card issuer."""

from __future__ import annotations

from pathlib import Path

from coalition.v1 import tier_pb2
from partners.programs.program import LoyaltyProgram
from partners.sdk.connection import HubConnection

AIRLINE_PARTNER_ID = "skyway"
HOTEL_PARTNER_ID = "harbor"
CARD_ISSUER_PARTNER_ID = "orbit"

# (code, display name, canonical level), lowest tier first.
AIRLINE_TIERS = (
    ("BLUE", "Blue", 1),
    ("SILVER", "Silver", 2),
    ("GOLD", "Gold", 3),
    ("DIAMOND", "Diamond", 5),
)
HOTEL_TIERS = (
    ("MEMBER", "Member", 1),
    ("SILVER", "Silver", 2),
    ("GOLD", "Gold", 3),
    ("PLATINUM", "Platinum", 4),
)
CARD_ISSUER_TIERS = (
    ("CLASSIC", "Classic", 1),
    ("PREFERRED", "Preferred", 2),
    ("ELITE", "Elite", 4),
)


def ladder(tiers: tuple[tuple[str, str, int], ...]) -> list[tier_pb2.Tier]:
    """Fresh messages each time: protobuf messages are mutable and must not be shared."""
    return [
        tier_pb2.Tier(code=code, display_name=name, rank=rank, canonical_level=level)
        for rank, (code, name, level) in enumerate(tiers, start=1)
    ]


def airline(
    store_path: str | Path, connection: HubConnection, hub_public_keys: dict[str, bytes]
) -> LoyaltyProgram:
    return LoyaltyProgram(
        AIRLINE_PARTNER_ID, store_path, connection, hub_public_keys, ladder(AIRLINE_TIERS)
    )


def hotel(
    store_path: str | Path, connection: HubConnection, hub_public_keys: dict[str, bytes]
) -> LoyaltyProgram:
    return LoyaltyProgram(
        HOTEL_PARTNER_ID, store_path, connection, hub_public_keys, ladder(HOTEL_TIERS)
    )


def card_issuer(
    store_path: str | Path, connection: HubConnection, hub_public_keys: dict[str, bytes]
) -> LoyaltyProgram:
    return LoyaltyProgram(
        CARD_ISSUER_PARTNER_ID, store_path, connection, hub_public_keys, ladder(CARD_ISSUER_TIERS)
    )
