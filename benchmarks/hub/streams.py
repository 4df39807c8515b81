"""Open streams and unary latency: 1,000 Subscribe streams held by ten partners, none by the one
whose unary calls are timed (the runner's `hub_unary_*` stages).

Before the hub starts, the streaming partners are onboarded like the bench's own. Each gets one
event in its feed (a member enrolled and erased, through the SDK), so each stream it opens
sends that event as soon as the hub has admitted it: a stream that has delivered its first
event is open and holds its slot, which is how this process knows all 1,000 are open.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from benchmarks.hub.load import Outcome, failed
from benchmarks.hub.seed import SeededCoalition
from benchmarks.hub.workloads import NO_RETRIES, SDK_FAILURES, error_label
from coalition.keys import SigningKey
from coalition.v1 import partner_pb2
from exchange.adapters.clock import SystemClock
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.domain.partners import PartnerKind
from exchange.domain.ports import UnitOfWorkFactory
from exchange.services import partners
from partners.sdk import HubConnection, IdentityClient, connect
from partners.sdk.events import EventClient, Subscription

STREAMING_PARTNERS = 10
STREAMS_EACH = 100
OPEN_WAIT_S_MAX = 120.0
HUB_KEYS_METHOD = "/coalition.v1.PartnerService/GetHubKeys"
# The hub's cap per partner must admit every stream a streaming partner opens.
HUB_SETTINGS = {"streams_per_partner_max": str(STREAMS_EACH)}


class HasUnitsOfWork(Protocol):
    @property
    def uow_factory(self) -> UnitOfWorkFactory: ...


def onboard_partners(uow_factory: UnitOfWorkFactory, count: int) -> dict[str, SigningKey]:
    """`count` retailers `brand00`, `brand01`, ... with a fresh key each, as the operator adds
    them; returns their signing keys by partner id."""
    keys: dict[str, SigningKey] = {}
    with uow_factory() as uow:
        for index in range(count):
            partner_id = f"brand{index:02d}"
            keys[partner_id] = SigningKey.generate()
            command = partners.AddPartner(
                partner_id,
                f"Brand {index}",
                PartnerKind.RETAILER,
                f"BRAND{index:02d}_POINTS",
                keys[partner_id].public_key_bytes,
            )
            partners.add_partner(uow, SystemClock(), command)
        uow.commit()
    return keys


def add_partners(hub: HasUnitsOfWork, count: int) -> dict[str, SigningKey]:
    """`onboard_partners` on a hub built in-process (tests)."""
    return onboard_partners(hub.uow_factory, count)


def prepare_streaming_partners(database_url: str) -> dict[str, SigningKey]:
    """The streaming partners, onboarded before the hub starts."""
    engine = create_database_engine(database_url)
    try:
        return onboard_partners(SqlUnitOfWorkFactory(engine), STREAMING_PARTNERS)
    finally:
        engine.dispose()


def one_event_each(connections: dict[str, HubConnection]) -> None:
    """A member enrolled and erased at each partner: one MemberErased in each one's feed."""
    for connection in connections.values():
        identity = IdentityClient(connection)
        identity.erase_member(identity.enroll_member())


@dataclass
class HeldStreams:
    subscriptions: list[Subscription]
    opened: int = 0
    failure: str = ""

    def wait_open(self) -> None:
        """Reads each stream's first event; runs on a thread, ended by cancelling them."""
        try:
            for subscription in self.subscriptions:
                next(iter(subscription))
                self.opened += 1
        except StopIteration:
            self.failure = "a stream ended before its first event"
        except Exception as error:
            self.failure = f"{type(error).__name__}: {error}"

    def cancel(self) -> None:
        for subscription in self.subscriptions:
            subscription.cancel()


class StreamsNotOpen(Exception):
    """Not every stream was admitted in time; the message says how many were."""


@contextmanager
def held_streams(connections: dict[str, HubConnection]) -> Iterator[int]:
    """Opens STREAMS_EACH streams per connection and holds them open; yields how many."""
    held = HeldStreams(
        [
            EventClient(connection).open_subscription(None)
            for connection in connections.values()
            for _ in range(STREAMS_EACH)
        ]
    )
    try:
        waiter = threading.Thread(target=held.wait_open, name="streams-open", daemon=True)
        waiter.start()
        waiter.join(OPEN_WAIT_S_MAX)
        if held.opened < len(held.subscriptions):
            reason = held.failure or f"not within {OPEN_WAIT_S_MAX:.0f} s"
            raise StreamsNotOpen(
                f"{held.opened} of {len(held.subscriptions)} streams opened: {reason}"
            )
        yield held.opened
    finally:
        held.cancel()


@contextmanager
def streaming_connections(
    coalition: SeededCoalition, keys: dict[str, SigningKey]
) -> Iterator[dict[str, HubConnection]]:
    hub_keys = coalition.hub_public_keys
    connections = {
        partner_id: connect(coalition.target, partner_id, key, coalition.audience, hub_keys)
        for partner_id, key in keys.items()
    }
    try:
        yield connections
    finally:
        for connection in connections.values():
            connection.close()


@dataclass
class HubKeysOperation:
    connection: HubConnection

    def __call__(self) -> Outcome:
        try:
            self.connection.call(
                HUB_KEYS_METHOD,
                partner_pb2.GetHubKeysRequest(),
                partner_pb2.GetHubKeysResponse,
                changes_state=False,
            )
        except SDK_FAILURES as error:
            return failed(error_label("GetHubKeys", error))
        return Outcome()

    def close(self) -> None:
        self.connection.close()


@dataclass(frozen=True)
class HubKeysWorkload:
    """A signed read-only unary call (GetHubKeys) by one partner that holds no stream."""

    coalition: SeededCoalition
    partner_id: str

    def open(self, client_index: int, client_count: int) -> HubKeysOperation:
        connection = self.coalition.connection(self.partner_id)
        connection.retry = NO_RETRIES
        return HubKeysOperation(connection)
