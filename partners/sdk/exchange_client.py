"""Typed calls to ExchangeService: rate agreements, signed quotes, transfers and reversals."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from google.protobuf.message import DecodeError

from coalition import wire
from coalition.keys import verify_signature
from coalition.v1 import exchange_pb2
from partners.sdk.connection import HubConnection

SERVICE = "/coalition.v1.ExchangeService/"
QUOTE_SIGNING_KIND = "quote"
RECEIPT_SIGNING_KIND = "receipt"


class PayloadVerificationError(Exception):
    """A quote or receipt that is not provably signed by a hub key this client trusts."""


def _verified_bytes(
    kind: str, payload: bytes, key_id: str, signature: bytes, hub_public_keys: dict[str, bytes]
) -> bytes:
    public_key = hub_public_keys.get(key_id)
    if public_key is None:
        raise PayloadVerificationError(f"the {kind} is not signed by a trusted hub key")
    signed = wire.payload_signing_bytes(kind=kind, payload=payload)
    if not verify_signature(public_key, signature, signed):
        raise PayloadVerificationError(f"the {kind} has a bad hub signature")
    return payload


def verify_quote(
    quote: exchange_pb2.Quote, hub_public_keys: dict[str, bytes]
) -> exchange_pb2.QuotePayload:
    """Checks the hub's signature over the quote's payload bytes, then parses them."""
    payload = _verified_bytes(
        QUOTE_SIGNING_KIND, quote.payload, quote.signing_key_id, quote.signature, hub_public_keys
    )
    try:
        return exchange_pb2.QuotePayload.FromString(payload)
    except DecodeError:
        raise PayloadVerificationError("the quote has a malformed payload") from None


def verify_receipt(
    receipt: exchange_pb2.Receipt, hub_public_keys: dict[str, bytes]
) -> exchange_pb2.ReceiptPayload:
    """Checks the hub's signature over the receipt's payload bytes, then parses them."""
    payload = _verified_bytes(
        RECEIPT_SIGNING_KIND,
        receipt.payload,
        receipt.signing_key_id,
        receipt.signature,
        hub_public_keys,
    )
    try:
        return exchange_pb2.ReceiptPayload.FromString(payload)
    except DecodeError:
        raise PayloadVerificationError("the receipt has a malformed payload") from None


def _aware(moment: datetime, name: str) -> datetime:
    if moment.utcoffset() is None:
        # A naive time would be read as UTC by protobuf: silently wrong for most callers.
        raise ValueError(f"{name} must be time-zone aware")
    return moment


def rate_terms(
    *,
    ratio: tuple[int, int],
    minimum_source_points: int,
    increment_source_points: int,
    maximum_source_points: int,
    member_daily_cap_source_points: int,
    settlement_currency_code: str,
    price_per_destination_point: Decimal,
    effective_from: datetime,
    effective_to: datetime | None = None,
    bonus_percent: int = 0,
    bonus_window: tuple[datetime, datetime] | None = None,
) -> exchange_pb2.RateTerms:
    """RateTerms from exact values: `ratio` is (source units, destination units), the price a
    Decimal (never a float), every time zone-aware."""
    if not isinstance(price_per_destination_point, Decimal):
        raise TypeError("price_per_destination_point must be a Decimal")
    terms = exchange_pb2.RateTerms(
        source_units=ratio[0],
        destination_units=ratio[1],
        minimum_source_points=minimum_source_points,
        increment_source_points=increment_source_points,
        maximum_source_points=maximum_source_points,
        member_daily_cap_source_points=member_daily_cap_source_points,
        bonus_percent=bonus_percent,
        settlement_currency_code=settlement_currency_code,
        price_per_destination_point=format(price_per_destination_point, "f"),
        effective_from=_aware(effective_from, "effective_from"),
    )
    if effective_to is not None:
        terms.effective_to.FromDatetime(_aware(effective_to, "effective_to"))
    if bonus_window is not None:
        terms.bonus_start_time.FromDatetime(_aware(bonus_window[0], "bonus_window"))
        terms.bonus_end_time.FromDatetime(_aware(bonus_window[1], "bonus_window"))
    return terms


# The hub's limit on entries per CreateTransferBatch and ids per ConfirmCredits call.
TRANSFER_BATCH_ENTRIES_MAX = 1000


@dataclass(frozen=True)
class BatchTransfer:
    """One entry of CreateTransferBatch: its own idempotency key, and a quote or inline terms."""

    idempotency_key: str
    ppid: str = ""
    destination_partner_id: str = ""
    source_points: int = 0
    quote_id: str = ""

    def message(self) -> exchange_pb2.TransferBatchEntry:
        return exchange_pb2.TransferBatchEntry(
            idempotency_key=self.idempotency_key,
            transfer=exchange_pb2.CreateTransferRequest(
                quote_id=self.quote_id,
                ppid=self.ppid,
                destination_partner_id=self.destination_partner_id,
                source_points=self.source_points,
            ),
        )


class ExchangeClient:
    """A partner's side of points transfers. It always names members by its own ppids."""

    def __init__(self, connection: HubConnection) -> None:
        self.connection = connection

    @property
    def hub_public_keys(self) -> dict[str, bytes]:
        return self.connection.hub_public_keys

    def propose_rate_agreement(
        self,
        source_partner_id: str,
        destination_partner_id: str,
        terms: exchange_pb2.RateTerms,
        idempotency_key: str | None = None,
    ) -> exchange_pb2.RateAgreement:
        """Proposes a new version of the terms; it prices nothing until the other side accepts."""
        response = self.connection.call(
            SERVICE + "ProposeRateAgreement",
            exchange_pb2.ProposeRateAgreementRequest(
                source_partner_id=source_partner_id,
                destination_partner_id=destination_partner_id,
                terms=terms,
            ),
            exchange_pb2.ProposeRateAgreementResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return response.agreement

    def accept_rate_agreement(
        self, agreement_id: str, version: int, idempotency_key: str | None = None
    ) -> exchange_pb2.RateAgreement:
        """Accepts one proposed version, named exactly so a later proposal cannot slip in."""
        response = self.connection.call(
            SERVICE + "AcceptRateAgreement",
            exchange_pb2.AcceptRateAgreementRequest(agreement_id=agreement_id, version=version),
            exchange_pb2.AcceptRateAgreementResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return response.agreement

    def list_rate_agreements(
        self, page_size: int = 0, page_token: str = ""
    ) -> exchange_pb2.ListRateAgreementsResponse:
        """One page of every agreement version this partner is party to."""
        return self.connection.call(
            SERVICE + "ListRateAgreements",
            exchange_pb2.ListRateAgreementsRequest(page_size=page_size, page_token=page_token),
            exchange_pb2.ListRateAgreementsResponse,
            changes_state=False,
        )

    def rate_agreements(self, page_size: int = 0) -> Iterator[exchange_pb2.RateAgreement]:
        """Every agreement version this partner is party to, following page tokens."""
        token = ""
        while True:
            page = self.list_rate_agreements(page_size, token)
            yield from page.agreements
            token = page.next_page_token
            if not token:
                return

    def create_quote(
        self,
        ppid: str,
        destination_partner_id: str,
        source_points: int,
        idempotency_key: str | None = None,
    ) -> exchange_pb2.QuotePayload:
        """A firm offer for moving this member's points; returned only once its signature holds."""
        response = self.connection.call(
            SERVICE + "CreateQuote",
            exchange_pb2.CreateQuoteRequest(
                ppid=ppid,
                destination_partner_id=destination_partner_id,
                source_points=source_points,
            ),
            exchange_pb2.CreateQuoteResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return verify_quote(response.quote, self.hub_public_keys)

    def create_transfer(
        self,
        quote_id: str = "",
        idempotency_key: str | None = None,
        *,
        ppid: str = "",
        destination_partner_id: str = "",
        source_points: int = 0,
    ) -> exchange_pb2.Transfer:
        """Starts a transfer under a quote, or under inline terms priced by the hub now.

        Pass either `quote_id` alone or all of `ppid`, `destination_partner_id` and
        `source_points`.
        """
        response = self.connection.call(
            SERVICE + "CreateTransfer",
            exchange_pb2.CreateTransferRequest(
                quote_id=quote_id,
                ppid=ppid,
                destination_partner_id=destination_partner_id,
                source_points=source_points,
            ),
            exchange_pb2.CreateTransferResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return response.transfer

    def create_transfer_batch(
        self, entries: Sequence[BatchTransfer], idempotency_key: str | None = None
    ) -> list[exchange_pb2.TransferBatchResult]:
        """Starts up to TRANSFER_BATCH_ENTRIES_MAX transfers; one result per entry, in order.

        Each entry's own idempotency key makes it safe to send again, in this batch or another.
        """
        request = exchange_pb2.CreateTransferBatchRequest(
            entries=[entry.message() for entry in entries]
        )
        response = self.connection.call(
            SERVICE + "CreateTransferBatch",
            request,
            exchange_pb2.CreateTransferBatchResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return list(response.results)

    def get_transfer(self, transfer_id: str) -> exchange_pb2.Transfer:
        response = self.connection.call(
            SERVICE + "GetTransfer",
            exchange_pb2.GetTransferRequest(transfer_id=transfer_id),
            exchange_pb2.GetTransferResponse,
            changes_state=False,
        )
        return response.transfer

    def list_transfers(
        self,
        state: exchange_pb2.TransferState = exchange_pb2.TRANSFER_STATE_UNSPECIFIED,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> exchange_pb2.ListTransfersResponse:
        """One page of this partner's transfers, newest first; UNSPECIFIED state: any."""
        request = exchange_pb2.ListTransfersRequest(
            state=state, page_size=page_size, page_token=page_token
        )
        if start_time is not None:
            request.start_time.FromDatetime(_aware(start_time, "start_time"))
        if end_time is not None:
            request.end_time.FromDatetime(_aware(end_time, "end_time"))
        return self.connection.call(
            SERVICE + "ListTransfers",
            request,
            exchange_pb2.ListTransfersResponse,
            changes_state=False,
        )

    def transfers(
        self,
        state: exchange_pb2.TransferState = exchange_pb2.TRANSFER_STATE_UNSPECIFIED,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        page_size: int = 0,
    ) -> Iterator[exchange_pb2.Transfer]:
        """Every matching transfer, newest first, following page tokens."""
        token = ""
        while True:
            page = self.list_transfers(state, start_time, end_time, page_size, token)
            yield from page.transfers
            token = page.next_page_token
            if not token:
                return

    def confirm_credit(
        self, transfer_id: str, idempotency_key: str | None = None
    ) -> exchange_pb2.Transfer:
        """As the destination: the member was credited (or, for a reversal, debited)."""
        response = self.connection.call(
            SERVICE + "ConfirmCredit",
            exchange_pb2.ConfirmCreditRequest(transfer_id=transfer_id),
            exchange_pb2.ConfirmCreditResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return response.transfer

    def confirm_credits(
        self, transfer_ids: Sequence[str], idempotency_key: str | None = None
    ) -> list[exchange_pb2.ConfirmCreditResult]:
        """As the destination: confirms up to TRANSFER_BATCH_ENTRIES_MAX credits in one call."""
        response = self.connection.call(
            SERVICE + "ConfirmCredits",
            exchange_pb2.ConfirmCreditsRequest(transfer_ids=list(transfer_ids)),
            exchange_pb2.ConfirmCreditsResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return list(response.results)

    def reject_credit(
        self, transfer_id: str, reason: str, idempotency_key: str | None = None
    ) -> exchange_pb2.Transfer:
        """As the destination: the member cannot be credited; `reason` carries no member data."""
        response = self.connection.call(
            SERVICE + "RejectCredit",
            exchange_pb2.RejectCreditRequest(transfer_id=transfer_id, reason=reason),
            exchange_pb2.RejectCreditResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return response.transfer

    def create_reversal(
        self, transfer_id: str, idempotency_key: str | None = None
    ) -> exchange_pb2.Transfer:
        """Asks to reverse a completed transfer; the original destination must confirm it."""
        response = self.connection.call(
            SERVICE + "CreateReversal",
            exchange_pb2.CreateReversalRequest(transfer_id=transfer_id),
            exchange_pb2.CreateReversalResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return response.reversal
