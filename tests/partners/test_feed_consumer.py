"""FeedConsumer: in order, each event applied once, acknowledged, bad events never applied."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import grpc
import pytest

from coalition.keys import SigningKey
from coalition.v1 import event_pb2
from partners.sdk.connection import HubError
from partners.sdk.events import EventVerificationError, FeedConsumer, FeedRunResult
from tests.partners.fakes import (
    PARTNER_ID,
    FakeEventFeed,
    FakeStream,
    RecordingSink,
    signed_event,
    tier_granted,
    unavailable,
    wait_until,
)

EXPIRES = datetime(2031, 1, 1, tzinfo=UTC)


@pytest.fixture
def hub_key() -> SigningKey:
    return SigningKey.generate()


def grant(hub_key: SigningKey, sequence: int, ppid: str = "ppid-1") -> event_pb2.Event:
    return signed_event(hub_key, sequence, tier_granted(ppid, "GOLD", EXPIRES))


def consumer(
    hub_key: SigningKey, feed: FakeEventFeed, sink: RecordingSink, page_size: int = 0
) -> FeedConsumer:
    trusted = {hub_key.key_id: hub_key.public_key_bytes}
    return FeedConsumer(feed, trusted, PARTNER_ID, sink, page_size)


class RunInBackground:
    """Runs FeedConsumer.run on a thread, so a test can watch it and then stop it."""

    def __init__(self, feed_consumer: FeedConsumer) -> None:
        self.stop = threading.Event()
        self.result: FeedRunResult | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(feed_consumer,), daemon=True)
        self.thread.start()

    def _run(self, feed_consumer: FeedConsumer) -> None:
        try:
            self.result = feed_consumer.run(self.stop, reconnect_backoff_s=0.01)
        except BaseException as error:
            self.error = error

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive(), "run() must end once stop is set"


def test_drain_applies_every_page_in_order_and_acknowledges(hub_key: SigningKey) -> None:
    feed = FakeEventFeed(events=[grant(hub_key, s) for s in (1, 2, 3, 5, 6)])
    sink = RecordingSink()

    applied = consumer(hub_key, feed, sink, page_size=2).drain()

    assert applied == 5
    assert sink.applied_ids == ["event-1", "event-2", "event-3", "event-5", "event-6"]
    assert feed.acked_sequence == 6


def test_drain_skips_already_applied_events_but_acknowledges_them(hub_key: SigningKey) -> None:
    """A redelivery after a crash between apply and ack: nothing is applied twice."""
    feed = FakeEventFeed(events=[grant(hub_key, s) for s in (1, 2, 3)])
    sink = RecordingSink()
    for already_applied in feed.events[:2]:
        sink.apply(event_pb2.EventPayload.FromString(already_applied.payload))

    applied = consumer(hub_key, feed, sink).drain()

    assert applied == 1
    assert sink.applied_ids == ["event-1", "event-2", "event-3"]
    assert feed.acked_sequence == 3


def test_draining_twice_applies_nothing_the_second_time(hub_key: SigningKey) -> None:
    feed = FakeEventFeed(events=[grant(hub_key, s) for s in (1, 2)])
    sink = RecordingSink()
    feed_consumer = consumer(hub_key, feed, sink)

    assert feed_consumer.drain() == 2
    assert feed_consumer.drain() == 0
    assert sink.applied_ids == ["event-1", "event-2"]


def test_drain_stops_at_a_bad_event_after_acknowledging_the_good_ones(
    hub_key: SigningKey,
) -> None:
    forged = grant(SigningKey.generate(), 3)
    feed = FakeEventFeed(events=[grant(hub_key, 1), grant(hub_key, 2), forged, grant(hub_key, 4)])
    sink = RecordingSink()

    with pytest.raises(EventVerificationError):
        consumer(hub_key, feed, sink).drain()

    assert sink.applied_ids == ["event-1", "event-2"]
    assert feed.acked_sequence == 2


def test_drain_refuses_events_that_go_backwards(hub_key: SigningKey) -> None:
    feed = FakeEventFeed(events=[grant(hub_key, 2), grant(hub_key, 1)])
    sink = RecordingSink()

    with pytest.raises(EventVerificationError, match="order"):
        consumer(hub_key, feed, sink).drain()

    assert sink.applied_ids == ["event-2"]


def test_drain_from_a_fresh_consumer_resumes_after_the_hubs_acknowledged_position(
    hub_key: SigningKey,
) -> None:
    feed = FakeEventFeed(events=[grant(hub_key, s) for s in (1, 2, 3)], acked_sequence=2)
    sink = RecordingSink()

    assert consumer(hub_key, feed, sink).drain() == 1
    assert sink.applied_ids == ["event-3"]


def test_run_applies_streamed_events_acknowledges_and_stops_when_asked(
    hub_key: SigningKey,
) -> None:
    feed = FakeEventFeed(streams=[FakeStream([grant(hub_key, 1), grant(hub_key, 2)], True)])
    sink = RecordingSink()
    running = RunInBackground(consumer(hub_key, feed, sink))

    assert wait_until(lambda: feed.acked_sequence == 2)
    running.finish()

    assert running.error is None
    assert running.result == FeedRunResult(applied=2)
    assert sink.applied_ids == ["event-1", "event-2"]


def test_run_reconnects_after_the_last_acknowledged_event(hub_key: SigningKey) -> None:
    first = FakeStream([grant(hub_key, 1), grant(hub_key, 2), unavailable()], hold_open=False)
    second = FakeStream([grant(hub_key, 3)], hold_open=True)
    feed = FakeEventFeed(streams=[first, second])
    sink = RecordingSink()
    running = RunInBackground(consumer(hub_key, feed, sink))

    assert wait_until(lambda: feed.acked_sequence == 3)
    running.finish()

    assert sink.applied_ids == ["event-1", "event-2", "event-3"]
    assert feed.subscribed_after[:2] == [None, 2]
    assert running.result == FeedRunResult(applied=3)


def test_run_never_applies_an_event_twice_when_acknowledgements_are_lost(
    hub_key: SigningKey,
) -> None:
    """Lost acks mean the hub redelivers from its own position: the sink must dedupe."""
    events = [grant(hub_key, s) for s in (1, 2, 3)]
    first = FakeStream([*events[:2], unavailable()], hold_open=False)
    feed = FakeEventFeed(streams=[first, FakeStream(events, hold_open=True)], ack_failures=2)
    sink = RecordingSink()
    running = RunInBackground(consumer(hub_key, feed, sink))

    assert wait_until(lambda: feed.acked_sequence == 3)
    running.finish()

    assert sink.applied_ids == ["event-1", "event-2", "event-3"]
    assert running.result == FeedRunResult(applied=3)


def test_run_reconnects_when_the_hub_ends_the_stream(hub_key: SigningKey) -> None:
    first = FakeStream([grant(hub_key, 1)], hold_open=False)
    second = FakeStream([grant(hub_key, 2)], hold_open=True)
    feed = FakeEventFeed(streams=[first, second])
    sink = RecordingSink()
    running = RunInBackground(consumer(hub_key, feed, sink))

    assert wait_until(lambda: feed.acked_sequence == 2)
    running.finish()

    assert sink.applied_ids == ["event-1", "event-2"]
    assert feed.subscribed_after[:2] == [None, 1]


def test_run_stops_at_a_bad_event_and_reports_it(hub_key: SigningKey) -> None:
    forged = grant(SigningKey.generate(), 2)
    feed = FakeEventFeed(streams=[FakeStream([grant(hub_key, 1), forged, grant(hub_key, 3)], True)])
    sink = RecordingSink()
    running = RunInBackground(consumer(hub_key, feed, sink))

    assert wait_until(lambda: not running.thread.is_alive())

    assert running.result is not None
    assert isinstance(running.result.verification_failure, EventVerificationError)
    assert running.result.applied == 1
    assert sink.applied_ids == ["event-1"]
    assert feed.acked_sequence == 1


def test_run_raises_a_refusal_that_reconnecting_cannot_fix(hub_key: SigningKey) -> None:
    refused = HubError(grpc.StatusCode.UNAUTHENTICATED, "request not authenticated")
    feed = FakeEventFeed(streams=[FakeStream([refused], hold_open=False)])
    running = RunInBackground(consumer(hub_key, feed, RecordingSink()))

    assert wait_until(lambda: not running.thread.is_alive())

    assert isinstance(running.error, HubError)
    assert running.error.code == grpc.StatusCode.UNAUTHENTICATED
    assert feed.subscribed_after == [None]
