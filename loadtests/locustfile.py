"""Locust: partner traffic against a running hub, signed and verified exactly as the SDK does.

Each user is one partner pair: it holds a signed connection as the source partner and one as
the destination partner. It mixes quotes, inline-terms transfers, confirmations of the
transfers it created, and reads of the destination's event feed (verified, then acknowledged).

Configuration comes from the environment (loadtests/run.py sets it):
COALITION_LOAD_CONFIG  path of the seeded coalition's JSON (benchmarks.hub.seed.SeededCoalition)
COALITION_LOAD_USERS   how many users will run, so each takes its own slice of the members
"""

from grpc.experimental import gevent as grpc_gevent  # type: ignore[attr-defined]

grpc_gevent.init_gevent()  # before any channel exists: gRPC must cooperate with gevent

import itertools  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import cache  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TypeVar  # noqa: E402

from locust import User, between, task  # noqa: E402

from benchmarks.hub.seed import TRANSFER_POINTS_MIN, SeededCoalition  # noqa: E402
from coalition.v1 import event_pb2, exchange_pb2  # noqa: E402
from partners.sdk import (  # noqa: E402
    EventClient,
    ExchangeClient,
    HubConnection,
    verify_event,
)

CONFIG_ENV = "COALITION_LOAD_CONFIG"
USERS_ENV = "COALITION_LOAD_USERS"
FEED_PAGE_SIZE = 100
# Created transfers waiting for their confirmation; past this the user confirms before more.
PENDING_TRANSFERS_MAX = 50
T = TypeVar("T")
USER_INDEXES = itertools.count()


@cache
def coalition() -> SeededCoalition:
    return SeededCoalition.from_json(Path(os.environ[CONFIG_ENV]).read_text())


class StateError(Exception):
    """A call succeeded but the hub's answer is not what the flow requires."""


class PartnerPairUser(User):
    """Moves members' points from one partner to the next, and plays the destination too."""

    wait_time = between(0.01, 0.05)

    def on_start(self) -> None:
        seeded = coalition()
        index = next(USER_INDEXES)
        partner_ids = seeded.partner_ids
        source_id = partner_ids[index % len(partner_ids)]
        destination_id = partner_ids[(index + 1) % len(partner_ids)]
        users = max(1, int(os.environ.get(USERS_ENV, "1")))
        ppids = seeded.ppids(source_id)[index % users :: users] or seeded.ppids(source_id)
        self.members = itertools.cycle(ppids)
        self.response_bytes = 0
        self.source = self._connection(seeded, source_id)
        self.destination = self._connection(seeded, destination_id)
        self.pending: list[str] = []

    def on_stop(self) -> None:
        self.source.close()
        self.destination.close()

    def _connection(self, seeded: SeededCoalition, partner_id: str) -> HubConnection:
        connection = seeded.connection(partner_id)
        connection.on_response = self._saw_response
        return connection

    def _saw_response(self, _method: str, body: bytes) -> None:
        self.response_bytes = len(body)

    def _timed(self, name: str, call: Callable[[], T]) -> T | None:
        """Runs one SDK call and reports it to Locust; a refusal is a failure, not a crash."""
        self.response_bytes = 0
        started_s = time.perf_counter()
        result: T | None = None
        exception: Exception | None = None
        try:
            result = call()
        except Exception as error:  # every refusal or bad signature counts as a failure
            exception = error
        self.environment.events.request.fire(
            request_type="grpc",
            name=name,
            response_time=(time.perf_counter() - started_s) * 1000,
            response_length=self.response_bytes,
            exception=exception,
            context={},
        )
        return result

    @task(2)
    def quote(self) -> None:
        client = ExchangeClient(self.source)
        destination_id = self.destination.partner_id
        self._timed(
            "CreateQuote",
            lambda: client.create_quote(next(self.members), destination_id, TRANSFER_POINTS_MIN),
        )

    @task(3)
    def transfer(self) -> None:
        if len(self.pending) >= PENDING_TRANSFERS_MAX:
            self.confirm()
            return
        client = ExchangeClient(self.source)
        destination_id = self.destination.partner_id
        created = self._timed(
            "CreateTransfer",
            lambda: client.create_transfer(
                ppid=next(self.members),
                destination_partner_id=destination_id,
                source_points=TRANSFER_POINTS_MIN,
                idempotency_key=str(uuid.uuid4()),
            ),
        )
        if created is not None:
            self.pending.append(created.transfer_id)

    @task(3)
    def confirm(self) -> None:
        if not self.pending:
            return
        transfer_id = self.pending.pop(0)
        client = ExchangeClient(self.destination)
        self._timed("ConfirmCredit", lambda: _completed(client.confirm_credit(transfer_id)))

    @task(1)
    def read_feed(self) -> None:
        """A page of the destination's unacknowledged events, each verified, then acked."""
        feed = EventClient(self.destination)
        page = self._timed("ListEvents", lambda: _verified_page(feed, self.destination))
        if page is not None and page.events:
            last = page.events[-1].sequence
            self._timed("AckEvents", lambda: feed.ack_events(last))


def _verified_page(feed: EventClient, connection: HubConnection) -> event_pb2.ListEventsResponse:
    page = feed.list_events(None, FEED_PAGE_SIZE)
    for event in page.events:
        verify_event(event, connection.hub_public_keys, connection.partner_id)
    return page


def _completed(transfer: exchange_pb2.Transfer) -> exchange_pb2.Transfer:
    if transfer.state != exchange_pb2.TRANSFER_STATE_COMPLETED:
        raise StateError(f"transfer is {exchange_pb2.TransferState.Name(transfer.state)}")
    return transfer
