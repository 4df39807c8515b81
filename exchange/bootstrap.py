"""The composition root: builds engine, repositories, signer, servicers and server once."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from coalition.keys import SigningKey, load_signing_key
from coalition.v1 import (
    event_pb2,
    exchange_pb2,
    identity_pb2,
    partner_pb2,
    settlement_pb2,
    tier_pb2,
)
from exchange.adapters.clock import SystemClock
from exchange.adapters.feed_notifier import FeedNotifier
from exchange.adapters.sql.engine import create_database_engine, run_with_retries
from exchange.adapters.sql.settlement_store import unsettled_days_through
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.adapters.telemetry import (
    HubTelemetry,
    Telemetry,
    install_log_correlation,
    quiet,
)
from exchange.api import catalog
from exchange.api.analytics_servicer import analytics_service
from exchange.api.event_codec import SignedEventEncoder
from exchange.api.event_servicer import EventServicer
from exchange.api.exchange_servicer import ExchangeServicer
from exchange.api.identity_servicer import IdentityServicer
from exchange.api.partner_servicer import PartnerServicer, key_file_created_at_us
from exchange.api.pipeline import PipelineSettings, RequestPipeline
from exchange.api.server import GrpcServer, HealthReporter, build_server
from exchange.api.settlement_servicer import SettlementServicer
from exchange.api.tier_servicer import TierServicer
from exchange.config import Settings
from exchange.domain import limits
from exchange.domain.ports import Clock, UnitOfWorkFactory
from exchange.domain.rate_limits import PartnerRateLimiter
from exchange.services.settlement import DaySettlement, settle_day
from exchange.services.transfers import (
    TransferSettings,
    timed_out_transfers,
    void_if_timed_out,
)

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
    _stopping: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.server.start()
        loops = (
            ("purge", self._purge_loop),
            ("timeouts", self._timeout_loop),
            ("settlement", self._settlement_loop),
        )
        for name, loop in loops:
            thread = threading.Thread(target=loop, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("hub listening on port %s", self.port)

    def stop(self, grace_s: float | None = None) -> None:
        """Stops taking calls, lets running ones finish within the grace period, then closes."""
        self.health.enter_graceful_shutdown()
        self._stopping.set()
        self.notifier.close()
        grace = self.settings.shutdown_grace_s if grace_s is None else grace_s
        self.server.stop(grace).wait()
        for thread in self._threads:
            thread.join(timeout=grace)
        self.telemetry.close()
        self.engine.dispose()

    def wait(self) -> None:
        self.server.wait_for_termination()

    def purge_expired(self) -> int:
        now_us = self.clock.now_us()

        def purge() -> int:
            with quiet(), self.uow_factory() as uow:
                removed = uow.requests.purge(
                    nonces_before_s=now_us // 1_000_000 - limits.NONCE_RETENTION_S,
                    responses_before_us=now_us - limits.IDEMPOTENCY_RETENTION_S * 1_000_000,
                )
                uow.commit()
                return removed

        return run_with_retries(purge)

    def void_timed_out_transfers(self) -> int:
        """Voids every pending transfer past its timeout, in batches; returns how many."""
        voided_total = 0
        while True:
            with quiet(), self.uow_factory() as uow:
                batch = timed_out_transfers(uow, self.clock, limits.TIMEOUT_SWEEP_BATCH_MAX)
            voided_total += sum(self._void_one(transfer_id) for transfer_id in batch)
            if len(batch) < limits.TIMEOUT_SWEEP_BATCH_MAX or self._stopping.is_set():
                return voided_total

    def _void_one(self, transfer_id: str) -> bool:
        def void() -> bool:
            with self.uow_factory() as uow:
                voided = void_if_timed_out(uow, self.clock, transfer_id)
                uow.commit()
                return voided

        with self.telemetry.background("coalition.void_timed_out", transfer_id):
            return run_with_retries(void)

    def _timeout_loop(self) -> None:
        while not self._stopping.wait(limits.TIMEOUT_SWEEP_INTERVAL_S):
            try:
                voided = self.void_timed_out_transfers()
                if voided:
                    log.info("voided %s transfers past their timeout", voided)
            except Exception:
                log.exception("voiding timed-out transfers failed; will try again")

    def settle_ended_days(self) -> list[DaySettlement]:
        """Settles every ended business day (cut-off plus delay passed) not yet settled,
        oldest first: days missed while no hub ran are caught up, each exactly once."""
        calendar = self.settings.calendar
        delay_us = self.settings.settlement_delay_s * 1_000_000
        current = calendar.business_day_of(self.clock.now_us() - delay_us)
        ended = (current - timedelta(days=1)).isoformat()
        with quiet(), Session(self.engine) as session:
            days = unsettled_days_through(session, ended)
        return [self._settle(day) for day in days]

    def _settle(self, business_day: str) -> DaySettlement:
        with self.telemetry.settling(business_day) as observed:
            settled = settle_day(self.engine, self.settings.calendar, self.clock, business_day)
            observed.outcome = settlement_outcome(settled)
        return settled

    def _settlement_loop(self) -> None:
        while not self._stopping.wait(limits.SETTLEMENT_CHECK_INTERVAL_S):
            try:
                for settled in self.settle_ended_days():
                    log.info("settled business day %s", settled.business_day)
            except Exception:
                log.exception("the nightly settlement failed; will try again")

    def _purge_loop(self) -> None:
        while not self._stopping.wait(limits.PURGE_INTERVAL_S):
            try:
                removed = self.purge_expired()
                log.debug("purged %s expired nonces and idempotency records", removed)
            except Exception:
                log.exception("purging expired request records failed; will try again")


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
    uow_factory = SqlUnitOfWorkFactory(
        engine,
        encoder=SignedEventEncoder(hub_key),
        clock=clock,
        vault_key=derive_key(hub_key, VAULT_KEY_INFO),
        response_key=derive_key(hub_key, RESPONSE_KEY_INFO),
        feed_listener=notifier.notify,
    )
    pipeline = RequestPipeline(
        PipelineSettings(settings.audience, settings.client_ca_path is not None),
        uow_factory,
        clock,
        hub_key,
        hub_telemetry.requests,
        PartnerRateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst),
    )
    services = [
        (
            partner_pb2.DESCRIPTOR.services_by_name["PartnerService"],
            PartnerServicer(clock, hub_key, settings.audience, key_created_at_us),
        ),
        (identity_pb2.DESCRIPTOR.services_by_name["IdentityService"], IdentityServicer(clock)),
        (
            event_pb2.DESCRIPTOR.services_by_name["EventService"],
            EventServicer(uow_factory, notifier),
        ),
        (tier_pb2.DESCRIPTOR.services_by_name["TierService"], TierServicer(clock)),
        (
            exchange_pb2.DESCRIPTOR.services_by_name["ExchangeService"],
            ExchangeServicer(
                clock,
                hub_key,
                TransferSettings(
                    settings.fee_basis_points, settings.transfer_timeout_s, settings.calendar
                ),
            ),
        ),
        (
            settlement_pb2.DESCRIPTOR.services_by_name["SettlementService"],
            SettlementServicer(clock, hub_key, settings.calendar),
        ),
        analytics_service(clock),
    ]
    server, health_servicer, port = build_server(
        settings, pipeline, services, hub_telemetry.server_interceptors()
    )
    return Hub(
        settings,
        engine,
        uow_factory,
        clock,
        hub_key,
        server,
        health_servicer,
        port,
        notifier,
        hub_telemetry,
    )


def settlement_outcome(settled: DaySettlement) -> str:
    """The `coalition.outcome` of a settlement duration: one of a few fixed values."""
    if settled.alarm:
        return "alarm"
    return "already_settled" if settled.already_settled else "settled"


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
