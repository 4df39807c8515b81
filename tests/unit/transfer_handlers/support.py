"""A member linked at two partners, and the calls and reads the transfer handler tests share."""

from __future__ import annotations

from dataclasses import dataclass

from exchange.domain.errors import ErrorCode
from exchange.domain.events import (
    CreditRequested,
    DebitRequested,
    FeedEvent,
    TransferCompleted,
    TransferVoided,
)
from exchange.domain.ledger import Counters
from exchange.domain.transfers import Transfer
from exchange.services import transfers
from exchange.services.transfer_engine import TransferRequest
from tests.unit.in_memory_hub import HARBOR, SKYWAY, TRANSFER_SETTINGS, InMemoryHub, seal_quote

MICROSECONDS_PER_SECOND = 1_000_000
TIMEOUT_S = TRANSFER_SETTINGS.timeout_s


@dataclass(frozen=True)
class Member:
    """One member linked at skyway and harbor: their ppid at each."""

    skyway: str
    harbor: str


def pending(hub: InMemoryHub, member: Member, points: int = 10_000) -> Transfer:
    quote = hub.quote(SKYWAY, member.skyway, HARBOR, points)
    return hub.start_transfer(SKYWAY, quote.quote_id)


def confirm(hub: InMemoryHub, caller: str, transfer_id: str) -> Transfer:
    return hub.commit(lambda uow: transfers.confirm_credit(uow, hub.clock, caller, transfer_id))


def reject(hub: InMemoryHub, caller: str, transfer_id: str, reason: str = "closed") -> Transfer:
    return hub.commit(
        lambda uow: transfers.reject_credit(uow, hub.clock, caller, transfer_id, reason)
    )


def reverse(hub: InMemoryHub, caller: str, transfer_id: str) -> Transfer:
    return hub.commit(
        lambda uow: transfers.create_reversal(
            uow, hub.clock, TRANSFER_SETTINGS, caller, transfer_id
        )
    )


def completed(hub: InMemoryHub, member: Member, points: int = 10_000) -> Transfer:
    return confirm(hub, HARBOR, pending(hub, member, points).transfer_id)


def accounts(hub: InMemoryHub) -> dict[str, Counters]:
    return hub.read(lambda uow: uow.ledger.accounts())


def transfer_events(hub: InMemoryHub, partner_id: str) -> list[FeedEvent]:
    return [
        event
        for event in hub.feed(partner_id)
        if isinstance(event, CreditRequested | DebitRequested | TransferCompleted | TransferVoided)
    ]


def transfer_count(hub: InMemoryHub) -> int:
    return len(hub.read(lambda uow: uow.transfers.list_for(SKYWAY, None, (None, None), None, 100)))


def quote_refusal(hub: InMemoryHub, caller: str, ppid: str, destination: str) -> ErrorCode:
    request = TransferRequest(
        caller=caller, ppid=ppid, destination_partner_id=destination, source_points=10_000
    )
    return hub.refused(
        lambda uow: transfers.create_quote(uow, hub.clock, TRANSFER_SETTINGS, seal_quote, request)
    ).code


def resolution_refusals(hub: InMemoryHub, caller: str, transfer_id: str) -> list[ErrorCode]:
    """What confirming and rejecting the transfer as `caller` are refused with."""
    return [
        hub.refused(lambda uow: transfers.confirm_credit(uow, hub.clock, caller, transfer_id)).code,
        hub.refused(
            lambda uow: transfers.reject_credit(uow, hub.clock, caller, transfer_id, "no")
        ).code,
    ]


def reversal_refusal(hub: InMemoryHub, transfer_id: str, caller: str = SKYWAY) -> ErrorCode:
    return hub.refused(
        lambda uow: transfers.create_reversal(
            uow, hub.clock, TRANSFER_SETTINGS, caller, transfer_id
        )
    ).code
