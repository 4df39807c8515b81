"""Fakes for partner-side tests: hub-signed events, a scripted feed, a recording sink and hub."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf.message import Message

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import event_pb2, identity_pb2
from partners.sdk.connection import HubConnection, HubError
from partners.sdk.events import EVENT_SIGNING_KIND, EVENT_TYPE_BY_BODY

PARTNER_ID = "harbor"
CREATED = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


EventBody = event_pb2.TierGranted | event_pb2.MemberErased | event_pb2.MemberUnlinked
BODY_FIELDS = {
    event_pb2.TierGranted: "tier_granted",
    event_pb2.MemberErased: "member_erased",
    event_pb2.MemberUnlinked: "member_unlinked",
}


def signed_event(
    hub_key: SigningKey,
    sequence: int,
    body: EventBody | None = None,
    *,
    partner_id: str = PARTNER_ID,
    event_id: str | None = None,
) -> event_pb2.Event:
    """An event exactly as the hub would deliver it: payload bytes signed with `hub_key`."""
    event_id = event_id or f"event-{sequence}"
    payload = event_pb2.EventPayload(
        event_id=event_id, sequence=sequence, partner_id=partner_id, create_time=CREATED
    )
    if body is not None:
        getattr(payload, BODY_FIELDS[type(body)]).CopyFrom(body)
    payload_bytes = payload.SerializeToString(deterministic=True)
    body_name = payload.WhichOneof("body")
    return event_pb2.Event(
        event_id=event_id,
        sequence=sequence,
        type=EVENT_TYPE_BY_BODY[body_name] if body_name else event_pb2.EVENT_TYPE_UNSPECIFIED,
        create_time=CREATED,
        payload=payload_bytes,
        signing_key_id=hub_key.key_id,
        signature=hub_key.sign(
            wire.payload_signing_bytes(kind=EVENT_SIGNING_KIND, payload=payload_bytes)
        ),
    )


def tier_granted(ppid: str, tier_code: str, expires: datetime) -> event_pb2.TierGranted:
    return event_pb2.TierGranted(
        ppid=ppid, grant_id=f"grant-{tier_code}", tier_code=tier_code, expire_time=expires
    )


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class FakeStream:
    """A scripted stream: yields its items (raising any exception among them), then, if held
    open, waits like a quiet hub until cancelled."""

    def __init__(self, items: Sequence[event_pb2.Event | Exception], hold_open: bool) -> None:
        self.items = list(items)
        self.hold_open = hold_open
        self.cancelled = threading.Event()

    def __iter__(self) -> Iterator[event_pb2.Event]:
        for item in self.items:
            if self.cancelled.is_set():
                return
            if isinstance(item, Exception):
                raise item
            yield item
        if self.hold_open:
            self.cancelled.wait()

    def cancel(self) -> None:
        self.cancelled.set()


@dataclass
class FakeEventFeed:
    """The hub's side of one partner feed, in memory: what FeedConsumer talks to."""

    events: list[event_pb2.Event] = field(default_factory=list)
    acked_sequence: int = 0
    streams: list[FakeStream] = field(default_factory=list)
    subscribed_after: list[int | None] = field(default_factory=list)
    acks: list[int] = field(default_factory=list)
    ack_failures: int = 0  # how many acknowledgements are lost on the way, first ones first

    def list_events(
        self, after_sequence: int | None, page_size: int = 0
    ) -> event_pb2.ListEventsResponse:
        start = self.acked_sequence if after_sequence is None else after_sequence
        page = [e for e in self.events if e.sequence > start][: page_size or 50]
        return event_pb2.ListEventsResponse(
            events=page,
            last_sequence=max((e.sequence for e in self.events), default=0),
            acked_sequence=self.acked_sequence,
        )

    def ack_events(self, up_to_sequence: int, idempotency_key: str | None = None) -> int:
        if self.ack_failures > 0:
            self.ack_failures -= 1
            raise unavailable()
        self.acks.append(up_to_sequence)
        self.acked_sequence = max(self.acked_sequence, up_to_sequence)
        return self.acked_sequence

    def open_subscription(self, after_sequence: int | None) -> FakeStream:
        self.subscribed_after.append(after_sequence)
        if self.streams:
            return self.streams.pop(0)
        return FakeStream([], hold_open=True)


@dataclass
class RecordingSink:
    """An in-memory EventSink that records what it applied, in order."""

    applied: list[event_pb2.EventPayload] = field(default_factory=list)

    def seen(self, event_id: str) -> bool:
        return any(p.event_id == event_id for p in self.applied)

    def apply(self, payload: event_pb2.EventPayload) -> None:
        if not self.seen(payload.event_id):
            self.applied.append(payload)

    @property
    def applied_ids(self) -> list[str]:
        return [p.event_id for p in self.applied]


def unavailable() -> HubError:
    return HubError(grpc.StatusCode.UNAVAILABLE, "connection reset")


class FakeHubConnection(HubConnection):
    """A HubConnection whose calls never leave the process: records requests, answers them
    from a small in-memory hub, so program code runs unchanged."""

    def __init__(self, partner_id: str, feed: FakeEventFeed | None = None) -> None:
        key = SigningKey.generate()
        # Never dialled: every call is answered by `call` below.
        channel = grpc.insecure_channel("127.0.0.1:9")
        super().__init__(channel, partner_id, key, "coalition-test", {})
        self.feed = feed or FakeEventFeed()
        self.requests: list[tuple[str, Message]] = []
        self.enrolled = 0

    def call(
        self,
        method: str,
        request: Any,
        response_type: type[Any],
        *,
        changes_state: bool,
        idempotency_key: str | None = None,
    ) -> Any:
        self.requests.append((method, request))
        name = method.rsplit("/", 1)[-1]
        if name == "EnrollMember":
            self.enrolled += 1
            return identity_pb2.EnrollMemberResponse(ppid=f"ppid-{self.enrolled}")
        if name == "ListEvents":
            after = request.after_sequence if request.HasField("after_sequence") else None
            return self.feed.list_events(after, request.page_size)
        if name == "AckEvents":
            acked = self.feed.ack_events(request.up_to_sequence)
            return event_pb2.AckEventsResponse(acked_sequence=acked)
        return response_type()

    def sent_bytes(self) -> bytes:
        return b"".join(request.SerializeToString() for _, request in self.requests)
