"""The composition root: builds engine, repositories, signer, servicers and server once."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import grpc
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from grpc_health.v1 import health
from sqlalchemy import Engine

from coalition.keys import SigningKey, load_signing_key
from coalition.v1 import event_pb2, identity_pb2, partner_pb2, tier_pb2
from exchange.adapters.clock import SystemClock
from exchange.adapters.feed_notifier import FeedNotifier
from exchange.adapters.sql.engine import create_database_engine, run_with_retries
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.api import catalog
from exchange.api.event_codec import SignedEventEncoder
from exchange.api.event_servicer import EventServicer
from exchange.api.identity_servicer import IdentityServicer
from exchange.api.partner_servicer import PartnerServicer
from exchange.api.pipeline import PipelineSettings, RequestPipeline
from exchange.api.server import build_server
from exchange.api.tier_servicer import TierServicer
from exchange.config import Settings
from exchange.domain import limits
from exchange.domain.ports import Clock, UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass
class Hub:
    """A running (or ready) hub process: its server, storage and background work."""

    settings: Settings
    engine: Engine
    uow_factory: UnitOfWorkFactory
    clock: Clock
    hub_key: SigningKey
    server: grpc.Server
    health: health.HealthServicer
    port: int
    notifier: FeedNotifier
    _stopping: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.server.start()
        purger = threading.Thread(target=self._purge_loop, name="purge", daemon=True)
        purger.start()
        self._threads.append(purger)
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
        self.engine.dispose()

    def wait(self) -> None:
        self.server.wait_for_termination()

    def purge_expired(self) -> int:
        now_us = self.clock.now_us()

        def purge() -> int:
            with self.uow_factory() as uow:
                removed = uow.requests.purge(
                    nonces_before_s=now_us // 1_000_000 - limits.NONCE_RETENTION_S,
                    responses_before_us=now_us - limits.IDEMPOTENCY_RETENTION_S * 1_000_000,
                )
                uow.commit()
                return removed

        return run_with_retries(purge)

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
) -> Hub:
    """Wires a hub from settings; tests pass their own clock, key or engine."""
    catalog.assert_catalog_complete()
    clock = clock or SystemClock()
    hub_key = hub_key or load_signing_key(settings.hub_key_path)
    engine = engine or create_database_engine(settings.database_url)
    notifier = FeedNotifier()
    uow_factory = SqlUnitOfWorkFactory(
        engine,
        encoder=SignedEventEncoder(hub_key),
        clock=clock,
        vault_key=derive_vault_key(hub_key),
        feed_listener=notifier.notify,
    )
    pipeline = RequestPipeline(
        PipelineSettings(settings.audience, settings.client_ca_path is not None),
        uow_factory,
        clock,
        hub_key,
    )
    services = [
        (
            partner_pb2.DESCRIPTOR.services_by_name["PartnerService"],
            PartnerServicer(clock, hub_key, settings.audience),
        ),
        (identity_pb2.DESCRIPTOR.services_by_name["IdentityService"], IdentityServicer(clock)),
        (
            event_pb2.DESCRIPTOR.services_by_name["EventService"],
            EventServicer(uow_factory, notifier),
        ),
        (tier_pb2.DESCRIPTOR.services_by_name["TierService"], TierServicer(clock)),
    ]
    server, health_servicer, port = build_server(settings, pipeline, services)
    return Hub(
        settings, engine, uow_factory, clock, hub_key, server, health_servicer, port, notifier
    )


VAULT_KEY_INFO = b"coalition-exchange member vault v1"


def derive_vault_key(hub_key: SigningKey) -> bytes:
    """The key that wraps members' data keys, derived from the hub's private key with HKDF.

    Deriving it keeps one secret to guard; the HKDF label separates its use from signing.
    """
    seed = hub_key.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=VAULT_KEY_INFO).derive(seed)
