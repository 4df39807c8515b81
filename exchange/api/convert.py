"""Conversions between domain values and coalition.v1 messages."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from coalition.v1 import common_pb2, partner_pb2
from exchange.domain.partners import KeyState, PartnerKey, PartnerKind
from exchange.services.partners import DirectoryEntry

KIND_TO_MESSAGE: dict[PartnerKind, common_pb2.PartnerKind] = {
    PartnerKind.AIRLINE: common_pb2.PARTNER_KIND_AIRLINE,
    PartnerKind.HOTEL: common_pb2.PARTNER_KIND_HOTEL,
    PartnerKind.CARD_ISSUER: common_pb2.PARTNER_KIND_CARD_ISSUER,
    PartnerKind.RETAILER: common_pb2.PARTNER_KIND_RETAILER,
    PartnerKind.OTHER: common_pb2.PARTNER_KIND_OTHER,
}
KEY_STATE_TO_MESSAGE: dict[KeyState, common_pb2.KeyState] = {
    KeyState.ACTIVE: common_pb2.KEY_STATE_ACTIVE,
    KeyState.REVOKED: common_pb2.KEY_STATE_REVOKED,
}


def timestamp(at_us: int) -> Timestamp:
    seconds, micros = divmod(at_us, 1_000_000)
    return Timestamp(seconds=seconds, nanos=micros * 1000)


def public_key(key: PartnerKey) -> common_pb2.PublicKey:
    message = common_pb2.PublicKey(
        key_id=key.key_id,
        algorithm=common_pb2.KEY_ALGORITHM_ED25519,
        public_key=key.public_key,
        state=KEY_STATE_TO_MESSAGE[key.state],
        create_time=timestamp(key.created_at_us),
    )
    if key.revoked_at_us is not None:
        message.revoke_time.CopyFrom(timestamp(key.revoked_at_us))
    return message


def partner(entry: DirectoryEntry) -> partner_pb2.Partner:
    return partner_pb2.Partner(
        partner_id=entry.partner.partner_id,
        display_name=entry.partner.display_name,
        kind=KIND_TO_MESSAGE[entry.partner.kind],
        program_code=entry.partner.program_code,
        active_keys=[public_key(key) for key in entry.active_keys],
    )


TIMESTAMP_SECONDS_MAX = 253_402_300_799  # 9999-12-31T23:59:59Z


def timestamp_us(value: Timestamp, field: str) -> int:
    """Microseconds from a request Timestamp; an unset or out-of-range one is bad input."""
    from exchange.domain.errors import invalid

    # google.protobuf.Timestamp's own range ends with the year 9999; past it, microseconds
    # would not fit the int64 columns they are stored in.
    if not 0 < value.seconds <= TIMESTAMP_SECONDS_MAX or not 0 <= value.nanos < 1_000_000_000:
        raise invalid(field, "must be a valid time between 1970 and 9999")
    return value.seconds * 1_000_000 + value.nanos // 1000
