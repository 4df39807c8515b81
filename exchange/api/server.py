"""Builds the gRPC server: signed coalition.v1 services, health, reflection, TLS or mTLS."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from exchange.adapters.telemetry import ServerInterceptor
from exchange.api.pipeline import RequestPipeline
from exchange.api.registry import SignedServicesHandler
from exchange.config import Settings
from exchange.domain import limits


def _server_options() -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", limits.MESSAGE_BYTES_MAX),
        ("grpc.max_send_message_length", limits.MESSAGE_BYTES_MAX),
        ("grpc.max_metadata_size", limits.METADATA_BYTES_MAX),
        # max_metadata_size alone is a soft limit (headers up to the default hard limit of
        # 20 KiB pass at random); the absolute limit makes it exact.
        ("grpc.absolute_max_metadata_size", limits.METADATA_BYTES_MAX),
        ("grpc.so_reuseport", 0),
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


def build_server(
    settings: Settings,
    pipeline: RequestPipeline,
    services: Iterable[tuple[ServiceDescriptor, object]],
    interceptors: Sequence[ServerInterceptor] = (),
) -> tuple[grpc.Server, health.HealthServicer, int]:
    """Returns the (not yet started) server, its health servicer and the bound port.

    `interceptors` see each call before the raw-bytes handlers: tracing goes there, since
    it needs no message, and opens the span the pipeline then runs in, on the same thread.
    """
    server = grpc.server(
        ThreadPoolExecutor(max_workers=settings.worker_threads, thread_name_prefix="rpc"),
        interceptors=list(interceptors),
        options=_server_options(),
    )
    signed = SignedServicesHandler(pipeline, services)
    server.add_generic_rpc_handlers((signed,))
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ["", *signed.service_names]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
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
    if port == 0:
        raise OSError(f"could not listen on {settings.listen_address}")
    return server, health_servicer, port
