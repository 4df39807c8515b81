"""Event verification: the hub signature, and an envelope that repeats the signed payload."""

from __future__ import annotations

from google.protobuf.message import DecodeError

from coalition import wire
from coalition.keys import verify_signature
from coalition.v1 import event_pb2

EVENT_SIGNING_KIND = "event"

EVENT_TYPE_BY_BODY = {
    "tier_granted": event_pb2.EVENT_TYPE_TIER_GRANTED,
    "member_erased": event_pb2.EVENT_TYPE_MEMBER_ERASED,
    "member_unlinked": event_pb2.EVENT_TYPE_MEMBER_UNLINKED,
    "credit_requested": event_pb2.EVENT_TYPE_CREDIT_REQUESTED,
    "debit_requested": event_pb2.EVENT_TYPE_DEBIT_REQUESTED,
    "transfer_completed": event_pb2.EVENT_TYPE_TRANSFER_COMPLETED,
    "transfer_voided": event_pb2.EVENT_TYPE_TRANSFER_VOIDED,
}


class EventVerificationError(Exception):
    """An event that is not provably the hub's, for this partner, at this place in the feed."""


def verify_event(
    event: event_pb2.Event, hub_public_keys: dict[str, bytes], partner_id: str
) -> event_pb2.EventPayload:
    """Checks the hub signature and that the envelope repeats the signed payload; returns it."""
    public_key = hub_public_keys.get(event.signing_key_id)
    if public_key is None:
        raise EventVerificationError(f"event {event.event_id} is not signed by a trusted hub key")
    signed = wire.payload_signing_bytes(kind=EVENT_SIGNING_KIND, payload=event.payload)
    if not verify_signature(public_key, event.signature, signed):
        raise EventVerificationError(f"event {event.event_id} has a bad hub signature")
    payload = _parse_payload(event)
    _check_envelope(event, payload, partner_id)
    return payload


def _parse_payload(event: event_pb2.Event) -> event_pb2.EventPayload:
    try:
        return event_pb2.EventPayload.FromString(event.payload)
    except DecodeError:
        raise EventVerificationError(f"event {event.event_id} has a malformed payload") from None


def _check_envelope(
    event: event_pb2.Event, payload: event_pb2.EventPayload, partner_id: str
) -> None:
    """The envelope is unsigned: only fields equal to their signed copies may be trusted."""
    if payload.partner_id != partner_id:
        # A genuine event for another partner, replayed into this feed.
        raise EventVerificationError(f"event {event.event_id} is addressed to another partner")
    if payload.event_id != event.event_id or payload.sequence != event.sequence:
        raise EventVerificationError(f"event {event.event_id} does not match its signed payload")
    if payload.create_time != event.create_time:
        raise EventVerificationError(f"event {event.event_id} has a different signed time")
    body = payload.WhichOneof("body")
    if body is not None and EVENT_TYPE_BY_BODY.get(body) != event.type:
        raise EventVerificationError(f"event {event.event_id} has a different signed type")
