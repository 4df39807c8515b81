"""EventService: each partner's feed, streamed, polled and acknowledged."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator

from coalition.v1 import event_pb2 as pb
from exchange.adapters.feed_notifier import FeedNotifier
from exchange.adapters.telemetry import quiet
from exchange.api.event_codec import event_message
from exchange.api.feed_watcher import FeedWatcher
from exchange.api.pipeline import READ_ONLY, STATE_CHANGING, CallContext, StreamContext
from exchange.api.registry import rpc
from exchange.domain import limits
from exchange.domain.errors import invalid
from exchange.domain.events import StoredEvent
from exchange.domain.ports import UnitOfWorkFactory
from exchange.services import events

# An idle stream reads its feed itself this often, in case a wake-up was missed.
SUBSCRIBE_IDLE_CHECK_S = 30.0


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
        self.watcher = FeedWatcher(uow_factory, notifier)

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
    async def subscribe(
        self, request: pb.SubscribeRequest, stream: StreamContext
    ) -> AsyncIterator[pb.SubscribeResponse]:
        """Sends what is in the feed, then waits for more; ends when the caller or hub stops.

        Waiting costs no thread: this process's commits wake the stream at once, and the
        feed watcher's one read for all streams finds what other hub processes appended.
        """
        position = await stream.run(self._start, stream.partner_id, _after(request))
        deadline = time.monotonic() + limits.SUBSCRIBE_STREAM_S_MAX
        self.watcher.watch(stream.partner_id, stream.run)
        try:
            while not self.notifier.closed and time.monotonic() < deadline:
                seen = self.notifier.version(stream.partner_id)
                batch = await stream.run(self._after, stream.partner_id, position)
                for stored in batch:
                    yield pb.SubscribeResponse(event=event_message(stored))
                    position = stored.sequence
                if not batch:
                    # A long wait: the watcher wakes the stream when its feed moves.
                    wait_s = SUBSCRIBE_IDLE_CHECK_S * random.uniform(1.0, 1.5)
                    await self.notifier.wait_async(stream.partner_id, seen, wait_s)
        finally:
            self.watcher.unwatch(stream.partner_id)

    def _after(self, partner_id: str, position: int) -> list[StoredEvent]:
        with quiet(), self.uow_factory() as uow:
            return list(uow.events.after(partner_id, position, limits.EVENT_PAGE_SIZE_MAX))

    def _start(self, partner_id: str, after_sequence: int | None) -> int:
        if after_sequence is not None and after_sequence < 0:
            raise invalid("after_sequence", "must not be negative")
        if after_sequence is not None:
            return after_sequence
        with quiet(), self.uow_factory() as uow:
            return uow.events.position(partner_id).acked_sequence
