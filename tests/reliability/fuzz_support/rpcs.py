"""Every coalition.v1 RPC, read from the service descriptors, and the outcomes each may answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import grpc
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from coalition.v1 import (
    analytics_pb2,
    event_pb2,
    exchange_pb2,
    identity_pb2,
    partner_pb2,
    settlement_pb2,
    tier_pb2,
)

Code = grpc.StatusCode

# --- every RPC, from the descriptors -------------------------------------------------------------

# Identity last: erasing and unlinking the prepared members would starve the RPCs after them.
SERVICE_MODULES = (
    partner_pb2,
    event_pb2,
    tier_pb2,
    exchange_pb2,
    settlement_pb2,
    analytics_pb2,
    identity_pb2,
)


@dataclass(frozen=True)
class Rpc:
    path: str
    request_type: type[Message]
    server_streaming: bool

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[1]

    @property
    def descriptor(self) -> Descriptor:
        return cast(Descriptor, self.request_type.DESCRIPTOR)

    def __str__(self) -> str:
        return self.name


def every_rpc() -> tuple[Rpc, ...]:
    found = []
    for module in SERVICE_MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                request_type = GetMessageClass(method.input_type)
                path = f"/{service.full_name}/{method.name}"
                found.append(Rpc(path, request_type, bool(method.server_streaming)))
    return tuple(found)


EVERY_RPC = every_rpc()
RPC_BY_NAME = {rpc.name: rpc for rpc in EVERY_RPC}
assert len(RPC_BY_NAME) == len(EVERY_RPC), "RPC names are unique across coalition.v1"

# --- what may come back --------------------------------------------------------------------------

NEVER = frozenset({Code.INTERNAL, Code.UNKNOWN})
REFUSALS = frozenset(
    {
        Code.INVALID_ARGUMENT,
        Code.FAILED_PRECONDITION,
        Code.NOT_FOUND,
        Code.PERMISSION_DENIED,
        Code.UNAUTHENTICATED,
        Code.ALREADY_EXISTS,
        Code.RESOURCE_EXHAUSTED,
        Code.OUT_OF_RANGE,
        Code.ABORTED,
        Code.UNIMPLEMENTED,
    }
)
ANY_OUTCOME = REFUSALS | {Code.OK}
# A correctly signed request built from the schema always authenticates.
SIGNED_OUTCOME = ANY_OUTCOME - {Code.UNAUTHENTICATED}
