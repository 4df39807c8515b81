"""A forwarding gRPC proxy between SDK and hub that can lose or tamper with responses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import grpc


@dataclass
class ProxyBehaviour:
    """Knobs a test turns: lose the first N responses, rewrite response bytes."""

    lose_responses: int = 0
    tamper: Callable[[bytes], bytes] | None = None
    seen_metadata: list[dict[str, str | bytes]] = field(default_factory=list)


class _ForwardingHandler(grpc.GenericRpcHandler):
    def __init__(self, upstream: grpc.Channel, behaviour: ProxyBehaviour) -> None:
        self.upstream = upstream
        self.behaviour = behaviour

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = details.method  # type: ignore[attr-defined]

        def forward(body: bytes, context: grpc.ServicerContext) -> bytes:
            metadata = tuple(
                (k, v) for k, v in context.invocation_metadata() if k.startswith("cx-")
            )
            self.behaviour.seen_metadata.append(dict(metadata))
            upstream = self.upstream.unary_unary(method)
            try:
                response, call = upstream.with_call(body, metadata=metadata, timeout=10)
            except grpc.RpcError as error:
                context.set_trailing_metadata(error.trailing_metadata())  # type: ignore[attr-defined]
                context.abort(error.code(), error.details())  # type: ignore[attr-defined]
            if self.behaviour.lose_responses > 0:
                self.behaviour.lose_responses -= 1
                context.abort(grpc.StatusCode.UNAVAILABLE, "connection lost (test proxy)")
            context.set_trailing_metadata(call.trailing_metadata())
            return self.behaviour.tamper(response) if self.behaviour.tamper else response

        return grpc.unary_unary_rpc_method_handler(forward)


@contextmanager
def forwarding_proxy(target: str, behaviour: ProxyBehaviour) -> Iterator[str]:
    """Serves a proxy to `target` on a free port; yields the proxy's address."""
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    with grpc.insecure_channel(target) as upstream:
        server.add_generic_rpc_handlers((_ForwardingHandler(upstream, behaviour),))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        try:
            yield f"127.0.0.1:{port}"
        finally:
            server.stop(0).wait()
