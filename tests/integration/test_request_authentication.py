"""Each authentication failure gets one identical UNAUTHENTICATED and writes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest
from sqlalchemy import Engine

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import partner_pb2
from exchange.api.catalog import UNAUTHENTICATED_MESSAGE
from exchange.config import Settings
from partners.sdk import PartnerClient
from tests.support.coalition import AUDIENCE, TestCoalition
from tests.support.databases import REPLAY_BOOKKEEPING, table_snapshot
from tests.support.programs import ClockedCoalition, clocked_coalition, real_time_clock
from tests.support.raw_calls import RawOutcome, SignedRequest, call_raw, new_idempotency_key, send

GET_PARTNER = "/coalition.v1.PartnerService/GetPartner"
REVOKE_KEY = "/coalition.v1.PartnerService/RevokeKey"


@pytest.fixture
def channel(coalition: TestCoalition) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(coalition.target) as channel:
        yield channel


@pytest.fixture
def valid(coalition: TestCoalition) -> SignedRequest:
    body = partner_pb2.GetPartnerRequest(partner_id="harbor").SerializeToString()
    return SignedRequest(GET_PARTNER, body, "skyway", coalition.keys["skyway"], AUDIENCE)


def assert_refused_identically(outcome: RawOutcome) -> None:
    assert outcome.code is grpc.StatusCode.UNAUTHENTICATED
    assert outcome.message == UNAUTHENTICATED_MESSAGE
    assert outcome.reason == "UNAUTHENTICATED"
    assert outcome.response is None


def test_a_valid_request_passes(channel: grpc.Channel, valid: SignedRequest) -> None:
    outcome = send(channel, valid)
    assert outcome.code is grpc.StatusCode.OK
    assert (
        partner_pb2.GetPartnerResponse.FromString(outcome.response or b"").partner.partner_id
        == "harbor"
    )


def _other_body() -> bytes:
    return partner_pb2.GetPartnerRequest(partner_id="orbit").SerializeToString()


def _unknown_field_body() -> bytes:
    # Field 15, varint 1: not in GetPartnerRequest's schema.
    return partner_pb2.GetPartnerRequest(partner_id="harbor").SerializeToString() + b"\x78\x01"


REFUSALS: dict[str, Callable[[SignedRequest, TestCoalition], SignedRequest]] = {
    "body tampered after signing": lambda r, c: r.with_changes(
        signed_body=r.body, body=_other_body()
    ),
    "bytes appended": lambda r, c: r.with_changes(signed_body=r.body, body=r.body + b"\x12\x00"),
    "unknown key id": lambda r, c: r.with_changes(key=SigningKey.generate()),
    "another partner's key id": lambda r, c: r.with_changes(key=c.keys["harbor"]),
    "key id not matching the signing key": lambda r, c: r.with_changes(
        signed_key_id=c.keys["harbor"].key_id
    ),
    "signature for another method": lambda r, c: r.with_changes(
        signed_method="/coalition.v1.PartnerService/ListPartners"
    ),
    "signature for another audience": lambda r, c: r.with_changes(signed_audience="other-hub"),
    "unknown partner": lambda r, c: r.with_changes(partner_id="nobody"),
    "unknown fields in the signed message": lambda r, c: r.with_changes(body=_unknown_field_body()),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_each_refusal_is_identical_and_writes_nothing(
    refusal: str, coalition: TestCoalition, channel: grpc.Channel, valid: SignedRequest
) -> None:
    before = table_snapshot(coalition.hub.engine)
    outcome = send(channel, REFUSALS[refusal](valid, coalition))
    assert_refused_identically(outcome)
    assert table_snapshot(coalition.hub.engine) == before


@pytest.fixture
def frozen(
    settings: Settings, hub_key: SigningKey, engine: Engine
) -> Iterator[ClockedCoalition]:
    """A hub whose clock stands still, so signature ages are exact however slow the machine."""
    with clocked_coalition(settings, hub_key, engine, real_time_clock()) as coalition:
        yield coalition


@pytest.mark.parametrize(
    ("offset_s", "accepted"), [(-301, False), (-300, True), (60, True), (61, False)]
)
def test_signature_age_window(frozen: ClockedCoalition, offset_s: int, accepted: bool) -> None:
    """`created` may be up to 300 s old and 60 s ahead of the hub's clock, and no further."""
    body = partner_pb2.GetPartnerRequest(partner_id="harbor").SerializeToString()
    now_s = frozen.clock.now_us() // 1_000_000
    request = SignedRequest(
        GET_PARTNER, body, "skyway", frozen.keys["skyway"], AUDIENCE, created_s=now_s + offset_s
    )
    before = table_snapshot(frozen.hub.engine)
    with grpc.insecure_channel(frozen.target) as channel:
        outcome = send(channel, request)
    if accepted:
        assert outcome.code is grpc.StatusCode.OK
        return
    assert_refused_identically(outcome)
    assert table_snapshot(frozen.hub.engine) == before


def test_replayed_nonce_is_refused(
    coalition: TestCoalition, channel: grpc.Channel, valid: SignedRequest
) -> None:
    assert send(channel, valid).code is grpc.StatusCode.OK
    before = table_snapshot(coalition.hub.engine)
    assert_refused_identically(send(channel, valid))
    assert table_snapshot(coalition.hub.engine) == before


def test_the_same_nonce_from_two_partners_is_two_nonces(
    coalition: TestCoalition, channel: grpc.Channel, valid: SignedRequest
) -> None:
    assert send(channel, valid).code is grpc.StatusCode.OK
    other = valid.with_changes(partner_id="harbor", key=coalition.keys["harbor"])
    assert send(channel, other).code is grpc.StatusCode.OK


def test_revoked_key_is_refused(
    coalition: TestCoalition, channel: grpc.Channel, valid: SignedRequest
) -> None:
    client = PartnerClient(coalition.connection("skyway"))
    new_key = SigningKey.generate()
    client.register_key(new_key)
    client.revoke_key(coalition.keys["skyway"].key_id)
    before = table_snapshot(coalition.hub.engine)
    assert_refused_identically(send(channel, valid.with_changes(nonce=wire.new_nonce())))
    assert table_snapshot(coalition.hub.engine) == before


@pytest.mark.parametrize(
    "header", [wire.HEADER_NONCE, wire.HEADER_PARTNER, wire.HEADER_KEY_ID, wire.HEADER_CREATED]
)
def test_duplicated_header_is_refused(
    header: str, coalition: TestCoalition, channel: grpc.Channel, valid: SignedRequest
) -> None:
    metadata = valid.metadata()
    metadata.append(next(item for item in metadata if item[0] == header))
    before = table_snapshot(coalition.hub.engine)
    assert_refused_identically(call_raw(channel, valid.method, valid.body, metadata))
    assert table_snapshot(coalition.hub.engine) == before


@pytest.mark.parametrize(
    "header",
    [
        wire.HEADER_PARTNER,
        wire.HEADER_KEY_ID,
        wire.HEADER_CREATED,
        wire.HEADER_NONCE,
        wire.HEADER_SIGNATURE,
    ],
)
def test_missing_header_is_refused(
    header: str, channel: grpc.Channel, valid: SignedRequest
) -> None:
    metadata = [item for item in valid.metadata() if item[0] != header]
    assert_refused_identically(call_raw(channel, valid.method, valid.body, metadata))


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (wire.HEADER_CREATED, "-5"),
        (wire.HEADER_CREATED, "12e3"),
        (wire.HEADER_NONCE, "short"),
        (wire.HEADER_NONCE, "AAAAAAAAAAAAAAAAAAAAA/"),
        (wire.HEADER_IDEMPOTENCY_KEY, "NOT-A-UUID"),
        (wire.HEADER_SIGNATURE, b"\x00" * 63),
    ],
)
def test_malformed_header_is_refused(
    header: str, value: str | bytes, channel: grpc.Channel, valid: SignedRequest
) -> None:
    metadata = [item for item in valid.metadata() if item[0] != header] + [(header, value)]
    assert_refused_identically(call_raw(channel, valid.method, valid.body, metadata))


def test_state_changing_call_without_idempotency_key_says_so(
    coalition: TestCoalition, channel: grpc.Channel
) -> None:
    body = partner_pb2.RevokeKeyRequest(key_id=coalition.keys["skyway"].key_id).SerializeToString()
    request = SignedRequest(REVOKE_KEY, body, "skyway", coalition.keys["skyway"], AUDIENCE)
    before = table_snapshot(coalition.hub.engine, exclude=REPLAY_BOOKKEEPING)
    outcome = send(channel, request)
    assert outcome.code is grpc.StatusCode.INVALID_ARGUMENT
    assert outcome.reason == "IDEMPOTENCY_KEY_MISSING"
    assert "cx-idempotency-key" in outcome.message
    assert table_snapshot(coalition.hub.engine, exclude=REPLAY_BOOKKEEPING) == before
    # The nonce is spent: the same signed bytes cannot be replayed.
    assert send(channel, request).reason == "UNAUTHENTICATED"


def test_a_forged_call_without_idempotency_key_learns_nothing(
    coalition: TestCoalition, channel: grpc.Channel
) -> None:
    body = partner_pb2.RevokeKeyRequest(key_id=coalition.keys["skyway"].key_id).SerializeToString()
    request = SignedRequest(REVOKE_KEY, body, "skyway", coalition.keys["orbit"], AUDIENCE)
    before = table_snapshot(coalition.hub.engine)
    assert_refused_identically(send(channel, request))
    assert table_snapshot(coalition.hub.engine) == before


def test_an_unparseable_signed_body_is_invalid_argument(
    coalition: TestCoalition, channel: grpc.Channel, valid: SignedRequest
) -> None:
    before = table_snapshot(coalition.hub.engine, exclude=REPLAY_BOOKKEEPING)
    outcome = send(channel, valid.with_changes(body=b"\xff\xff\xff"))
    assert outcome.code is grpc.StatusCode.INVALID_ARGUMENT
    assert table_snapshot(coalition.hub.engine, exclude=REPLAY_BOOKKEEPING) == before


def test_a_refused_request_cannot_be_replayed_once_it_would_succeed(
    coalition: TestCoalition, channel: grpc.Channel
) -> None:
    """Revoking the only key is refused; replaying the same bytes after a rotation is too."""
    skyway = coalition.keys["skyway"]
    body = partner_pb2.RevokeKeyRequest(key_id=skyway.key_id).SerializeToString()
    revoke = SignedRequest(
        REVOKE_KEY, body, "skyway", skyway, AUDIENCE, idempotency_key=new_idempotency_key()
    )
    assert send(channel, revoke).reason == "LAST_ACTIVE_KEY"
    PartnerClient(coalition.connection("skyway")).register_key(SigningKey.generate())

    assert_refused_identically(send(channel, revoke))
    keys = PartnerClient(coalition.connection("skyway")).get_partner("skyway").active_keys
    assert skyway.key_id in {key.key_id for key in keys}


def test_idempotency_key_is_covered_by_the_signature(
    coalition: TestCoalition, channel: grpc.Channel
) -> None:
    new_key = SigningKey.generate()
    body = partner_pb2.RegisterKeyRequest(
        public_key=new_key.public_key_bytes,
        proof_of_possession=new_key.sign(
            wire.key_registration_bytes(partner_id="skyway", public_key=new_key.public_key_bytes)
        ),
    ).SerializeToString()
    request = SignedRequest(
        "/coalition.v1.PartnerService/RegisterKey",
        body,
        "skyway",
        coalition.keys["skyway"],
        AUDIENCE,
        idempotency_key=new_idempotency_key(),
    )
    metadata = [
        (k, new_idempotency_key() if k == wire.HEADER_IDEMPOTENCY_KEY else v)
        for k, v in request.metadata()
    ]
    assert_refused_identically(call_raw(channel, request.method, body, metadata))
