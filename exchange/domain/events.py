"""What the hub tells a partner through its feed; each is addressed with that partner's ppid."""

from __future__ import annotations

from dataclasses import dataclass

from exchange.domain.transfers import Transfer


@dataclass(frozen=True)
class TierGranted:
    ppid: str
    grant_id: str
    tier_code: str
    expires_at_us: int


@dataclass(frozen=True)
class MemberErased:
    ppid: str


@dataclass(frozen=True)
class MemberUnlinked:
    ppid: str


@dataclass(frozen=True)
class CreditRequested:
    transfer_id: str
    ppid: str
    destination_points: int
    bonus_points: int
    timeout_at_us: int


@dataclass(frozen=True)
class DebitRequested:
    transfer_id: str
    original_transfer_id: str
    ppid: str
    points: int
    timeout_at_us: int


@dataclass(frozen=True)
class TransferCompleted:
    """To the source; carries what the hub-signed receipt states."""

    transfer: Transfer


@dataclass(frozen=True)
class TransferVoided:
    transfer: Transfer


FeedEvent = (
    TierGranted
    | MemberErased
    | MemberUnlinked
    | CreditRequested
    | DebitRequested
    | TransferCompleted
    | TransferVoided
)


@dataclass(frozen=True)
class StoredEvent:
    """An event as kept in a partner's feed: signed payload bytes and the hub's signature."""

    event_id: str
    partner_id: str
    sequence: int
    event_type: str
    created_at_us: int
    payload: bytes
    signing_key_id: str
    signature: bytes


@dataclass(frozen=True)
class FeedPosition:
    last_sequence: int
    acked_sequence: int
