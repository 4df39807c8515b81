"""The partner's typed calls to the hub's EventService: list, acknowledge, subscribe."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from typing import Protocol, cast

import grpc
from google.protobuf.message import DecodeError

from coalition import wire
from coalition.v1 import event_pb2
from partners.sdk.connection import HubConnection, HubError
from partners.sdk.event_verification import EventVerificationError

SERVICE = "/coalition.v1.EventService/"
# The hub ends a stream after 15 minutes; a client deadline a little past that only catches a
# stream that silently died (no keepalive), and run() reconnects.
SUBSCRIBE_DEADLINE_S_DEFAULT = 20 * 60.0


class EventStream(Protocol):
    """An open stream of events: iterate it; `cancel()` from any thread ends the iteration."""

    def __iter__(self) -> Iterator[event_pb2.Event]: ...

    def cancel(self) -> None: ...


class Subscription:
    """A Subscribe call in progress. Failures surface while iterating, as HubError."""

    def __init__(
        self, call: grpc.CallIterator[bytes], verify_refusal: Callable[[grpc.Call], None]
    ) -> None:
        self._call = call
        self._verify_refusal = verify_refusal
        self._cancelled = threading.Event()

    def __iter__(self) -> Iterator[event_pb2.Event]:
        try:
            for message in self._call:
                yield _stream_event(message)
        except grpc.RpcError as error:
            if self._cancelled.is_set():
                return  # we ended it ourselves: not a failure
            self._verify_refusal(cast(grpc.Call, error))
            raise HubError.from_rpc_error(error) from None

    def cancel(self) -> None:
        self._cancelled.set()
        self._call.cancel()  # type: ignore[no-untyped-call]  # grpc-stubs leaves it untyped


def _stream_event(message: bytes) -> event_pb2.Event:
    try:
        return event_pb2.SubscribeResponse.FromString(message).event
    except DecodeError:
        raise EventVerificationError("the event stream sent a malformed message") from None


def _after(after_sequence: int | None) -> dict[str, int]:
    """`after_sequence` is optional on the wire: absent means after the last acknowledged."""
    return {} if after_sequence is None else {"after_sequence": after_sequence}


class EventClient:
    def __init__(
        self, connection: HubConnection, subscribe_deadline_s: float = SUBSCRIBE_DEADLINE_S_DEFAULT
    ) -> None:
        self.connection = connection
        self.subscribe_deadline_s = subscribe_deadline_s

    def list_events(
        self, after_sequence: int | None, page_size: int = 0
    ) -> event_pb2.ListEventsResponse:
        """One page after `after_sequence` (None: after the last acknowledged), unverified."""
        return self.connection.call(
            SERVICE + "ListEvents",
            event_pb2.ListEventsRequest(page_size=page_size, **_after(after_sequence)),
            event_pb2.ListEventsResponse,
            changes_state=False,
        )

    def ack_events(self, up_to_sequence: int, idempotency_key: str | None = None) -> int:
        """Acknowledges every event up to and including a sequence; returns the acked sequence."""
        response = self.connection.call(
            SERVICE + "AckEvents",
            event_pb2.AckEventsRequest(up_to_sequence=up_to_sequence),
            event_pb2.AckEventsResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return response.acked_sequence

    def open_subscription(self, after_sequence: int | None) -> Subscription:
        """Opens a Subscribe stream signed like a unary request; each event is self-signed."""
        method = SERVICE + "Subscribe"
        body = event_pb2.SubscribeRequest(**_after(after_sequence)).SerializeToString()
        # Each event carries its own signature (verify_event checks it); a refusal of the
        # stream is signed like any other and checked here.
        nonce = wire.new_nonce()
        metadata = self.connection.signed_metadata(method, nonce, "", body)
        multicallable = self.connection.channel.unary_stream(
            method, request_serializer=None, response_deserializer=None
        )
        return Subscription(
            multicallable(body, timeout=self.subscribe_deadline_s, metadata=metadata),
            functools.partial(self.connection.verify_refusal, method, nonce),
        )

    def subscribe(self, after_sequence: int | None) -> Iterator[event_pb2.Event]:
        """Events as they arrive, unverified; closing the iterator cancels the stream."""
        subscription = self.open_subscription(after_sequence)
        try:
            yield from subscription
        finally:
            subscription.cancel()
