"""verify_event: only a hub-signed event, addressed to this partner, as signed, is accepted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import event_pb2
from partners.sdk.events import EVENT_SIGNING_KIND, EventVerificationError, verify_event
from tests.partners.fakes import PARTNER_ID, signed_event, tier_granted

EXPIRES = datetime(2031, 1, 1, tzinfo=UTC)


@pytest.fixture
def hub_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def trusted(hub_key: SigningKey) -> dict[str, bytes]:
    return {hub_key.key_id: hub_key.public_key_bytes}


def grant_event(hub_key: SigningKey, partner_id: str = PARTNER_ID) -> event_pb2.Event:
    return signed_event(
        hub_key, 7, tier_granted("ppid-1", "GOLD", EXPIRES), partner_id=partner_id
    )


def test_a_hub_signed_event_yields_its_payload(
    hub_key: SigningKey, trusted: dict[str, bytes]
) -> None:
    payload = verify_event(grant_event(hub_key), trusted, PARTNER_ID)

    assert payload.event_id == "event-7"
    assert payload.sequence == 7
    assert payload.tier_granted.tier_code == "GOLD"
    assert payload.tier_granted.expire_time.ToDatetime(tzinfo=UTC) == EXPIRES


def test_an_event_signed_by_an_untrusted_key_is_refused(trusted: dict[str, bytes]) -> None:
    with pytest.raises(EventVerificationError, match="trusted"):
        verify_event(grant_event(SigningKey.generate()), trusted, PARTNER_ID)


def test_a_forged_signature_under_a_trusted_key_id_is_refused(
    hub_key: SigningKey, trusted: dict[str, bytes]
) -> None:
    event = grant_event(SigningKey.generate())
    event.signing_key_id = hub_key.key_id

    with pytest.raises(EventVerificationError, match="signature"):
        verify_event(event, trusted, PARTNER_ID)


def test_a_tampered_payload_is_refused(hub_key: SigningKey, trusted: dict[str, bytes]) -> None:
    event = grant_event(hub_key)
    event.payload = event.payload.replace(b"GOLD", b"GOLF")

    with pytest.raises(EventVerificationError, match="signature"):
        verify_event(event, trusted, PARTNER_ID)


def test_another_partners_event_replayed_into_this_feed_is_refused(
    hub_key: SigningKey, trusted: dict[str, bytes]
) -> None:
    event = grant_event(hub_key, partner_id="orbit")

    with pytest.raises(EventVerificationError, match="another partner"):
        verify_event(event, trusted, PARTNER_ID)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event_id", "event-8"),
        ("sequence", 8),
        ("type", event_pb2.EVENT_TYPE_MEMBER_ERASED),
        ("create_time", datetime(2030, 1, 3, tzinfo=UTC)),
    ],
)
def test_an_envelope_that_differs_from_its_signed_payload_is_refused(
    hub_key: SigningKey, trusted: dict[str, bytes], field: str, value: object
) -> None:
    event = grant_event(hub_key)
    if field == "create_time":
        event.create_time.FromDatetime(value)  # type: ignore[arg-type]
    else:
        setattr(event, field, value)

    with pytest.raises(EventVerificationError):
        verify_event(event, trusted, PARTNER_ID)


def test_signed_bytes_that_are_not_a_payload_are_refused(
    hub_key: SigningKey, trusted: dict[str, bytes]
) -> None:
    garbage = b"\xff\xff\xff"
    event = event_pb2.Event(
        event_id="event-1",
        sequence=1,
        payload=garbage,
        signing_key_id=hub_key.key_id,
        signature=hub_key.sign(
            wire.payload_signing_bytes(kind=EVENT_SIGNING_KIND, payload=garbage)
        ),
    )

    with pytest.raises(EventVerificationError, match="malformed"):
        verify_event(event, trusted, PARTNER_ID)


def test_a_signature_for_another_kind_of_payload_is_refused(
    hub_key: SigningKey, trusted: dict[str, bytes]
) -> None:
    event = grant_event(hub_key)
    event.signature = hub_key.sign(wire.payload_signing_bytes(kind="quote", payload=event.payload))

    with pytest.raises(EventVerificationError, match="signature"):
        verify_event(event, trusted, PARTNER_ID)
