"""Builds the gRPC server: signed coalition.v1 services, health, reflection, TLS or mTLS.

The server is grpc.aio on an event loop of its own thread; `GrpcServer` drives it from the
hub's blocking code (start, stop, wait), so callers need not know it is asynchronous.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import _async as health_async
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from exchange.api.aio import GrpcEntrypoint, StreamLimits, StreamSlots
from exchange.api.pipeline import RequestPipeline
from exchange.api.registry import SignedServicesHandler
from exchange.api.request_telemetry import ServerInterceptor
from exchange.config import Settings
from exchange.domain import limits

T = TypeVar("T")


def _server_options(settings: Settings) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", limits.MESSAGE_BYTES_MAX),
        ("grpc.max_send_message_length", limits.MESSAGE_BYTES_MAX),
        ("grpc.max_metadata_size", limits.METADATA_BYTES_MAX),
        # max_metadata_size alone is a soft limit (headers up to the default hard limit of
        # 20 KiB pass at random); the absolute limit makes it exact.
        ("grpc.absolute_max_metadata_size", limits.METADATA_BYTES_MAX),
        # Only hub processes started together share a port; never a stray second hub.
        ("grpc.so_reuseport", 1 if settings.processes > 1 else 0),
        # Idle streams are pinged; a peer that does not answer is gone and its stream ends.
        ("grpc.keepalive_time_ms", settings.stream_keepalive_s * 1000),
        ("grpc.keepalive_timeout_ms", settings.stream_keepalive_timeout_s * 1000),
        # grpc's own ping timeout (60 s by default) must not outlast the keep-alive timeout.
        ("grpc.http2.ping_timeout_ms", settings.stream_keepalive_timeout_s * 1000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        # Without this, a connection with no data flowing is pinged once per 5 minutes only.
        ("grpc.http2.min_time_between_pings_ms", settings.stream_keepalive_s * 1000),
    ]


def _credentials(settings: Settings) -> grpc.ServerCredentials:
    assert settings.tls_cert_path is not None and settings.tls_key_path is not None
    pair = (settings.tls_key_path.read_bytes(), settings.tls_cert_path.read_bytes())
    if settings.client_ca_path is None:
        return grpc.ssl_server_credentials([pair])
    return grpc.ssl_server_credentials(
        [pair],
        root_certificates=settings.client_ca_path.read_bytes(),
        require_client_auth=True,
    )


class EventLoopThread:
    """An asyncio event loop running on a daemon thread; blocking code submits coroutines."""

    def __init__(self, name: str = "grpc-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.run(_cancel_other_tasks())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


async def _cancel_other_tasks() -> None:
    """Ends what still runs on the loop (a feed watcher between reads) before it closes."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@dataclass
class _Stopped:
    """What `GrpcServer.stop` returns, shaped like grpc.Server.stop's event."""

    done: threading.Event

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)


class GrpcServer:
    """A grpc.aio server with the blocking start / stop / wait of grpc.Server."""

    def __init__(
        self,
        loop: EventLoopThread,
        server: grpc.aio.Server,
        workers: ThreadPoolExecutor,
        streams: StreamSlots,
    ) -> None:
        self._loop = loop
        self._server = server
        self._workers = workers
        self._stopped = threading.Event()
        # Read-only from outside: how many streams are open (tests and the bench read it).
        self.streams = streams

    def start(self) -> None:
        self._loop.run(self._server.start())

    def stop(self, grace_s: float | None) -> _Stopped:
        if not self._stopped.is_set():
            self._loop.run(self._server.stop(grace_s))
            self._workers.shutdown(wait=True, cancel_futures=True)
            self._loop.close()
            self._stopped.set()
        return _Stopped(self._stopped)

    def wait_for_termination(self) -> None:
        self._stopped.wait()


class HealthReporter:
    """The standard health service, set from blocking code."""

    def __init__(self, loop: EventLoopThread, servicer: health_async.HealthServicer) -> None:
        self._loop = loop
        self.servicer = servicer

    def enter_graceful_shutdown(self) -> None:
        if not self._loop.loop.is_closed():
            self._loop.run(self.servicer.enter_graceful_shutdown())


def build_server(
    settings: Settings,
    pipeline: RequestPipeline,
    services: Iterable[tuple[ServiceDescriptor, object]],
    interceptors: Sequence[ServerInterceptor] = (),
) -> tuple[GrpcServer, HealthReporter, int]:
    """Returns the (not yet started) server, its health reporter and the bound port.

    `interceptors` see each call before the raw-bytes handlers: tracing goes there, since
    it needs no message, and opens the span the pipeline then runs in.
    """
    loop = EventLoopThread()
    workers = ThreadPoolExecutor(max_workers=settings.worker_threads, thread_name_prefix="rpc")
    slots = StreamSlots(StreamLimits(settings.streams_per_partner_max, settings.streams_max))
    entrypoint = GrpcEntrypoint(pipeline, workers, slots)
    signed = SignedServicesHandler(entrypoint, services)

    async def assemble() -> tuple[grpc.aio.Server, health_async.HealthServicer, int]:
        server = grpc.aio.server(interceptors=list(interceptors), options=_server_options(settings))
        server.add_generic_rpc_handlers((signed,))
        health_servicer = health_async.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        for name in ["", *signed.service_names]:
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        names = (
            *signed.service_names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        )
        reflection.enable_server_reflection(names, server)
        if settings.uses_tls:
            port = server.add_secure_port(settings.listen_address, _credentials(settings))
        else:
            port = server.add_insecure_port(settings.listen_address)
        return server, health_servicer, port

    try:
        server, health_servicer, port = loop.run(assemble())
    except Exception:
        loop.close()
        raise
    if port == 0:
        loop.close()
        raise OSError(f"could not listen on {settings.listen_address}")
    grpc_server = GrpcServer(loop, server, workers, slots)
    return grpc_server, HealthReporter(loop, health_servicer), port
