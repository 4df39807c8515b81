"""What each client does in a stage: bare echo calls, or signed SDK calls against the hub.

Each client (thread) gets its own channel and its own slice of the members, so no two clients
ever wait on one member's row: the figures measure the hub, not a queue on one member.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import grpc

from benchmarks.hub.echo import ECHO_METHOD
from benchmarks.hub.load import Outcome, failed
from benchmarks.hub.seed import TRANSFER_POINTS_MIN, SeededCoalition
from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import common_pb2, exchange_pb2
from partners.sdk import (
    TRANSFER_BATCH_ENTRIES_MAX,
    BatchTransfer,
    ExchangeClient,
    HubConnection,
    HubError,
    PayloadVerificationError,
    ResponseVerificationError,
    RetryPolicy,
)

CALL_TIMEOUT_S = 10.0
# A 1,000-entry batch under full load takes seconds; past this it counts as an error.
BATCH_CALL_TIMEOUT_S = 60.0
# One attempt per call: the SDK's retries would hide exactly the failures a run must count.
NO_RETRIES = RetryPolicy(attempts_max=1)
SDK_FAILURES = (HubError, ResponseVerificationError, PayloadVerificationError)
# gRPC shares one connection (subchannel) among a process's channels to one target unless a
# channel keeps its own pool. The kernel spreads connections, not calls, over the processes of
# a `--processes N` hub, so a client that is to reach any of them needs a connection of its own.
OWN_CONNECTION = (("grpc.use_local_subchannel_pool", 1),)


def error_label(method: str, error: Exception) -> str:
    if isinstance(error, HubError):
        return f"{method} {error.code.name} {error.reason}".strip()
    return f"{method} {type(error).__name__}"


def item_error_label(method: str, error: common_pb2.ItemError) -> str:
    names = {status.value[0]: status.name for status in grpc.StatusCode}
    return f"{method} item {names.get(error.code, error.code)} {error.reason}".strip()


# --- the bare baseline ---------------------------------------------------------------------------


def signed_shaped_metadata() -> tuple[tuple[str, str | bytes], ...]:
    """Request headers the size of a signed call's (every cx-* header, a 64-byte signature)."""
    return (
        (wire.HEADER_PARTNER, "alpha"),
        (wire.HEADER_KEY_ID, SigningKey.generate().key_id),
        (wire.HEADER_CREATED, str(int(time.time()))),
        (wire.HEADER_NONCE, wire.new_nonce()),
        (wire.HEADER_SIGNATURE, os.urandom(64)),
        (wire.HEADER_IDEMPOTENCY_KEY, str(uuid.uuid4())),
    )


@dataclass
class EchoOperation:
    channel: grpc.Channel
    call: grpc.UnaryUnaryMultiCallable[bytes, bytes]
    body: bytes
    metadata: tuple[tuple[str, str | bytes], ...]

    def __call__(self) -> Outcome:
        try:
            _, call = self.call.with_call(self.body, metadata=self.metadata, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as error:
            return failed(f"Echo {error.code().name}")
        call.trailing_metadata()  # read, as the SDK reads the hub's signed trailers
        return Outcome()

    def close(self) -> None:
        self.channel.close()


@dataclass(frozen=True)
class EchoWorkload:
    target: str
    request_bytes: int

    def open(self, client_index: int, client_count: int) -> EchoOperation:
        channel = grpc.insecure_channel(self.target)
        call = channel.unary_unary(ECHO_METHOD, request_serializer=None, response_deserializer=None)
        return EchoOperation(
            channel, call, os.urandom(self.request_bytes), signed_shaped_metadata()
        )


# --- the hub, through the SDK --------------------------------------------------------------------


@dataclass
class Route:
    """One client's direction and members: a source, a destination and the source's ppids."""

    source: HubConnection
    destination: HubConnection
    ppids: Iterator[str]

    def close(self) -> None:
        self.source.close()
        self.destination.close()


def open_route(
    coalition: SeededCoalition, client_index: int, client_count: int, own_connections: bool = False
) -> Route:
    """Client i sends from partner i mod n to the next partner, with every client_count-th
    member starting at i: directions alternate and no member is shared between clients.
    With `own_connections`, each of its two channels has a TCP connection of its own."""
    partner_ids = coalition.partner_ids
    source_id = partner_ids[client_index % len(partner_ids)]
    destination_id = partner_ids[(client_index + 1) % len(partner_ids)]
    ppids = coalition.ppids(source_id)[client_index::client_count]
    if not ppids:
        raise ValueError(f"{client_count} clients need at least as many members")
    options = OWN_CONNECTION if own_connections else ()
    source = coalition.connection(source_id, options)
    destination = coalition.connection(destination_id, options)
    source.retry = destination.retry = NO_RETRIES
    return Route(source, destination, itertools.cycle(ppids))


@dataclass
class QuoteOperation:
    route: Route

    def __call__(self) -> Outcome:
        try:
            ExchangeClient(self.route.source).create_quote(
                next(self.route.ppids), self.route.destination.partner_id, TRANSFER_POINTS_MIN
            )
        except SDK_FAILURES as error:
            return failed(error_label("CreateQuote", error))
        return Outcome()

    def close(self) -> None:
        self.route.close()


@dataclass(frozen=True)
class QuoteWorkload:
    coalition: SeededCoalition
    own_connections: bool = False

    def open(self, client_index: int, client_count: int) -> QuoteOperation:
        route = open_route(self.coalition, client_index, client_count, self.own_connections)
        return QuoteOperation(route)


@dataclass
class TransferOperation:
    """One complete transfer: the source creates it (inline terms), the destination confirms."""

    route: Route

    def __call__(self) -> Outcome:
        try:
            transfer = ExchangeClient(self.route.source).create_transfer(
                ppid=next(self.route.ppids),
                destination_partner_id=self.route.destination.partner_id,
                source_points=TRANSFER_POINTS_MIN,
                idempotency_key=str(uuid.uuid4()),
            )
        except SDK_FAILURES as error:
            return failed(error_label("CreateTransfer", error))
        try:
            confirmed = ExchangeClient(self.route.destination).confirm_credit(transfer.transfer_id)
        except SDK_FAILURES as error:
            return failed(error_label("ConfirmCredit", error))
        if confirmed.state != exchange_pb2.TRANSFER_STATE_COMPLETED:
            return failed(f"ConfirmCredit state {exchange_pb2.TransferState.Name(confirmed.state)}")
        return Outcome()

    def close(self) -> None:
        self.route.close()


@dataclass(frozen=True)
class TransferWorkload:
    coalition: SeededCoalition
    own_connections: bool = False

    def open(self, client_index: int, client_count: int) -> TransferOperation:
        route = open_route(self.coalition, client_index, client_count, self.own_connections)
        return TransferOperation(route)


@dataclass
class BatchOperation:
    """`entries` transfers in one CreateTransferBatch, then one ConfirmCredits for those started."""

    route: Route
    entries: int

    def __call__(self) -> Outcome:
        errors: Counter[str] = Counter()
        started = self._create(errors)
        completed = self._confirm(started, errors) if started else 0
        return Outcome(completed, dict(+errors))  # + drops the zero counts

    def _create(self, errors: Counter[str]) -> list[str]:
        destination_id = self.route.destination.partner_id
        batch = [
            BatchTransfer(
                str(uuid.uuid4()), next(self.route.ppids), destination_id, TRANSFER_POINTS_MIN
            )
            for _ in range(self.entries)
        ]
        try:
            results = ExchangeClient(self.route.source).create_transfer_batch(batch)
        except SDK_FAILURES as error:
            errors[error_label("CreateTransferBatch", error)] += len(batch)
            return []
        started = []
        for result in results:
            if result.WhichOneof("outcome") == "transfer":
                started.append(result.transfer.transfer_id)
            else:
                errors[item_error_label("CreateTransferBatch", result.error)] += 1
        errors["CreateTransferBatch missing results"] += len(batch) - len(results)
        return started

    def _confirm(self, transfer_ids: list[str], errors: Counter[str]) -> int:
        try:
            results = ExchangeClient(self.route.destination).confirm_credits(transfer_ids)
        except SDK_FAILURES as error:
            errors[error_label("ConfirmCredits", error)] += len(transfer_ids)
            return 0
        completed = 0
        for result in results:
            if result.WhichOneof("outcome") == "error":
                errors[item_error_label("ConfirmCredits", result.error)] += 1
            elif result.transfer.state == exchange_pb2.TRANSFER_STATE_COMPLETED:
                completed += 1
            else:
                state = exchange_pb2.TransferState.Name(result.transfer.state)
                errors[f"ConfirmCredits state {state}"] += 1
        errors["ConfirmCredits missing results"] += len(transfer_ids) - len(results)
        return completed

    def close(self) -> None:
        self.route.close()


@dataclass(frozen=True)
class BatchWorkload:
    coalition: SeededCoalition
    entries: int = TRANSFER_BATCH_ENTRIES_MAX

    def open(self, client_index: int, client_count: int) -> BatchOperation:
        route = open_route(self.coalition, client_index, client_count)
        route.source.timeout_s = BATCH_CALL_TIMEOUT_S
        route.destination.timeout_s = BATCH_CALL_TIMEOUT_S
        return BatchOperation(route, self.entries)
