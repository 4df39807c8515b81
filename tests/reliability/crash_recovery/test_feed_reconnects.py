"""The regression test of an SDK defect the crash runs exposed: each hub crash grew the feed
consumer's reconnect backoff for the rest of the partner's life."""

from __future__ import annotations

import threading

from coalition.keys import SigningKey
from partners.sdk.events import RECONNECT_BACKOFF_S_DEFAULT, FeedConsumer
from tests.partners.fakes import (
    PARTNER_ID,
    FakeEventFeed,
    FakeStream,
    RecordingSink,
    signed_event,
    unavailable,
)

# --- the partner SDK across many restarts -----------------------------------------------------

FEED_RESTARTS = 20


class RecordingStop(threading.Event):
    """A stop event that records each pause FeedConsumer.run asks for instead of sleeping,
    and stops the run after `pauses_max` of them."""

    def __init__(self, pauses_max: int) -> None:
        super().__init__()
        self.pauses_max = pauses_max
        self.pauses_s: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.pauses_s.append(timeout or 0.0)
        if len(self.pauses_s) >= self.pauses_max:
            self.set()
        return self.is_set()


def test_a_feed_reconnects_as_promptly_after_the_twentieth_hub_restart_as_after_the_first() -> None:
    """Each stream delivers an event and then dies with UNAVAILABLE, as one does when the hub
    is SIGKILLed: a stream that worked is a fresh start, so no pause may exceed the one after
    a first failure (2 x the initial backoff)."""
    hub_key = SigningKey.generate()
    feed = FakeEventFeed(
        streams=[
            FakeStream([signed_event(hub_key, n), unavailable()], hold_open=False)
            for n in range(1, FEED_RESTARTS + 1)
        ]
    )
    sink = RecordingSink()
    consumer = FeedConsumer(feed, {hub_key.key_id: hub_key.public_key_bytes}, PARTNER_ID, sink)
    stop = RecordingStop(pauses_max=FEED_RESTARTS)

    consumer.run(stop)

    assert len(sink.applied_ids) == FEED_RESTARTS, "every stream delivered its event"
    longest_s = 2 * RECONNECT_BACKOFF_S_DEFAULT
    slow = [(n, round(pause, 2)) for n, pause in enumerate(stop.pauses_s, 1) if pause > longest_s]
    assert slow == [], f"(restart, pause s) longer than {longest_s} s: {slow}"
