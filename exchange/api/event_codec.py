"""Encodes feed events as signed coalition.v1 EventPayload bytes, and back into Event messages."""

from __future__ import annotations

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import event_pb2
from exchange.api.convert import timestamp
from exchange.domain.events import FeedEvent, MemberErased, MemberUnlinked, StoredEvent, TierGranted

EVENT_SIGNING_KIND = "event"
EVENT_TYPES: dict[type, tuple[str, event_pb2.EventType]] = {
    TierGranted: ("tier_granted", event_pb2.EVENT_TYPE_TIER_GRANTED),
    MemberErased: ("member_erased", event_pb2.EVENT_TYPE_MEMBER_ERASED),
    MemberUnlinked: ("member_unlinked", event_pb2.EVENT_TYPE_MEMBER_UNLINKED),
}
MESSAGE_TYPES = {name: message_type for name, message_type in EVENT_TYPES.values()}


def _fill_body(payload: event_pb2.EventPayload, event: FeedEvent) -> None:
    if isinstance(event, TierGranted):
        payload.tier_granted.CopyFrom(
            event_pb2.TierGranted(
                ppid=event.ppid,
                grant_id=event.grant_id,
                tier_code=event.tier_code,
                expire_time=timestamp(event.expires_at_us),
            )
        )
    elif isinstance(event, MemberErased):
        payload.member_erased.CopyFrom(event_pb2.MemberErased(ppid=event.ppid))
    else:
        payload.member_unlinked.CopyFrom(event_pb2.MemberUnlinked(ppid=event.ppid))


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
    _fill_body(payload, event)
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
