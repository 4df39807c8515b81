"""Encodes feed events as signed coalition.v1 EventPayload bytes, and back into Event messages."""

from __future__ import annotations

from collections.abc import Callable

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import event_pb2
from exchange.api.convert import timestamp
from exchange.api.transfer_codec import KINDS, VOID_REASONS, receipt
from exchange.domain.events import (
    CreditRequested,
    DebitRequested,
    FeedEvent,
    MemberErased,
    MemberUnlinked,
    StoredEvent,
    TierGranted,
    TransferCompleted,
    TransferVoided,
)
from exchange.domain.transfers import TransferKind

EVENT_SIGNING_KIND = "event"
EVENT_TYPES: dict[type, tuple[str, event_pb2.EventType]] = {
    TierGranted: ("tier_granted", event_pb2.EVENT_TYPE_TIER_GRANTED),
    MemberErased: ("member_erased", event_pb2.EVENT_TYPE_MEMBER_ERASED),
    MemberUnlinked: ("member_unlinked", event_pb2.EVENT_TYPE_MEMBER_UNLINKED),
    CreditRequested: ("credit_requested", event_pb2.EVENT_TYPE_CREDIT_REQUESTED),
    DebitRequested: ("debit_requested", event_pb2.EVENT_TYPE_DEBIT_REQUESTED),
    TransferCompleted: ("transfer_completed", event_pb2.EVENT_TYPE_TRANSFER_COMPLETED),
    TransferVoided: ("transfer_voided", event_pb2.EVENT_TYPE_TRANSFER_VOIDED),
}
MESSAGE_TYPES = {name: message_type for name, message_type in EVENT_TYPES.values()}


def _tier_granted(event: TierGranted, _signer: SigningKey) -> event_pb2.TierGranted:
    return event_pb2.TierGranted(
        ppid=event.ppid,
        grant_id=event.grant_id,
        tier_code=event.tier_code,
        expire_time=timestamp(event.expires_at_us),
    )


def _credit_requested(event: CreditRequested, _signer: SigningKey) -> event_pb2.CreditRequested:
    return event_pb2.CreditRequested(
        transfer_id=event.transfer_id,
        ppid=event.ppid,
        destination_points=event.destination_points,
        bonus_points=event.bonus_points,
        timeout_time=timestamp(event.timeout_at_us),
    )


def _debit_requested(event: DebitRequested, _signer: SigningKey) -> event_pb2.DebitRequested:
    return event_pb2.DebitRequested(
        transfer_id=event.transfer_id,
        original_transfer_id=event.original_transfer_id,
        ppid=event.ppid,
        points=event.points,
        timeout_time=timestamp(event.timeout_at_us),
    )


def _transfer_completed(
    event: TransferCompleted, signer: SigningKey
) -> event_pb2.TransferCompleted:
    transfer = event.transfer
    # A completed reversal gives the source's member their points back.
    points = transfer.source_points if transfer.kind is TransferKind.REVERSAL else 0
    return event_pb2.TransferCompleted(
        transfer_id=transfer.transfer_id,
        kind=KINDS[transfer.kind],
        ppid=transfer.source_ppid,
        points=points,
        receipt=receipt(transfer, signer),
    )


def _transfer_voided(event: TransferVoided, _signer: SigningKey) -> event_pb2.TransferVoided:
    transfer = event.transfer
    # A voided transfer is refunded at the source; a voided reversal leaves things as they were.
    points = transfer.source_points if transfer.kind is TransferKind.TRANSFER else 0
    assert transfer.void_reason is not None
    return event_pb2.TransferVoided(
        transfer_id=transfer.transfer_id,
        kind=KINDS[transfer.kind],
        ppid=transfer.source_ppid,
        points=points,
        reason=VOID_REASONS[transfer.void_reason],
    )


BODY_BUILDERS: dict[type, Callable[..., object]] = {
    TierGranted: _tier_granted,
    MemberErased: lambda event, _signer: event_pb2.MemberErased(ppid=event.ppid),
    MemberUnlinked: lambda event, _signer: event_pb2.MemberUnlinked(ppid=event.ppid),
    CreditRequested: _credit_requested,
    DebitRequested: _debit_requested,
    TransferCompleted: _transfer_completed,
    TransferVoided: _transfer_voided,
}


def _fill_body(payload: event_pb2.EventPayload, event: FeedEvent, signer: SigningKey) -> None:
    field_name = EVENT_TYPES[type(event)][0]
    getattr(payload, field_name).CopyFrom(BODY_BUILDERS[type(event)](event, signer))


class SignedEventEncoder:
    """The EventEncoder the SQL feed uses: EventPayload bytes signed by the hub key."""

    def __init__(self, signer: SigningKey) -> None:
        self.signer = signer

    def __call__(
        self, event: FeedEvent, *, event_id: str, partner_id: str, sequence: int, at_us: int
    ) -> StoredEvent:
        return encode_event(
            event,
            event_id=event_id,
            partner_id=partner_id,
            sequence=sequence,
            at_us=at_us,
            signer=self.signer,
        )


def encode_event(
    event: FeedEvent,
    *,
    event_id: str,
    partner_id: str,
    sequence: int,
    at_us: int,
    signer: SigningKey,
) -> StoredEvent:
    payload = event_pb2.EventPayload(
        event_id=event_id, sequence=sequence, partner_id=partner_id, create_time=timestamp(at_us)
    )
    _fill_body(payload, event, signer)
    payload_bytes = payload.SerializeToString(deterministic=True)
    signature = signer.sign(
        wire.payload_signing_bytes(kind=EVENT_SIGNING_KIND, payload=payload_bytes)
    )
    event_type = EVENT_TYPES[type(event)][0]
    return StoredEvent(
        event_id, partner_id, sequence, event_type, at_us, payload_bytes, signer.key_id, signature
    )


def event_message(stored: StoredEvent) -> event_pb2.Event:
    return event_pb2.Event(
        event_id=stored.event_id,
        sequence=stored.sequence,
        type=MESSAGE_TYPES[stored.event_type],
        create_time=timestamp(stored.created_at_us),
        payload=stored.payload,
        signing_key_id=stored.signing_key_id,
        signature=stored.signature,
    )
