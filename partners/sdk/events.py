"""The partner's event feed: typed calls, hub-signature checks, and an apply-then-ack consumer.

The pieces live in event_verification, event_client and feed_consumer; every name is also
importable from here.
"""

from partners.sdk.event_client import (
    SERVICE,
    SUBSCRIBE_DEADLINE_S_DEFAULT,
    EventClient,
    EventStream,
    Subscription,
)
from partners.sdk.event_verification import (
    EVENT_SIGNING_KIND,
    EVENT_TYPE_BY_BODY,
    EventVerificationError,
    verify_event,
)
from partners.sdk.feed_consumer import (
    ACK_EVENTS_MAX,
    ON_QUIET_INTERVAL_S,
    RECONNECT_BACKOFF_S_DEFAULT,
    RECONNECT_BACKOFF_S_MAX,
    STOP_POLL_S,
    STREAM_HEALTHY_S_MIN,
    STREAM_QUEUE_EVENTS_MAX,
    STREAM_RECONNECT_CODES,
    STREAM_THREAD_JOIN_S_MAX,
    EventFeed,
    EventSink,
    FeedConsumer,
    FeedRunResult,
)

__all__ = [
    "ACK_EVENTS_MAX",
    "EVENT_SIGNING_KIND",
    "EVENT_TYPE_BY_BODY",
    "ON_QUIET_INTERVAL_S",
    "RECONNECT_BACKOFF_S_DEFAULT",
    "RECONNECT_BACKOFF_S_MAX",
    "SERVICE",
    "STOP_POLL_S",
    "STREAM_HEALTHY_S_MIN",
    "STREAM_QUEUE_EVENTS_MAX",
    "STREAM_RECONNECT_CODES",
    "STREAM_THREAD_JOIN_S_MAX",
    "SUBSCRIBE_DEADLINE_S_DEFAULT",
    "EventClient",
    "EventFeed",
    "EventSink",
    "EventStream",
    "EventVerificationError",
    "FeedConsumer",
    "FeedRunResult",
    "Subscription",
    "verify_event",
]
