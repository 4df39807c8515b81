"""In-memory fake of the partner event feeds, behaving like SqlEventFeed."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import replace

from exchange.adapters.memory.store import InMemoryStore
from exchange.domain.events import FeedEvent, FeedPosition, StoredEvent
from exchange.domain.ports import Clock, EventEncoder


class InMemoryEventFeed:
    def __init__(self, store: InMemoryStore, encoder: EventEncoder | None, clock: Clock) -> None:
        self._store = store
        self._encoder = encoder
        self._clock = clock
        self.appended_partner_ids: set[str] = set()

    def append(self, partner_id: str, event: FeedEvent) -> StoredEvent:
        position = self.position(partner_id)
        if self._encoder is None:
            raise RuntimeError("appending events needs the hub's signing key")
        sequence = position.last_sequence + 1
        stored = self._encoder(
            event,
            event_id=uuid.uuid4().hex,
            partner_id=partner_id,
            sequence=sequence,
            at_us=self._clock.now_us(),
        )
        self._store.feeds[partner_id] = replace(position, last_sequence=sequence)
        self._store.events[(partner_id, sequence)] = stored
        self.appended_partner_ids.add(partner_id)
        return stored

    def after(self, partner_id: str, after_sequence: int, limit: int) -> list[StoredEvent]:
        found = sorted(
            (sequence, event)
            for (owner, sequence), event in self._store.events.items()
            if owner == partner_id and sequence > after_sequence
        )
        return [event for _, event in found[:limit]]

    def append_many(self, partner_id: str, events: Sequence[FeedEvent]) -> None:
        for event in events:
            self.append(partner_id, event)

    def position(self, partner_id: str) -> FeedPosition:
        position = self._store.feeds.get(partner_id)
        assert position is not None, f"partner {partner_id} has no feed"
        return position

    def last_sequences(self, partner_ids: Collection[str]) -> dict[str, int]:
        feeds = self._store.feeds
        return {p: feeds[p].last_sequence for p in partner_ids if p in feeds}

    def acknowledge(self, partner_id: str, up_to_sequence: int) -> None:
        position = self._store.feeds.get(partner_id)
        # Like the SQL update: acknowledgement only moves forward, and no feed is a no-op.
        if position is not None and position.acked_sequence < up_to_sequence:
            self._store.feeds[partner_id] = replace(position, acked_sequence=up_to_sequence)

    def create_feed(self, partner_id: str) -> None:
        if partner_id not in self._store.partners:
            raise ValueError(f"feed for unknown partner {partner_id!r}")
        if partner_id in self._store.feeds:
            raise ValueError(f"duplicate feed for {partner_id!r}")
        self._store.feeds[partner_id] = FeedPosition(0, 0)
