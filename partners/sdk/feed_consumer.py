"""The apply-then-ack consumer of a partner's event feed, by polling or by following the stream."""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import grpc

from coalition.v1 import event_pb2
from partners.sdk.connection import HubError
from partners.sdk.event_client import EventStream
from partners.sdk.event_verification import EventVerificationError, verify_event

# The feed's log records keep the name they have always had: partners filter on it.
log = logging.getLogger("partners.sdk.events")

RECONNECT_BACKOFF_S_DEFAULT = 0.5
RECONNECT_BACKOFF_S_MAX = 30.0
# Stream failures worth reconnecting for; anything else (UNAUTHENTICATED, INVALID_ARGUMENT, ...)
# will not heal by retrying and is raised.
STREAM_RECONNECT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)
ACK_EVENTS_MAX = 100  # during a long burst, acknowledge at least this often
STREAM_QUEUE_EVENTS_MAX = 500
# A stream open this long before it fails counts as healthy: the backoff starts afresh.
STREAM_HEALTHY_S_MIN = 5.0
ON_QUIET_INTERVAL_S = 1.0
STOP_POLL_S = 0.1  # how soon run() notices `stop` while the stream is quiet
STREAM_THREAD_JOIN_S_MAX = 5.0


class EventFeed(Protocol):
    """What FeedConsumer needs from the hub: an EventClient, or a fake of one."""

    def list_events(
        self, after_sequence: int | None, page_size: int = 0
    ) -> event_pb2.ListEventsResponse: ...

    def ack_events(self, up_to_sequence: int, idempotency_key: str | None = None) -> int: ...

    def open_subscription(self, after_sequence: int | None) -> EventStream: ...


class EventSink(Protocol):
    """Where verified events land. `apply` must act AND record the event id in one transaction,
    and do nothing for an id it already recorded: that is what makes redelivery harmless."""

    def seen(self, event_id: str) -> bool: ...

    def apply(self, payload: event_pb2.EventPayload) -> None: ...


@dataclass(frozen=True)
class FeedRunResult:
    applied: int
    # Set when run() stopped at an event that failed verification; that event was not applied.
    verification_failure: EventVerificationError | None = None


@dataclass(frozen=True)
class _StreamEnd:
    error: Exception | None = None


class _StreamPump:
    """Reads a stream on its own thread, so the consumer can notice `stop` and quiet spells."""

    def __init__(self, stream: EventStream) -> None:
        self._stream = stream
        self._items: queue.Queue[event_pb2.Event | _StreamEnd] = queue.Queue(
            STREAM_QUEUE_EVENTS_MAX
        )
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="event-stream", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            for event in self._stream:
                if not self._put(event):
                    return
        except Exception as error:
            self._put(_StreamEnd(error))  # handed to the consumer thread, which decides
            return
        self._put(_StreamEnd())

    def _put(self, item: event_pb2.Event | _StreamEnd) -> bool:
        while not self._closing.is_set():
            try:
                self._items.put(item, timeout=STOP_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def get(self, timeout_s: float) -> event_pb2.Event | _StreamEnd | None:
        """The next item, or None if nothing arrived within `timeout_s`."""
        try:
            return self._items.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def quiet(self) -> bool:
        return self._items.empty()

    def close(self) -> None:
        self._closing.set()
        self._stream.cancel()
        self._thread.join(STREAM_THREAD_JOIN_S_MAX)


class FeedConsumer:
    """Applies a partner's feed in order, exactly once per event id, acknowledging as it goes.

    verify → skip if the sink has seen it → apply → acknowledge. An acknowledgement covers
    already-seen events too, so a redelivered backlog is cleared rather than re-sent forever.
    """

    def __init__(
        self,
        feed: EventFeed,
        hub_public_keys: dict[str, bytes],
        partner_id: str,
        sink: EventSink,
        page_size: int = 0,
    ) -> None:
        self.feed = feed
        self.hub_public_keys = hub_public_keys
        self.partner_id = partner_id
        self.sink = sink
        self.page_size = page_size
        # None until the hub confirms an ack: then reads resume after the hub's own position.
        self.acked_sequence: int | None = None
        self.applied_total = 0
        self._processed_sequence: int | None = None
        self._unacked_events = 0
        # Called by run() before each (re)subscription and about once a second while the
        # stream is quiet: where a program sends what an outage kept it from sending.
        self.on_quiet: Callable[[], object] | None = None
        self._quiet_called_s = 0.0

    def drain(self) -> int:
        """Polls until the feed is empty as of this call; returns how many events were applied.

        Raises EventVerificationError at the first bad event, after acknowledging the ones
        before it; the bad one is neither applied nor acknowledged.
        """
        applied_before = self.applied_total
        target_sequence: int | None = None
        while True:
            after = self.acked_sequence
            page = self.feed.list_events(after, self.page_size)
            if target_sequence is None:
                target_sequence = page.last_sequence
            self._begin_pass(after)
            self._process_batch(page.events)
            if not page.events or page.events[-1].sequence >= target_sequence:
                return self.applied_total - applied_before
            if self.acked_sequence == after:
                log.warning("feed for %s made no progress past %s", self.partner_id, after)
                return self.applied_total - applied_before

    def run(
        self,
        stop: threading.Event,
        reconnect_backoff_s: float = RECONNECT_BACKOFF_S_DEFAULT,
        reconnect_backoff_s_max: float = RECONNECT_BACKOFF_S_MAX,
    ) -> FeedRunResult:
        """Follows the Subscribe stream until `stop` is set, reconnecting after failures.

        Each reconnect resumes after the last acknowledged sequence, after a bounded backoff.
        An event that fails verification is logged and ends the run (see the result).
        """
        applied_before, failures = self.applied_total, 0
        while not stop.is_set():
            opened_s, applied = time.monotonic(), self.applied_total
            try:
                self._follow_stream(stop)
                failures = 0
            except HubError as error:
                if error.code not in STREAM_RECONNECT_CODES:
                    raise
                # A stream that delivered or lasted was healthy: this is a new run of failures,
                # not the next of old ones (a hub restarted twenty times in a day must not
                # leave its partners waiting the longest backoff after each restart).
                healthy = (
                    self.applied_total > applied
                    or time.monotonic() - opened_s >= STREAM_HEALTHY_S_MIN
                )
                failures = 1 if healthy else failures + 1
                log.info("feed for %s: stream ended with %s", self.partner_id, error.code.name)
            except EventVerificationError as error:
                log.error("feed for %s stopped: %s", self.partner_id, error)
                return FeedRunResult(self.applied_total - applied_before, error)
            stop.wait(_backoff_s(failures, reconnect_backoff_s, reconnect_backoff_s_max))
        return FeedRunResult(self.applied_total - applied_before)

    def _call_on_quiet(self) -> None:
        if self.on_quiet is None:
            return
        self._quiet_called_s = time.monotonic()
        try:
            self.on_quiet()
        except HubError as error:
            log.warning("feed for %s: quiet-time work failed: %s", self.partner_id, error.code.name)

    def _follow_stream(self, stop: threading.Event) -> None:
        self._call_on_quiet()
        after = self.acked_sequence
        self._begin_pass(after)
        pump = _StreamPump(self.feed.open_subscription(after))
        try:
            self._consume(pump, stop)
        except BaseException:
            self._ack_quietly()
            raise
        finally:
            pump.close()

    def _consume(self, pump: _StreamPump, stop: threading.Event) -> None:
        while not stop.is_set():
            item = pump.get(STOP_POLL_S)
            if isinstance(item, _StreamEnd):
                if item.error is not None:
                    raise item.error  # the caller acknowledges what was applied, quietly
                break
            if item is not None:
                self._process(item)
            # Acknowledge whenever the stream goes quiet: one ack per burst, not per event.
            if pump.quiet() or self._unacked_events >= ACK_EVENTS_MAX:
                self._ack()
            if item is None and time.monotonic() - self._quiet_called_s >= ON_QUIET_INTERVAL_S:
                self._call_on_quiet()
        self._ack()

    def _begin_pass(self, after_sequence: int | None) -> None:
        """Each read restarts the order check from where the hub will resume."""
        self._processed_sequence = after_sequence

    def _process_batch(self, events: Sequence[event_pb2.Event]) -> None:
        try:
            for event in events:
                self._process(event)
        except BaseException:
            self._ack_quietly()
            raise
        self._ack()

    def _process(self, event: event_pb2.Event) -> None:
        payload = verify_event(event, self.hub_public_keys, self.partner_id)
        if self._processed_sequence is not None and payload.sequence <= self._processed_sequence:
            raise EventVerificationError(f"event {event.event_id} arrived out of order")
        if self.sink.seen(payload.event_id):
            log.debug("feed for %s: event %s already applied", self.partner_id, event.event_id)
        else:
            self.sink.apply(payload)
            self.applied_total += 1
        self._processed_sequence = payload.sequence
        self._unacked_events += 1

    def _ack(self) -> None:
        processed = self._processed_sequence
        if processed is None or self._unacked_events == 0:
            return
        self.acked_sequence = self.feed.ack_events(processed)
        self._unacked_events = 0

    def _ack_quietly(self) -> None:
        """Acknowledges what was applied before a failure without hiding that failure."""
        try:
            self._ack()
        except HubError as error:
            log.warning("feed for %s: acknowledgement failed: %s", self.partner_id, error.code.name)


def _backoff_s(failures: int, backoff_s: float, backoff_s_max: float) -> float:
    """A short pause even after a clean end, so a hub that ends streams at once is not hammered."""
    if failures == 0:
        return backoff_s
    return random.uniform(backoff_s, min(backoff_s_max, backoff_s * 2**failures))
