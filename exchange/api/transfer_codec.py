"""Transfers, quotes and receipts as coalition.v1 messages; quotes and receipts hub-signed."""

from __future__ import annotations

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import common_pb2
from coalition.v1 import exchange_pb2 as pb
from exchange.api.convert import timestamp
from exchange.domain.transfers import Quote, Transfer, TransferKind, TransferState, VoidReason
from exchange.services.transfer_engine import TransferRequest
from exchange.services.transfers import TransferOrder

QUOTE_SIGNING_KIND = "quote"
RECEIPT_SIGNING_KIND = "receipt"
STATES = {
    TransferState.PENDING: pb.TRANSFER_STATE_PENDING,
    TransferState.COMPLETED: pb.TRANSFER_STATE_COMPLETED,
    TransferState.VOIDED: pb.TRANSFER_STATE_VOIDED,
}
STATES_FROM_MESSAGE = {message: state for state, message in STATES.items()}
KINDS = {
    TransferKind.TRANSFER: pb.TRANSFER_KIND_TRANSFER,
    TransferKind.REVERSAL: pb.TRANSFER_KIND_REVERSAL,
}
VOID_REASONS = {
    VoidReason.REJECTED: pb.VOID_REASON_REJECTED,
    VoidReason.TIMED_OUT: pb.VOID_REASON_TIMED_OUT,
}


def quote_request(message: pb.CreateQuoteRequest, caller: str) -> TransferRequest:
    return TransferRequest(
        caller=caller,
        ppid=message.ppid,
        destination_partner_id=message.destination_partner_id,
        source_points=message.source_points,
    )


def transfer_order(message: pb.CreateTransferRequest) -> TransferOrder:
    """A CreateTransfer call's order, alone or as a batch entry."""
    return TransferOrder(
        quote_id=message.quote_id,
        ppid=message.ppid,
        destination_partner_id=message.destination_partner_id,
        source_points=message.source_points,
    )


def money(amount_minor: int, currency: str) -> common_pb2.Money:
    return common_pb2.Money(amount_minor=amount_minor, currency_code=currency)


def transfer_message(transfer: Transfer, partner_id: str) -> pb.Transfer:
    """The transfer as `partner_id` sees it: with its own ppid for the member, never the other's."""
    message = pb.Transfer(
        transfer_id=transfer.transfer_id,
        kind=KINDS[transfer.kind],
        state=STATES[transfer.state],
        source_partner_id=transfer.source_partner_id,
        destination_partner_id=transfer.destination_partner_id,
        ppid=transfer.ppid_for(partner_id),
        source_points=transfer.source_points,
        destination_points=transfer.destination_points,
        bonus_points=transfer.bonus_points,
        settlement_amount=money(transfer.settlement_amount_minor, transfer.currency),
        fee=money(transfer.fee_minor, transfer.currency),
        agreement_id=transfer.agreement_id,
        agreement_version=transfer.agreement_version,
        quote_id=transfer.quote_id or "",
        original_transfer_id=transfer.original_transfer_id or "",
        create_time=timestamp(transfer.created_at_us),
        timeout_time=timestamp(transfer.timeout_at_us),
        reject_reason=transfer.reject_reason,
    )
    if transfer.resolved_at_us is not None:
        message.resolve_time.CopyFrom(timestamp(transfer.resolved_at_us))
    if transfer.void_reason is not None:
        message.void_reason = VOID_REASONS[transfer.void_reason]
    return message


def quote_payload(quote: Quote) -> pb.QuotePayload:
    return pb.QuotePayload(
        quote_id=quote.quote_id,
        source_partner_id=quote.source_partner_id,
        destination_partner_id=quote.destination_partner_id,
        ppid=quote.source_ppid,
        agreement_id=quote.agreement_id,
        agreement_version=quote.agreement_version,
        source_points=quote.source_points,
        destination_points=quote.destination_points,
        bonus_points=quote.bonus_points,
        settlement_amount=money(quote.settlement_amount_minor, quote.currency),
        fee=money(quote.fee_minor, quote.currency),
        create_time=timestamp(quote.created_at_us),
        expire_time=timestamp(quote.expires_at_us),
    )


class QuoteSigner:
    """The QuoteSealer handlers use: the payload's exact bytes and the hub's signature."""

    def __init__(self, signer: SigningKey) -> None:
        self.signer = signer

    def __call__(self, quote: Quote) -> tuple[bytes, bytes]:
        payload = quote_payload(quote).SerializeToString(deterministic=True)
        message = wire.payload_signing_bytes(kind=QUOTE_SIGNING_KIND, payload=payload)
        return payload, self.signer.sign(message)


def quote_message(quote: Quote, signing_key_id: str) -> pb.Quote:
    return pb.Quote(payload=quote.payload, signing_key_id=signing_key_id, signature=quote.signature)


def receipt(transfer: Transfer, signer: SigningKey) -> pb.Receipt:
    assert transfer.resolved_at_us is not None, "only a completed transfer has a receipt"
    payload = pb.ReceiptPayload(
        transfer_id=transfer.transfer_id,
        kind=KINDS[transfer.kind],
        source_partner_id=transfer.source_partner_id,
        destination_partner_id=transfer.destination_partner_id,
        source_points=transfer.source_points,
        destination_points=transfer.destination_points,
        settlement_amount=money(transfer.settlement_amount_minor, transfer.currency),
        fee=money(transfer.fee_minor, transfer.currency),
        complete_time=timestamp(transfer.resolved_at_us),
    ).SerializeToString(deterministic=True)
    signature = signer.sign(wire.payload_signing_bytes(kind=RECEIPT_SIGNING_KIND, payload=payload))
    return pb.Receipt(payload=payload, signing_key_id=signer.key_id, signature=signature)
