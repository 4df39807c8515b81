"""SQL storage of each partner's ordered event feed."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from exchange.adapters.sql.bulk import insert_rows
from exchange.adapters.sql.tables import EventRow, PartnerFeedRow
from exchange.domain.events import FeedEvent, FeedPosition, StoredEvent
from exchange.domain.ports import Clock, EventEncoder

EVENTS = cast(Table, EventRow.__table__)
FEEDS = cast(Table, PartnerFeedRow.__table__)
# Built once: constructing and cache-keying a statement costs more than running it.
ADVANCE_FEED = (
    update(FEEDS)
    .where(FEEDS.c.partner_id == bindparam("partner"))
    .values(last_sequence=FEEDS.c.last_sequence + bindparam("count"))
    .returning(FEEDS.c.last_sequence)
)


def _stored(row: EventRow) -> StoredEvent:
    return StoredEvent(
        row.event_id,
        row.partner_id,
        row.sequence,
        row.event_type,
        row.created_at_us,
        row.payload,
        row.signing_key_id,
        row.signature,
    )


class SqlEventFeed:
    def __init__(self, session: Session, encoder: EventEncoder | None, clock: Clock) -> None:
        self.session = session
        self.encoder = encoder
        self.clock = clock
        self.appended_partner_ids: set[str] = set()

    def append(self, partner_id: str, event: FeedEvent) -> StoredEvent:
        return self._append(partner_id, [event])[0]

    def append_many(self, partner_id: str, events: Sequence[FeedEvent]) -> None:
        """One feed-row update for the lot, then one insert of the signed events."""
        if events:
            self._append(partner_id, events)

    def _append(self, partner_id: str, events: Sequence[FeedEvent]) -> list[StoredEvent]:
        if self.encoder is None:
            raise RuntimeError("appending events needs the hub's signing key")
        # The feed row's update takes its row lock: sequences of one partner are assigned
        # one transaction at a time, so they are gapless and in commit order.
        last = self.session.scalar(ADVANCE_FEED, {"partner": partner_id, "count": len(events)})
        assert last is not None, f"partner {partner_id} has no feed"
        first = last - len(events) + 1
        at_us = self.clock.now_us()
        stored = [
            self.encoder(
                event,
                event_id=uuid.uuid4().hex,
                partner_id=partner_id,
                sequence=first + offset,
                at_us=at_us,
            )
            for offset, event in enumerate(events)
        ]
        rows = [
            {
                "event_id": e.event_id,
                "partner_id": partner_id,
                "sequence": e.sequence,
                "event_type": e.event_type,
                "created_at_us": e.created_at_us,
                "payload": e.payload,
                "signing_key_id": e.signing_key_id,
                "signature": e.signature,
            }
            for e in stored
        ]
        insert_rows(self.session, EVENTS, rows)
        self.appended_partner_ids.add(partner_id)
        return stored

    def after(self, partner_id: str, after_sequence: int, limit: int) -> list[StoredEvent]:
        query = (
            select(EventRow)
            .where(EventRow.partner_id == partner_id, EventRow.sequence > after_sequence)
            .order_by(EventRow.sequence)
            .limit(limit)
        )
        return [_stored(row) for row in self.session.scalars(query)]

    def position(self, partner_id: str) -> FeedPosition:
        row = self.session.get(PartnerFeedRow, partner_id)
        assert row is not None, f"partner {partner_id} has no feed"
        return FeedPosition(row.last_sequence, row.acked_sequence)

    def last_sequences(self, partner_ids: Collection[str]) -> dict[str, int]:
        rows = self.session.execute(
            select(PartnerFeedRow.partner_id, PartnerFeedRow.last_sequence).where(
                PartnerFeedRow.partner_id.in_(list(partner_ids))
            )
        )
        return {partner_id: last for partner_id, last in rows}

    def acknowledge(self, partner_id: str, up_to_sequence: int) -> None:
        self.session.execute(
            update(PartnerFeedRow)
            .where(
                PartnerFeedRow.partner_id == partner_id,
                PartnerFeedRow.acked_sequence < up_to_sequence,
            )
            .values(acked_sequence=up_to_sequence)
        )

    def create_feed(self, partner_id: str) -> None:
        self.session.execute(
            insert(PartnerFeedRow).values(partner_id=partner_id, last_sequence=0, acked_sequence=0)
        )
