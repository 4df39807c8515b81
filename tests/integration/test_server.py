"""The hub's gRPC server: health, reflection, graceful shutdown, and refusing undeclared methods."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from sqlalchemy import Engine

from coalition.keys import SigningKey
from coalition.v1 import partner_pb2
from exchange.adapters.clock import SystemClock
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.api.pipeline import READ_ONLY, CallContext, PipelineSettings, RequestPipeline
from exchange.api.registry import rpc
from exchange.api.server import build_server
from exchange.config import Settings
from exchange.domain.partners import PartnerKind
from exchange.services import partners
from partners.sdk import HubConnection, HubError, RetryPolicy
from partners.sdk.connection import connect
from tests.support.coalition import AUDIENCE, TestCoalition
from tests.support.databases import table_snapshot

PARTNER_SERVICE = partner_pb2.DESCRIPTOR.services_by_name["PartnerService"]
PARTNER_SERVICE_NAME = PARTNER_SERVICE.full_name
METHOD_NAMES = sorted(PARTNER_SERVICE.methods_by_name)
HEALTH_SERVICE_NAME = "grpc.health.v1.Health"
REFLECTION_SERVICE_NAME = "grpc.reflection.v1alpha.ServerReflection"
SHUTDOWN_GRACE_S = 30.0


def method_path(name: str) -> str:
    return f"/{PARTNER_SERVICE_NAME}/{name}"


@pytest.fixture
def channel(coalition: TestCoalition) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(coalition.target) as opened:
        yield opened


def health_status(channel: grpc.Channel, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return int(stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status)


def reflect(
    channel: grpc.Channel, request: reflection_pb2.ServerReflectionRequest
) -> reflection_pb2.ServerReflectionResponse:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    [response] = list(stub.ServerReflectionInfo(iter([request]), timeout=5))
    return response


def unsigned_call(channel: grpc.Channel, path: str) -> grpc.StatusCode:
    """Calls `path` with an empty body and no signature; returns the status it fails with."""
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(path, request_serializer=None, response_deserializer=None)(
            b"", timeout=5
        )
    code = caught.value.code()
    assert isinstance(code, grpc.StatusCode)
    return code


# Health and reflection


@pytest.mark.parametrize("service", ["", PARTNER_SERVICE_NAME])
def test_health_check_reports_serving(channel: grpc.Channel, service: str) -> None:
    assert health_status(channel, service) == health_pb2.HealthCheckResponse.SERVING


def test_health_check_of_an_unknown_service_is_not_found(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        health_status(channel, "coalition.v1.NoSuchService")

    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def reflected_service_names(channel: grpc.Channel) -> set[str]:
    response = reflect(channel, reflection_pb2.ServerReflectionRequest(list_services=""))
    return {service.name for service in response.list_services_response.service}


def test_reflection_lists_the_served_services(channel: grpc.Channel) -> None:
    names = reflected_service_names(channel)

    standard = {HEALTH_SERVICE_NAME, REFLECTION_SERVICE_NAME}
    assert {PARTNER_SERVICE_NAME, *standard} <= names
    assert all(name.startswith("coalition.v1.") for name in names - standard)


def test_every_reflected_coalition_service_reports_serving(channel: grpc.Channel) -> None:
    coalition_services = {
        name for name in reflected_service_names(channel) if name.startswith("coalition.v1.")
    }

    statuses = {name: health_status(channel, name) for name in coalition_services}

    assert statuses == dict.fromkeys(coalition_services, health_pb2.HealthCheckResponse.SERVING)


def test_reflection_describes_the_partner_service(channel: grpc.Channel) -> None:
    response = reflect(
        channel, reflection_pb2.ServerReflectionRequest(file_containing_symbol=PARTNER_SERVICE_NAME)
    )

    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in response.file_descriptor_response.file_descriptor_proto
    ]
    [partner_file] = [f for f in files if f.package == "coalition.v1" and f.service]
    [service] = partner_file.service
    assert service.name == "PartnerService"
    assert sorted(method.name for method in service.method) == METHOD_NAMES


def test_every_partner_service_method_is_declared_and_demands_a_signature(
    coalition: TestCoalition, channel: grpc.Channel
) -> None:
    before = table_snapshot(coalition.hub.engine)

    codes = {name: unsigned_call(channel, method_path(name)) for name in METHOD_NAMES}

    assert codes == dict.fromkeys(METHOD_NAMES, grpc.StatusCode.UNAUTHENTICATED)
    assert table_snapshot(coalition.hub.engine) == before


# Graceful shutdown


def test_stopping_the_hub_tells_watchers_and_then_refuses_calls(
    coalition: TestCoalition, channel: grpc.Channel
) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    watch = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=SHUTDOWN_GRACE_S)
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    stopper = threading.Thread(target=coalition.hub.stop, args=(SHUTDOWN_GRACE_S,))

    stopper.start()
    # The open watch is an in-flight call: it is told about the shutdown during the grace period.
    assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
    watch.cancel()
    stopper.join(timeout=SHUTDOWN_GRACE_S)

    assert not stopper.is_alive()
    connection = coalition.connection("skyway")
    connection.retry = RetryPolicy(attempts_max=1)
    with pytest.raises(HubError) as caught:
        connection.call(
            method_path("GetHubKeys"),
            partner_pb2.GetHubKeysRequest(),
            partner_pb2.GetHubKeysResponse,
            changes_state=False,
        )
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    with grpc.insecure_channel(coalition.target) as fresh, pytest.raises(grpc.RpcError) as failed:
        health_status(fresh, "")
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE


# Methods without a declared policy


class PartialPartnerServicer:
    """Declares GetPartner only; every other PartnerService RPC is left undeclared."""

    @rpc("GetPartner", READ_ONLY)
    def get_partner(
        self, request: partner_pb2.GetPartnerRequest, call: CallContext
    ) -> partner_pb2.GetPartnerResponse:
        # Echo who the pipeline authenticated, so the test sees the call really ran.
        return partner_pb2.GetPartnerResponse(
            partner=partner_pb2.Partner(partner_id=call.partner_id, display_name=request.partner_id)
        )


UNDECLARED = [name for name in METHOD_NAMES if name != "GetPartner"]


@pytest.fixture
def partial_hub(engine: Engine) -> Iterator[tuple[HubConnection, grpc.Channel]]:
    """A bare server for PartialPartnerServicer with one partner, skyway, and its connection."""
    partner_key, hub_key = SigningKey.generate(), SigningKey.generate()
    uow_factory = SqlUnitOfWorkFactory(engine)
    with uow_factory() as uow:
        command = partners.AddPartner(
            "skyway",
            "Skyway Airlines",
            PartnerKind.AIRLINE,
            "SKYWAY_MILES",
            partner_key.public_key_bytes,
        )
        partners.add_partner(uow, SystemClock(), command)
        uow.commit()
    pipeline = RequestPipeline(
        PipelineSettings(AUDIENCE, require_client_certificate=False),
        uow_factory,
        SystemClock(),
        hub_key,
    )
    settings = Settings.load(environ={}, listen_address="127.0.0.1:0", worker_threads=4)
    server, _health, port = build_server(
        settings, pipeline, [(PARTNER_SERVICE, PartialPartnerServicer())]
    )
    server.start()
    target = f"127.0.0.1:{port}"
    connection = connect(
        target, "skyway", partner_key, AUDIENCE, {hub_key.key_id: hub_key.public_key_bytes}
    )
    with grpc.insecure_channel(target) as raw_channel:
        yield connection, raw_channel
    connection.close()
    server.stop(0).wait()


def test_a_declared_method_runs_through_the_pipeline(
    partial_hub: tuple[HubConnection, grpc.Channel],
) -> None:
    connection, _channel = partial_hub

    response = connection.call(
        method_path("GetPartner"),
        partner_pb2.GetPartnerRequest(partner_id="anyone"),
        partner_pb2.GetPartnerResponse,
        changes_state=False,
    )

    assert response.partner.partner_id == "skyway"
    assert response.partner.display_name == "anyone"


@pytest.mark.parametrize("name", UNDECLARED)
def test_an_undeclared_method_is_refused(
    partial_hub: tuple[HubConnection, grpc.Channel], engine: Engine, name: str
) -> None:
    connection, _channel = partial_hub
    before = table_snapshot(engine)

    with pytest.raises(HubError) as caught:
        connection.call(
            method_path(name),
            getattr(partner_pb2, f"{name}Request")(),
            getattr(partner_pb2, f"{name}Response"),
            changes_state=False,
        )

    assert caught.value.code == grpc.StatusCode.UNIMPLEMENTED
    assert caught.value.reason == "METHOD_NOT_DECLARED"
    assert table_snapshot(engine) == before


def test_an_undeclared_method_is_refused_before_authentication(
    partial_hub: tuple[HubConnection, grpc.Channel],
) -> None:
    _connection, channel = partial_hub

    assert unsigned_call(channel, method_path("ListPartners")) == grpc.StatusCode.UNIMPLEMENTED
    assert unsigned_call(channel, method_path("GetPartner")) == grpc.StatusCode.UNAUTHENTICATED
