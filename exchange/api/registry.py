"""Declares which servicer method implements which RPC, under which policy, and serves them.

An RPC of a coalition.v1 service with no declaration is refused: nothing reaches a method
that has not said whether it changes state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message_factory import GetMessageClass

from exchange.api.aio import GrpcEntrypoint
from exchange.api.calls import MethodPolicy, RpcMethod

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
if TYPE_CHECKING:
    GenericHandler = grpc.GenericRpcHandler[bytes, bytes]
    MethodHandler = grpc.RpcMethodHandler[bytes, bytes]
else:
    GenericHandler = grpc.GenericRpcHandler
    MethodHandler = grpc.RpcMethodHandler
DECLARATION_ATTRIBUTE = "_coalition_rpc"


def rpc(name: str, policy: MethodPolicy) -> Callable[[F], F]:
    """Marks a servicer method as the implementation of RPC `name` under `policy`.

    A server-streaming RPC's method is an async generator taking (request, StreamContext).
    """

    def mark(function: F) -> F:
        setattr(function, DECLARATION_ATTRIBUTE, (name, policy))
        return function

    return mark


def method_path(service: ServiceDescriptor, name: str) -> str:
    return f"/{service.full_name}/{name}"


def declared_methods(servicer: object, service: ServiceDescriptor) -> dict[str, RpcMethod]:
    """Every RPC of `service` that `servicer` declares, keyed by full method path."""
    found: dict[str, RpcMethod] = {}
    for attribute in dir(servicer):
        bound = getattr(servicer, attribute)
        declaration = getattr(bound, DECLARATION_ATTRIBUTE, None)
        if declaration is None:
            continue
        name, policy = declaration
        descriptor = service.methods_by_name.get(name)
        assert descriptor is not None, f"{type(servicer).__name__} declares unknown RPC {name}"
        path = method_path(service, name)
        assert path not in found, f"RPC {path} declared twice"
        streaming = bool(descriptor.server_streaming)
        assert not (streaming and policy.changes_state), f"{path}: streams only read"
        found[path] = RpcMethod(
            path, GetMessageClass(descriptor.input_type), policy, bound, streaming
        )
    return found


class SignedServicesHandler(GenericHandler):
    """Routes coalition.v1 calls, as raw bytes, into the request pipeline."""

    def __init__(
        self,
        entrypoint: GrpcEntrypoint,
        services: Iterable[tuple[ServiceDescriptor, object]],
    ) -> None:
        self.handlers: dict[str, MethodHandler] = {}
        self.service_names: list[str] = []
        for service, servicer in services:
            self.service_names.append(service.full_name)
            declared = declared_methods(servicer, service)
            for method in service.methods:
                path = method_path(service, method.name)
                rpc_method = declared.get(path)
                if rpc_method is None:
                    log.warning("RPC %s has no declared policy and will be refused", path)
                    refuse = entrypoint.undeclared(path)
                    self.handlers[path] = grpc.unary_unary_rpc_method_handler(refuse)
                elif rpc_method.streaming:
                    stream = entrypoint.stream(rpc_method)
                    self.handlers[path] = grpc.unary_stream_rpc_method_handler(stream)
                else:
                    unary = entrypoint.unary(rpc_method)
                    self.handlers[path] = grpc.unary_unary_rpc_method_handler(unary)

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> MethodHandler | None:
        return self.handlers.get(handler_call_details.method)
