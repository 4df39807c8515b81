"""What passes between the gRPC entrypoint, the request pipeline and the servicers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.message import Message

from exchange.domain.ports import UnitOfWork

HEADER_REQUEST_ID = "cx-request-id"
Trailers = tuple[tuple[str, str | bytes], ...]


@dataclass(frozen=True)
class MethodPolicy:
    """What the pipeline demands of one method; every method must declare one."""

    changes_state: bool


READ_ONLY = MethodPolicy(changes_state=False)
STATE_CHANGING = MethodPolicy(changes_state=True)


@dataclass(frozen=True)
class CallContext:
    """What a servicer method gets besides its request: who calls, and the open transaction."""

    partner_id: str
    request_id: str
    uow: UnitOfWork
    # The call's own key ("" on read-only calls): a batch's entries may not reuse it.
    idempotency_key: str = ""


@dataclass(frozen=True)
class StreamContext:
    """What a server-streaming method gets: who calls, and a way to run blocking work.

    The method is an async generator: waiting between messages holds no thread. `run` does
    each piece of storage work on a worker thread in its own short unit of work; a stream
    never holds a transaction open.
    """

    partner_id: str
    request_id: str
    run: Callable[..., Awaitable[Any]]


Implementation = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class RpcMethod:
    path: str
    request_type: type[Message]
    policy: MethodPolicy
    implementation: Implementation
    streaming: bool = False


@dataclass(frozen=True)
class PipelineSettings:
    audience: str
    require_client_certificate: bool


@dataclass(frozen=True)
class IncomingCall:
    """What the transport knows of a call besides its body."""

    metadata: Sequence[tuple[str, str | bytes]]
    auth_context: Mapping[str, Sequence[bytes]] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """A call's answer: the response bytes, or a refusal; hub-signed trailers either way."""

    trailers: Trailers
    response: bytes = b""
    status: grpc.StatusCode = grpc.StatusCode.OK
    details: str = ""

    @property
    def refused(self) -> bool:
        return self.status is not grpc.StatusCode.OK


@dataclass(frozen=True)
class OpenedStream:
    """A stream whose request authenticated and parsed: ready to send messages."""

    request: Message
    partner_id: str
    request_id: str
    nonce: str
