"""Echo servers of the hub's own server type: raw bytes in, the same bytes out every time.

    python -m benchmarks.hub.echo --listen 127.0.0.1:50099 --response-bytes 300
    python -m benchmarks.hub.echo --listen 127.0.0.1:50099 --signed signed-echo.json

The server is the hub's (exchange.api.server): grpc.aio with the hub's server options, every
unary call answered on a pool of `worker_threads` threads in a copy of the caller's context (as
exchange.api.aio does), a raw-bytes generic handler, the standard health service.

The bare echo does no signing, no verification and no storage, and sends trailers of the
names and sizes of the hub's signed ones: what a call costs with nothing behind it. The signed
echo (`--signed`, benchmarks.hub.signed_echo) does the protocol's own work and nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import functools
import os
import signal
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import _async as health_async
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.hub.signed_echo import Metadata, SignedEcho
from coalition import wire
from coalition.keys import SigningKey
from exchange.api.authentication import AuthenticationFailure
from exchange.api.pipeline import HEADER_REQUEST_ID
from exchange.api.server import _server_options
from exchange.config import Settings

if TYPE_CHECKING:
    GenericHandler = grpc.GenericRpcHandler[bytes, bytes]
    MethodHandler = grpc.RpcMethodHandler[bytes, bytes]
    Context = grpc.aio.ServicerContext[bytes, bytes]
else:
    GenericHandler = grpc.GenericRpcHandler
    MethodHandler = grpc.RpcMethodHandler
    Context = grpc.aio.ServicerContext

ECHO_SERVICE = "coalition.bench.v1.Echo"
ECHO_METHOD = f"/{ECHO_SERVICE}/Call"
SIGNATURE_BYTES = 64
# Runs on a worker thread: the request's bytes and metadata in, the trailers out; raises
# AuthenticationFailure to refuse (UNAUTHENTICATED, the reason in the server's log only).
Answer = Callable[[bytes, Metadata], Metadata]


def hub_shaped_trailers() -> Metadata:
    """Trailers the size of the hub's: a request id, a hub key id and a 64-byte signature."""
    return (
        (HEADER_REQUEST_ID, uuid.uuid4().hex),
        (wire.HEADER_KEY_ID, SigningKey.generate().key_id),
        (wire.HEADER_SIGNATURE, os.urandom(SIGNATURE_BYTES)),
    )


def bare_answer() -> Answer:
    trailers = hub_shaped_trailers()
    return lambda _body, _metadata: trailers


class EchoHandler(GenericHandler):
    """Answers `method` with `response`, the trailers coming from `answer` on a worker."""

    def __init__(
        self, method: str, response: bytes, answer: Answer, workers: ThreadPoolExecutor
    ) -> None:
        self.method = method
        self.response = response
        self.answer = answer
        self.workers = workers
        self.handler: MethodHandler = grpc.unary_unary_rpc_method_handler(self.call)

    async def call(self, request: bytes, context: Context) -> bytes:
        metadata = tuple(context.invocation_metadata() or ())
        run = functools.partial(contextvars.copy_context().run, self.answer, request, metadata)
        try:
            trailers = await asyncio.get_running_loop().run_in_executor(self.workers, run)
        except AuthenticationFailure as refusal:
            print(f"refused: {refusal.reason}", flush=True)
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "request not authenticated")
        context.set_trailing_metadata(trailers)
        return self.response

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> MethodHandler | None:
        return self.handler if handler_call_details.method == self.method else None


async def serve(listen_address: str, method: str, response: bytes, answer: Answer) -> None:
    """Serves until SIGTERM; says SERVING on the health service once it listens."""
    settings = Settings.load()
    workers = ThreadPoolExecutor(max_workers=settings.worker_threads, thread_name_prefix="rpc")
    server = grpc.aio.server(options=_server_options(settings))
    server.add_generic_rpc_handlers((EchoHandler(method, response, answer, workers),))
    health_servicer = health_async.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    port = server.add_insecure_port(listen_address)
    if port == 0:
        raise OSError(f"could not listen on {listen_address}")
    await server.start()
    print(f"echo serving {method} on port {port}", flush=True)
    stopping = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set_result, None)
    await stopping
    await server.stop(0)
    workers.shutdown(wait=True, cancel_futures=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="host:port")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--response-bytes", type=int, help="bare echo: this many random bytes")
    mode.add_argument("--signed", type=Path, help="signed echo: its JSON configuration")
    args = parser.parse_args(argv)
    if args.signed is not None:
        signed = SignedEcho.from_json(args.signed.read_text())
        asyncio.run(serve(args.listen, signed.method, signed.response, signed.answer))
    else:
        response = os.urandom(args.response_bytes)
        asyncio.run(serve(args.listen, ECHO_METHOD, response, bare_answer()))


if __name__ == "__main__":
    main()
