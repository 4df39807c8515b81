"""A fake exchange hub and feed, and shortcuts the program transfer tests share."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import grpc

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import event_pb2, exchange_pb2
from partners.programs.program import LoyaltyProgram
from partners.programs.transfer_store import OutgoingState
from partners.sdk import HubError
from tests.partners.fakes import FakeHubConnection
from tests.support.transfers import TransferBody, signed_transfer_event

RATIO = (4, 3)  # the fake hub quotes 3 destination points per 4 source points
PENDING = exchange_pb2.TRANSFER_STATE_PENDING
VOIDED = exchange_pb2.TRANSFER_STATE_VOIDED
TRANSFER = exchange_pb2.TRANSFER_KIND_TRANSFER
REVERSAL = exchange_pb2.TRANSFER_KIND_REVERSAL


def refusal(reason: str) -> HubError:
    return HubError(grpc.StatusCode.FAILED_PRECONDITION, "refused", reason)


def unreachable() -> HubError:
    return HubError(grpc.StatusCode.UNAVAILABLE, "connection reset")


class FakeExchangeHub(FakeHubConnection):
    """FakeHubConnection that also answers ExchangeService: signed quotes, transfers started
    once per idempotency key, and scripted failures per method (raised before anything)."""

    def __init__(self, partner_id: str, hub_key: SigningKey) -> None:
        super().__init__(partner_id)
        self.hub_key = hub_key
        self.hub_public_keys = {hub_key.key_id: hub_key.public_key_bytes}
        self.calls: list[tuple[str, str | None, Any]] = []
        self.failures: dict[str, list[HubError]] = defaultdict(list)
        self.started: dict[str, str] = {}  # idempotency key -> transfer id
        self.states: dict[str, exchange_pb2.TransferState] = {}
        self.quote_points_offset = 0  # a misbehaving hub quotes other points than asked
        self.listed: list[exchange_pb2.Transfer] = []  # what ListTransfers answers

    def call(
        self,
        method: str,
        request: Any,
        response_type: type[Any],
        *,
        changes_state: bool,
        idempotency_key: str | None = None,
    ) -> Any:
        name = method.rsplit("/", 1)[-1]
        self.calls.append((name, idempotency_key, request))
        if self.failures[name]:
            raise self.failures[name].pop(0)
        if name == "CreateQuote":
            return exchange_pb2.CreateQuoteResponse(quote=self.quote(request))
        if name in ("CreateTransfer", "CreateReversal"):
            transfer = self.start(idempotency_key or "")
            field = "reversal" if name == "CreateReversal" else "transfer"
            return response_type(**{field: transfer})
        if name == "ListTransfers":
            return exchange_pb2.ListTransfersResponse(transfers=self.listed)
        if name == "GetTransfer":
            transfer = exchange_pb2.Transfer(
                transfer_id=request.transfer_id, state=self.states.get(request.transfer_id)
            )
            return exchange_pb2.GetTransferResponse(transfer=transfer)
        return super().call(
            method,
            request,
            response_type,
            changes_state=changes_state,
            idempotency_key=idempotency_key,
        )

    def quote(self, request: exchange_pb2.CreateQuoteRequest) -> exchange_pb2.Quote:
        payload = exchange_pb2.QuotePayload(
            quote_id=f"qt_{len(self.calls)}",
            source_partner_id=self.partner_id,
            destination_partner_id=request.destination_partner_id,
            ppid=request.ppid,
            source_points=request.source_points + self.quote_points_offset,
            destination_points=request.source_points * RATIO[1] // RATIO[0],
        ).SerializeToString()
        return exchange_pb2.Quote(
            payload=payload,
            signing_key_id=self.hub_key.key_id,
            signature=self.hub_key.sign(wire.payload_signing_bytes(kind="quote", payload=payload)),
        )

    def start(self, idempotency_key: str) -> exchange_pb2.Transfer:
        transfer_id = self.started.setdefault(idempotency_key, f"tr_{len(self.started) + 1}")
        return exchange_pb2.Transfer(transfer_id=transfer_id, state=PENDING)

    def sent(self, name: str) -> list[tuple[str | None, Any]]:
        return [(key, request) for called, key, request in self.calls if called == name]


class Feed:
    """Puts hub-signed transfer events into the fake hub's feed for one program."""

    def __init__(self, connection: FakeExchangeHub, hub_key: SigningKey) -> None:
        self.connection = connection
        self.hub_key = hub_key

    def deliver(self, body: TransferBody) -> event_pb2.Event:
        events = self.connection.feed.events
        event = signed_transfer_event(
            self.hub_key, len(events) + 1, body, self.connection.partner_id
        )
        events.append(event)
        return event

    def redeliver_everything(self) -> None:
        """As after a lost acknowledgement: the whole feed arrives again."""
        self.connection.feed.acked_sequence = 0


def state_of(program: LoyaltyProgram, transfer_id: str) -> OutgoingState:
    row = program.outgoing(transfer_id)
    assert row is not None
    return row.state


def resync(program: LoyaltyProgram, feed: Feed) -> None:
    """The program reads its whole feed again: every event it applied is delivered twice."""
    feed.redeliver_everything()
    program.feed.acked_sequence = None
    program.sync_feed()
