"""Handlers for reading and acknowledging a partner's event feed."""

from __future__ import annotations

from dataclasses import dataclass

from exchange.domain.errors import DomainError, ErrorCode, invalid
from exchange.domain.events import FeedPosition, StoredEvent
from exchange.domain.ports import UnitOfWork


@dataclass(frozen=True)
class EventPage:
    events: list[StoredEvent]
    position: FeedPosition


def list_events(
    uow: UnitOfWork, partner_id: str, after_sequence: int | None, limit: int
) -> EventPage:
    """Events after a sequence, or after the last acknowledged one when none is given."""
    position = uow.events.position(partner_id)
    if after_sequence is not None and after_sequence < 0:
        raise invalid("after_sequence", "must not be negative")
    start = position.acked_sequence if after_sequence is None else after_sequence
    return EventPage(uow.events.after(partner_id, start, limit), position)


def ack_events(uow: UnitOfWork, partner_id: str, up_to_sequence: int) -> int:
    """Acknowledges up to a sequence; acknowledging less than before changes nothing."""
    if up_to_sequence < 0:
        raise invalid("up_to_sequence", "must not be negative")
    position = uow.events.position(partner_id)
    if up_to_sequence > position.last_sequence:
        raise DomainError(
            ErrorCode.ACK_BEYOND_FEED, "cannot acknowledge events that were never delivered"
        )
    uow.events.acknowledge(partner_id, up_to_sequence)
    return max(position.acked_sequence, up_to_sequence)
