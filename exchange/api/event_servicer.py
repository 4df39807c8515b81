"""EventService: each partner's feed, streamed, polled and acknowledged."""

from __future__ import annotations

import time
from collections.abc import Iterator

from coalition.v1 import event_pb2 as pb
from exchange.adapters.feed_notifier import FeedNotifier
from exchange.api.event_codec import event_message
from exchange.api.pipeline import READ_ONLY, STATE_CHANGING, CallContext, StreamContext
from exchange.api.registry import rpc
from exchange.domain import limits
from exchange.domain.errors import invalid
from exchange.domain.ports import UnitOfWorkFactory
from exchange.services import events


def _page_size(requested: int) -> int:
    if not 0 <= requested <= limits.EVENT_PAGE_SIZE_MAX:
        raise invalid("page_size", f"must be 0-{limits.EVENT_PAGE_SIZE_MAX} (0 means the default)")
    return requested or limits.EVENT_PAGE_SIZE_DEFAULT


def _after(request: pb.SubscribeRequest | pb.ListEventsRequest) -> int | None:
    return request.after_sequence if request.HasField("after_sequence") else None


class EventServicer:
    def __init__(self, uow_factory: UnitOfWorkFactory, notifier: FeedNotifier) -> None:
        self.uow_factory = uow_factory
        self.notifier = notifier

    @rpc("ListEvents", READ_ONLY)
    def list_events(
        self, request: pb.ListEventsRequest, call: CallContext
    ) -> pb.ListEventsResponse:
        page = events.list_events(
            call.uow, call.partner_id, _after(request), _page_size(request.page_size)
        )
        return pb.ListEventsResponse(
            events=[event_message(e) for e in page.events],
            last_sequence=page.position.last_sequence,
            acked_sequence=page.position.acked_sequence,
        )

    @rpc("AckEvents", STATE_CHANGING)
    def ack_events(self, request: pb.AckEventsRequest, call: CallContext) -> pb.AckEventsResponse:
        acked = events.ack_events(call.uow, call.partner_id, request.up_to_sequence)
        return pb.AckEventsResponse(acked_sequence=acked)

    @rpc("Subscribe", READ_ONLY)
    def subscribe(
        self, request: pb.SubscribeRequest, stream: StreamContext
    ) -> Iterator[pb.SubscribeResponse]:
        """Sends what is in the feed, then waits for more; ends when the caller or hub stops."""
        position = self._start(stream.partner_id, _after(request))
        deadline = time.monotonic() + limits.SUBSCRIBE_STREAM_S_MAX
        while stream.is_active() and not self.notifier.closed and time.monotonic() < deadline:
            seen = self.notifier.version(stream.partner_id)
            with self.uow_factory() as uow:
                batch = uow.events.after(stream.partner_id, position, limits.EVENT_PAGE_SIZE_MAX)
            for stored in batch:
                yield pb.SubscribeResponse(event=event_message(stored))
                position = stored.sequence
            if not batch:
                self.notifier.wait(stream.partner_id, seen, limits.SUBSCRIBE_POLL_S)

    def _start(self, partner_id: str, after_sequence: int | None) -> int:
        if after_sequence is not None and after_sequence < 0:
            raise invalid("after_sequence", "must not be negative")
        if after_sequence is not None:
            return after_sequence
        with self.uow_factory() as uow:
            return uow.events.position(partner_id).acked_sequence
