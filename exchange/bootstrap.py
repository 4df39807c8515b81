"""The composition root: builds engine, repositories, signer, servicers and server once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import ModuleType

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf.descriptor import ServiceDescriptor
from sqlalchemy import Engine

from coalition.keys import SigningKey, load_signing_key
from coalition.v1 import (
    event_pb2,
    exchange_pb2,
    identity_pb2,
    partner_pb2,
    settlement_pb2,
    tier_pb2,
)
from exchange import operations
from exchange.adapters.clock import SystemClock
from exchange.adapters.feed_notifier import FeedNotifier
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.adapters.telemetry import HubTelemetry, Telemetry, install_log_correlation
from exchange.api import catalog
from exchange.api.analytics_servicer import analytics_service
from exchange.api.event_codec import SignedEventEncoder
from exchange.api.event_servicer import EventServicer
from exchange.api.exchange_servicer import ExchangeServicer
from exchange.api.identity_servicer import IdentityServicer
from exchange.api.partner_servicer import PartnerServicer, key_file_created_at_us
from exchange.api.pipeline import PipelineSettings, RequestPipeline
from exchange.api.request_telemetry import RequestTelemetry, server_interceptors
from exchange.api.server import GrpcServer, HealthReporter, build_server
from exchange.api.settlement_servicer import SettlementServicer
from exchange.api.tier_servicer import TierServicer
from exchange.background import BackgroundWork, lease_for
from exchange.config import Settings
from exchange.domain.ports import Clock, UnitOfWorkFactory
from exchange.domain.rate_limits import PartnerRateLimiter
from exchange.services.settlement import DaySettlement
from exchange.services.transfers import TransferSettings

log = logging.getLogger(__name__)


@dataclass
class Hub:
    """A running (or ready) hub process: its server, storage and background work."""

    settings: Settings
    engine: Engine
    uow_factory: UnitOfWorkFactory
    clock: Clock
    hub_key: SigningKey
    server: GrpcServer
    health: HealthReporter
    port: int
    notifier: FeedNotifier
    telemetry: HubTelemetry
    background: BackgroundWork

    def start(self) -> None:
        self.server.start()
        self.background.start()
        log.info("hub listening on port %s", self.port)

    def stop(self, grace_s: float | None = None) -> None:
        """Stops taking calls, lets running ones finish within the grace period, then closes."""
        self.health.enter_graceful_shutdown()
        self.notifier.close()
        grace = self.settings.shutdown_grace_s if grace_s is None else grace_s
        self.server.stop(grace).wait()
        self.background.stop(grace)
        self.telemetry.close()
        self.engine.dispose()

    def wait(self) -> None:
        self.server.wait_for_termination()

    def purge_expired(self) -> int:
        return self.background.purge_expired()

    def void_timed_out_transfers(self) -> int:
        return self.background.void_timed_out_transfers()

    def settle_ended_days(self) -> list[DaySettlement]:
        return self.background.settle_ended_days()


def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    hub_key: SigningKey | None = None,
    engine: Engine | None = None,
    telemetry: Telemetry | None = None,
) -> Hub:
    """Wires a hub from settings; tests pass their own clock, key, engine or telemetry.

    Telemetry defaults to OTLP export when settings name a collector, and to none at all.
    """
    catalog.assert_catalog_complete()
    operations.bank_accounts(settings.bank_accounts_path)  # a bad file stops the start, not a night
    clock = clock or SystemClock()
    # A key loaded from its file is dated by the file; one passed in (tests) by this start.
    key_created_at_us = None if hub_key else key_file_created_at_us(settings.hub_key_path)
    hub_key = hub_key or load_signing_key(settings.hub_key_path)
    engine = engine or create_database_engine(settings.database_url)
    if telemetry is None:
        telemetry = Telemetry.for_collector(settings.otlp_endpoint, settings.service_name)
    install_log_correlation()
    hub_telemetry = HubTelemetry(telemetry, engine)
    notifier = FeedNotifier()
    uow_factory = _uow_factory(engine, hub_key, clock, notifier)
    pipeline = RequestPipeline(
        PipelineSettings(settings.audience, settings.client_ca_path is not None),
        uow_factory,
        clock,
        hub_key,
        RequestTelemetry(hub_telemetry.meter),
        PartnerRateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst),
    )
    services = _services(settings, clock, hub_key, key_created_at_us, uow_factory, notifier)
    server, health, port = build_server(
        settings, pipeline, services, server_interceptors(telemetry)
    )
    background = BackgroundWork(
        settings, engine, uow_factory, clock, hub_telemetry, lease_for(engine)
    )
    return Hub(
        settings, engine, uow_factory, clock, hub_key, server, health, port, notifier,
        hub_telemetry, background,
    )  # fmt: skip


def _uow_factory(
    engine: Engine, hub_key: SigningKey, clock: Clock, notifier: FeedNotifier
) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(
        engine,
        encoder=SignedEventEncoder(hub_key),
        clock=clock,
        vault_key=derive_key(hub_key, VAULT_KEY_INFO),
        response_key=derive_key(hub_key, RESPONSE_KEY_INFO),
        feed_listener=notifier.notify,
    )


def _services(
    settings: Settings,
    clock: Clock,
    hub_key: SigningKey,
    key_created_at_us: int | None,
    uow_factory: UnitOfWorkFactory,
    notifier: FeedNotifier,
) -> list[tuple[ServiceDescriptor, object]]:
    """Every coalition.v1 service with the servicer that answers it."""
    transfer_settings = TransferSettings(
        settings.fee_basis_points, settings.transfer_timeout_s, settings.calendar
    )

    def service(module: ModuleType, name: str) -> ServiceDescriptor:
        found: ServiceDescriptor = module.DESCRIPTOR.services_by_name[name]
        return found

    return [
        (
            service(partner_pb2, "PartnerService"),
            PartnerServicer(clock, hub_key, settings.audience, key_created_at_us),
        ),
        (service(identity_pb2, "IdentityService"), IdentityServicer(clock)),
        (service(event_pb2, "EventService"), EventServicer(uow_factory, notifier)),
        (service(tier_pb2, "TierService"), TierServicer(clock)),
        (
            service(exchange_pb2, "ExchangeService"),
            ExchangeServicer(clock, hub_key, transfer_settings),
        ),
        (
            service(settlement_pb2, "SettlementService"),
            SettlementServicer(clock, hub_key, settings.calendar),
        ),
        analytics_service(clock),
    ]


VAULT_KEY_INFO = b"coalition-exchange member vault v1"
RESPONSE_KEY_INFO = b"coalition-exchange stored responses v1"


def derive_key(hub_key: SigningKey, info: bytes) -> bytes:
    """A 256-bit key for one purpose (`info`), derived from the hub's private key with HKDF.

    The member vault key wraps members' data keys; the response key seals stored idempotent
    responses. Deriving them keeps one secret to guard; HKDF labels keep the uses apart.
    """
    seed = hub_key.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(seed)
