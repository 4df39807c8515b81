"""A program's side of transfers with an in-process fake hub: each transfer event lands once,
refunds follow voids, and every retry to the hub reuses the idempotency key it was queued with."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import common_pb2, event_pb2, exchange_pb2
from partners.programs import brands
from partners.programs.errors import (
    InsufficientPoints,
    QuoteMismatch,
    TransferNotReversible,
    UnknownTransfer,
)
from partners.programs.handlers import INSUFFICIENT_POINTS_REASON, UNKNOWN_MEMBER_REASON
from partners.programs.program import LoyaltyProgram, refuse_every_credit
from partners.programs.transfer_store import (
    OutboxAction,
    OutboxOutcome,
    OutgoingKind,
    OutgoingState,
)
from partners.sdk import (
    ExchangeClient,
    HubError,
    PayloadVerificationError,
    verify_quote,
    verify_receipt,
)
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


@pytest.fixture
def hub_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def connection(hub_key: SigningKey) -> Iterator[FakeExchangeHub]:
    connection = FakeExchangeHub("skyway", hub_key)
    yield connection
    connection.close()


@pytest.fixture
def program(tmp_path: Path, connection: FakeExchangeHub, hub_key: SigningKey) -> LoyaltyProgram:
    program = brands.airline(
        tmp_path / "skyway.db", connection, {hub_key.key_id: hub_key.public_key_bytes}
    )
    program.enrol("SKY-1", points=10_000)  # ppid-1
    program.enrol("SKY-2", points=500)  # ppid-2
    return program


@pytest.fixture
def feed(connection: FakeExchangeHub, hub_key: SigningKey) -> Feed:
    return Feed(connection, hub_key)


def state_of(program: LoyaltyProgram, transfer_id: str) -> OutgoingState:
    row = program.outgoing(transfer_id)
    assert row is not None
    return row.state


def resync(program: LoyaltyProgram, feed: Feed) -> None:
    """The program reads its whole feed again: every event it applied is delivered twice."""
    feed.redeliver_everything()
    program.feed.acked_sequence = None
    program.sync_feed()


# Outgoing transfers


def test_a_transfer_debits_the_member_and_starts_with_the_rows_own_key(
    program: LoyaltyProgram, connection: FakeExchangeHub
) -> None:
    row = program.transfer_out("SKY-1", "harbor", 4_000)

    assert program.balance("SKY-1") == 6_000
    assert (row.state, row.transfer_id, row.points, row.destination_points) == (
        OutgoingState.STARTED,
        "tr_1",
        4_000,
        3_000,
    )
    [(key, request)] = connection.sent("CreateTransfer")
    assert key == row.idempotency_key
    assert request.quote_id == row.quote_id


def test_a_transfer_above_the_balance_is_refused_before_asking_the_hub(
    program: LoyaltyProgram, connection: FakeExchangeHub
) -> None:
    calls_before = len(connection.calls)

    with pytest.raises(InsufficientPoints):
        program.transfer_out("SKY-2", "harbor", 1_000)

    assert program.balance("SKY-2") == 500
    assert len(connection.calls) == calls_before
    assert program.store.outgoing_of("SKY-2") == []


def test_a_quote_for_other_points_debits_nothing(
    program: LoyaltyProgram, connection: FakeExchangeHub
) -> None:
    connection.quote_points_offset = 1_000

    with pytest.raises(QuoteMismatch):
        program.transfer_out("SKY-1", "harbor", 4_000)

    assert program.balance("SKY-1") == 10_000
    assert connection.sent("CreateTransfer") == []


def test_a_quote_signed_by_an_untrusted_key_debits_nothing(
    program: LoyaltyProgram, connection: FakeExchangeHub
) -> None:
    connection.hub_key = SigningKey.generate()

    with pytest.raises(PayloadVerificationError):
        program.transfer_out("SKY-1", "harbor", 4_000)

    assert program.balance("SKY-1") == 10_000


def test_a_refused_transfer_is_refunded_and_marked_refused(
    program: LoyaltyProgram, connection: FakeExchangeHub
) -> None:
    connection.failures["CreateTransfer"].append(refusal("QUOTE_EXPIRED"))

    row = program.transfer_out("SKY-1", "harbor", 4_000)

    assert (row.state, row.detail, row.transfer_id) == (
        OutgoingState.REFUSED,
        "QUOTE_EXPIRED",
        None,
    )
    assert program.balance("SKY-1") == 10_000
    assert program.resume_outgoing() == []


@pytest.mark.parametrize(
    "failure",
    [
        unreachable(),
        HubError(grpc.StatusCode.ABORTED, "in progress", "IDEMPOTENCY_IN_PROGRESS"),
        refusal("IDEMPOTENCY_KEY_REUSED"),
        HubError(grpc.StatusCode.INTERNAL, "internal error"),
    ],
    ids=["unavailable", "in-progress", "key-reused", "internal"],
)
def test_an_unknown_outcome_keeps_the_debit_and_resumes_with_the_same_key(
    program: LoyaltyProgram, connection: FakeExchangeHub, failure: HubError
) -> None:
    connection.failures["CreateTransfer"].append(failure)

    row = program.transfer_out("SKY-1", "harbor", 4_000)

    assert row.state is OutgoingState.PENDING
    assert program.balance("SKY-1") == 6_000
    [resumed] = program.resume_outgoing()
    assert (resumed.state, resumed.transfer_id) == (OutgoingState.STARTED, "tr_1")
    keys = [key for key, _ in connection.sent("CreateTransfer")]
    assert keys == [row.idempotency_key, row.idempotency_key]
    assert program.balance("SKY-1") == 6_000


def test_a_transfer_started_before_its_stored_response_expired_is_adopted_not_refunded(
    program: LoyaltyProgram, connection: FakeExchangeHub
) -> None:
    """Resumed after the hub forgot the key's response (7 days): its quote is used already."""
    connection.failures["CreateTransfer"].append(unreachable())
    row = program.transfer_out("SKY-1", "harbor", 4_000)
    connection.listed = [
        exchange_pb2.Transfer(transfer_id="tr_other", quote_id="qt_other"),
        exchange_pb2.Transfer(transfer_id="tr_started", quote_id=row.quote_id),
    ]
    connection.failures["CreateTransfer"].append(refusal("QUOTE_ALREADY_USED"))

    [resumed] = program.resume_outgoing()

    assert (resumed.state, resumed.transfer_id) == (OutgoingState.STARTED, "tr_started")
    assert program.balance("SKY-1") == 6_000


def test_only_a_completed_outgoing_transfer_can_be_reversed(program: LoyaltyProgram) -> None:
    row = program.transfer_out("SKY-1", "harbor", 4_000)
    assert row.transfer_id is not None

    with pytest.raises(TransferNotReversible):
        program.request_reversal(row.transfer_id)
    with pytest.raises(UnknownTransfer):
        program.request_reversal("tr_unknown")


# Outcomes at the source


def completed(
    transfer_id: str,
    ppid: str,
    points: int = 0,
    kind: exchange_pb2.TransferKind = TRANSFER,
) -> TransferBody:
    return event_pb2.TransferCompleted(transfer_id=transfer_id, kind=kind, ppid=ppid, points=points)


def voided(
    transfer_id: str, ppid: str, points: int, kind: exchange_pb2.TransferKind = TRANSFER
) -> TransferBody:
    return event_pb2.TransferVoided(
        transfer_id=transfer_id,
        kind=kind,
        ppid=ppid,
        points=points,
        reason=exchange_pb2.VOID_REASON_TIMED_OUT,
    )


def test_completion_is_recorded_once_and_moves_no_points(
    program: LoyaltyProgram, feed: Feed
) -> None:
    row = program.transfer_out("SKY-1", "harbor", 4_000)
    assert row.transfer_id is not None
    feed.deliver(completed(row.transfer_id, "ppid-1"))

    assert program.sync_feed() == 1
    resync(program, feed)

    assert state_of(program, row.transfer_id) is OutgoingState.COMPLETED
    assert program.balance("SKY-1") == 6_000


def test_a_void_refunds_the_member_once(program: LoyaltyProgram, feed: Feed) -> None:
    row = program.transfer_out("SKY-1", "harbor", 4_000)
    assert row.transfer_id is not None
    feed.deliver(voided(row.transfer_id, "ppid-1", 4_000))

    program.sync_feed()
    resync(program, feed)

    voided_row = program.outgoing(row.transfer_id)
    assert voided_row is not None
    assert (voided_row.state, voided_row.detail) == (OutgoingState.VOIDED, "timed_out")
    assert program.balance("SKY-1") == 10_000


def test_a_completed_reversal_gives_the_points_back_once(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    row = program.transfer_out("SKY-1", "harbor", 4_000)
    assert row.transfer_id is not None
    feed.deliver(completed(row.transfer_id, "ppid-1"))
    program.sync_feed()

    reversal = program.request_reversal(row.transfer_id)
    assert reversal.transfer_id is not None
    feed.deliver(completed(reversal.transfer_id, "ppid-1", 4_000, REVERSAL))
    program.sync_feed()
    resync(program, feed)

    assert reversal.kind is OutgoingKind.REVERSAL
    assert [key for key, _ in connection.sent("CreateReversal")] == [reversal.idempotency_key]
    assert state_of(program, reversal.transfer_id) is OutgoingState.COMPLETED
    assert program.balance("SKY-1") == 10_000


def test_a_voided_reversal_changes_no_balance(program: LoyaltyProgram, feed: Feed) -> None:
    row = program.transfer_out("SKY-1", "harbor", 4_000)
    assert row.transfer_id is not None
    feed.deliver(completed(row.transfer_id, "ppid-1"))
    program.sync_feed()
    reversal = program.request_reversal(row.transfer_id)
    assert reversal.transfer_id is not None

    feed.deliver(voided(reversal.transfer_id, "ppid-1", 0, REVERSAL))
    program.sync_feed()

    assert state_of(program, reversal.transfer_id) is OutgoingState.VOIDED
    assert program.balance("SKY-1") == 6_000


def test_an_outcome_that_arrives_before_the_transfer_id_is_recorded_applies_on_resume(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    """A crash after the hub started the transfer but before the program wrote down its id."""
    connection.failures["CreateTransfer"].append(unreachable())
    row = program.transfer_out("SKY-1", "harbor", 4_000)
    transfer_id = connection.start(row.idempotency_key).transfer_id  # the hub did start it
    feed.deliver(voided(transfer_id, "ppid-1", 4_000))
    program.sync_feed()
    assert program.balance("SKY-1") == 10_000

    [resumed] = program.resume_outgoing()

    assert (resumed.transfer_id, resumed.state) == (transfer_id, OutgoingState.VOIDED)
    assert program.balance("SKY-1") == 10_000


# Requests at the destination


def credit(transfer_id: str, ppid: str, points: int) -> TransferBody:
    return event_pb2.CreditRequested(transfer_id=transfer_id, ppid=ppid, destination_points=points)


def debit(transfer_id: str, ppid: str, points: int) -> TransferBody:
    return event_pb2.DebitRequested(
        transfer_id=transfer_id, original_transfer_id="tr_original", ppid=ppid, points=points
    )


def test_a_credit_request_credits_once_and_confirms_once(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    feed.deliver(credit("tr_in", "ppid-1", 3_000))

    assert program.sync_feed() == 1
    resync(program, feed)
    program.flush_outbox()

    assert program.balance("SKY-1") == 13_000
    [entry] = program.outbox()
    assert (entry.action, entry.sent, entry.outcome) == (
        OutboxAction.CONFIRM,
        True,
        OutboxOutcome.ACCEPTED,
    )
    assert connection.sent("ConfirmCredit") == [
        (entry.idempotency_key, exchange_pb2.ConfirmCreditRequest(transfer_id="tr_in"))
    ]


def test_a_credit_for_an_unknown_member_is_rejected_without_crediting_anyone(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    feed.deliver(credit("tr_in", "ppid-erased", 3_000))

    program.sync_feed()

    [(_, request)] = connection.sent("RejectCredit")
    assert (request.transfer_id, request.reason) == ("tr_in", UNKNOWN_MEMBER_REASON)
    assert (program.balance("SKY-1"), program.balance("SKY-2")) == (10_000, 500)


def test_a_program_that_refuses_credits_rejects_with_its_reason(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    program.credit_policy = refuse_every_credit("account frozen")
    feed.deliver(credit("tr_in", "ppid-1", 3_000))

    program.sync_feed()

    [(_, request)] = connection.sent("RejectCredit")
    assert request.reason == "account frozen"
    assert program.balance("SKY-1") == 10_000


def test_a_debit_request_takes_the_points_back_once_and_confirms(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    feed.deliver(debit("tr_rev", "ppid-1", 3_000))

    program.sync_feed()
    resync(program, feed)

    assert program.balance("SKY-1") == 7_000
    assert [r.transfer_id for _, r in connection.sent("ConfirmCredit")] == ["tr_rev"]


def test_a_debit_beyond_the_balance_is_rejected_and_takes_nothing(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    feed.deliver(debit("tr_rev", "ppid-2", 3_000))

    program.sync_feed()

    [(_, request)] = connection.sent("RejectCredit")
    assert request.reason == INSUFFICIENT_POINTS_REASON
    assert program.balance("SKY-2") == 500


# The outbox


def test_an_unsent_answer_is_retried_with_the_key_it_was_queued_with(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    feed.deliver(credit("tr_a", "ppid-1", 3_000))
    feed.deliver(credit("tr_b", "ppid-erased", 3_000))
    connection.failures["ConfirmCredit"].append(unreachable())

    program.sync_feed()

    assert connection.sent("RejectCredit") == []  # stops at the first unreachable answer
    assert [entry.sent for entry in program.outbox()] == [False, False]
    assert program.flush_outbox() == 2
    assert program.flush_outbox() == 0
    confirm, reject = program.outbox()
    assert [key for key, _ in connection.sent("ConfirmCredit")] == [confirm.idempotency_key] * 2
    assert [key for key, _ in connection.sent("RejectCredit")] == [reject.idempotency_key]
    assert confirm.idempotency_key != reject.idempotency_key
    assert program.balance("SKY-1") == 13_000


@pytest.mark.parametrize(
    "reason",
    # Voided by this late answer itself, or by the hub's sweeper before it arrived.
    ["TRANSFER_TIMED_OUT", "TRANSFER_NOT_PENDING"],
)
def test_a_confirmation_the_hub_timed_out_first_takes_the_credit_back(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed, reason: str
) -> None:
    feed.deliver(credit("tr_late", "ppid-1", 3_000))
    connection.failures["ConfirmCredit"].append(refusal(reason))
    connection.states["tr_late"] = VOIDED

    program.sync_feed()
    program.flush_outbox()

    assert program.balance("SKY-1") == 10_000
    [entry] = program.outbox()
    assert (entry.sent, entry.outcome) == (True, OutboxOutcome.RESOLVED_FIRST)
    assert len(connection.sent("ConfirmCredit")) == 1


def test_a_debit_the_hub_timed_out_first_is_given_back(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    feed.deliver(debit("tr_rev", "ppid-1", 3_000))
    connection.failures["ConfirmCredit"].append(refusal("TRANSFER_TIMED_OUT"))
    connection.states["tr_rev"] = VOIDED

    program.sync_feed()

    assert program.balance("SKY-1") == 10_000


def test_a_late_credit_already_spent_is_taken_back_as_far_as_the_balance_allows(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    feed.deliver(credit("tr_late", "ppid-2", 3_000))
    connection.failures["ConfirmCredit"].append(unreachable())
    program.sync_feed()
    with program.store.transaction() as transaction:
        assert transaction.debit("SKY-2", 3_200)  # she spent most of it meanwhile
    connection.failures["ConfirmCredit"].append(refusal("TRANSFER_TIMED_OUT"))
    connection.states["tr_late"] = VOIDED

    program.flush_outbox()

    assert program.balance("SKY-2") == 0


# The SDK's signed documents


def signed(kind: str, payload: bytes, key: SigningKey) -> tuple[bytes, str, bytes]:
    return payload, key.key_id, key.sign(wire.payload_signing_bytes(kind=kind, payload=payload))


def test_a_receipt_verifies_only_with_the_hubs_key_and_its_own_kind(hub_key: SigningKey) -> None:
    body = exchange_pb2.ReceiptPayload(
        transfer_id="tr_1",
        source_points=4_000,
        settlement_amount=common_pb2.Money(amount_minor=1_200, currency_code="USD"),
    ).SerializeToString()
    trusted = {hub_key.key_id: hub_key.public_key_bytes}
    payload, key_id, signature = signed("receipt", body, hub_key)

    receipt = exchange_pb2.Receipt(payload=payload, signing_key_id=key_id, signature=signature)
    assert verify_receipt(receipt, trusted).settlement_amount.amount_minor == 1_200

    as_quote = exchange_pb2.Quote(payload=payload, signing_key_id=key_id, signature=signature)
    with pytest.raises(PayloadVerificationError):
        verify_quote(as_quote, trusted)  # a receipt's signature is not a quote's
    tampered = exchange_pb2.Receipt(
        payload=payload.replace(b"tr_1", b"tr_2"), signing_key_id=key_id, signature=signature
    )
    with pytest.raises(PayloadVerificationError):
        verify_receipt(tampered, trusted)
    with pytest.raises(PayloadVerificationError):
        verify_receipt(receipt, {})


class PagedConnection(FakeHubConnection):
    """Answers both list calls in pages of one item, to check that the helpers follow tokens."""

    IDS = ("id-3", "id-2", "id-1")

    def call(
        self,
        method: str,
        request: Any,
        response_type: type[Any],
        *,
        changes_state: bool,
        idempotency_key: str | None = None,
    ) -> Any:
        self.requests.append((method, request))
        index = int(request.page_token or "0")
        token = str(index + 1) if index + 1 < len(self.IDS) else ""
        if response_type is exchange_pb2.ListRateAgreementsResponse:
            agreement = exchange_pb2.RateAgreement(agreement_id=self.IDS[index])
            return response_type(agreements=[agreement], next_page_token=token)
        transfer = exchange_pb2.Transfer(transfer_id=self.IDS[index])
        return exchange_pb2.ListTransfersResponse(transfers=[transfer], next_page_token=token)


def test_listing_helpers_follow_page_tokens() -> None:
    connection = PagedConnection("skyway")
    client = ExchangeClient(connection)

    transfers = [t.transfer_id for t in client.transfers(page_size=1)]
    agreements = [a.agreement_id for a in client.rate_agreements(page_size=1)]

    assert transfers == agreements == list(PagedConnection.IDS)
    tokens = [getattr(request, "page_token", None) for _, request in connection.requests]
    assert tokens == ["", "1", "2"] * 2
    connection.close()
