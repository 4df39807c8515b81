"""A bare gRPC echo server of the hub's own server type: raw bytes in, fixed-size bytes out.

    python -m exchange.bench.echo --listen 127.0.0.1:50099 --response-bytes 300

Same `grpc.server(ThreadPoolExecutor(worker_threads))`, same server options, a raw-bytes
generic handler (as the hub's is), the standard health service, and trailing metadata shaped
like the hub's signed trailers. It does no signing, no verification and no storage: it is
what a call costs with nothing behind it.
"""

from __future__ import annotations

import argparse
import os
import signal
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from coalition import wire
from coalition.keys import SigningKey
from exchange.api.pipeline import HEADER_REQUEST_ID
from exchange.api.server import _server_options
from exchange.config import Settings

if TYPE_CHECKING:
    MethodHandler = grpc.RpcMethodHandler[bytes, bytes]
else:
    MethodHandler = grpc.RpcMethodHandler

ECHO_SERVICE = "coalition.bench.v1.Echo"
ECHO_METHOD = f"/{ECHO_SERVICE}/Call"
SIGNATURE_BYTES = 64


def hub_shaped_trailers() -> tuple[tuple[str, str | bytes], ...]:
    """Trailers the size of the hub's: a request id, a hub key id and a 64-byte signature."""
    return (
        (HEADER_REQUEST_ID, uuid.uuid4().hex),
        (wire.HEADER_KEY_ID, SigningKey.generate().key_id),
        (wire.HEADER_SIGNATURE, os.urandom(SIGNATURE_BYTES)),
    )


class EchoHandler(grpc.GenericRpcHandler):  # type: ignore[type-arg]
    """Answers ECHO_METHOD with the same `response_bytes` every time."""

    def __init__(self, response_bytes: int) -> None:
        self.response = os.urandom(response_bytes)
        self.trailers = hub_shaped_trailers()
        self.handler: MethodHandler = grpc.unary_unary_rpc_method_handler(self.call)

    def call(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        context.set_trailing_metadata(self.trailers)
        return self.response

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> MethodHandler | None:
        return self.handler if handler_call_details.method == ECHO_METHOD else None


def build_echo_server(listen_address: str, response_bytes: int) -> tuple[grpc.Server, int]:
    """The hub's server type and options (exchange.api.server), with the echo handler."""
    server = grpc.server(
        ThreadPoolExecutor(max_workers=Settings.load().worker_threads, thread_name_prefix="rpc"),
        options=_server_options(Settings.load()),
    )
    server.add_generic_rpc_handlers((EchoHandler(response_bytes),))
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    port = server.add_insecure_port(listen_address)
    if port == 0:
        raise OSError(f"could not listen on {listen_address}")
    return server, port


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="host:port")
    parser.add_argument("--response-bytes", required=True, type=int)
    args = parser.parse_args(argv)
    server, port = build_echo_server(args.listen, args.response_bytes)
    server.start()
    print(f"echo serving on port {port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()


if __name__ == "__main__":
    main()
