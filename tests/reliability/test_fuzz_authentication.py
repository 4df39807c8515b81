"""Hostile input at the door, without a server (issue 7 item 4): the signed-header parser, the
freshness check, the request verifier, the message parser and the Ed25519 check.

Whatever they are given, they answer or refuse with their documented exception
(AuthenticationFailure; a DomainError for a body that is no message); anything else would
reach the pipeline's catch-all and come back as INTERNAL.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from coalition import wire
from coalition.keys import SigningKey, verify_signature
from exchange.api.authentication import (
    AuthenticationFailure,
    SignedHeaders,
    check_fresh,
    has_unknown_fields,
    parse_signed_headers,
    verify_request,
)
from exchange.api.pipeline import _parse
from exchange.domain import limits
from exchange.domain.errors import DomainError, ErrorCode
from exchange.domain.partners import KeyState, PartnerKey
from tests.reliability.conftest import ReliabilityTally
from tests.reliability.fuzz_support import (
    EVERY_RPC,
    INVALID_UTF8,
    MALFORMED,
    Rpc,
    embedded,
    string_field_paths,
)

# Cheap cases, so many of them: the whole module runs in well under a minute.
UNIT_EXAMPLES = 1000
PER_TYPE_EXAMPLES = 60
UNIT = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

PARTNER_KEY = SigningKey.generate()
OTHER_KEY = SigningKey.generate()
METHOD = "/coalition.v1.PartnerService/GetPartner"
AUDIENCE = "coalition-test"
NOW_S = 1_800_000_000
HEADER_NAMES = (*wire.REQUEST_HEADERS_REQUIRED, wire.HEADER_IDEMPOTENCY_KEY)

printable = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)
nonces = st.binary(min_size=16, max_size=16).map(
    lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
)
uuids = st.uuids().map(str)


def partner_key(key: SigningKey = PARTNER_KEY, **changes: object) -> PartnerKey:
    fields: dict[str, object] = {
        "key_id": key.key_id,
        "partner_id": "skyway",
        "public_key": key.public_key_bytes,
        "state": KeyState.ACTIVE,
        "created_at_us": 0,
    }
    fields.update(changes)
    return PartnerKey(**fields)  # type: ignore[arg-type]


@st.composite
def valid_metadata(draw: st.DrawFn) -> tuple[list[tuple[str, str | bytes]], bytes]:
    """Well-formed headers for a random body, signed by PARTNER_KEY; and the body."""
    body = draw(st.binary(max_size=64))
    created_s = draw(st.integers(NOW_S - 300, NOW_S + 60))
    nonce, idempotency_key = draw(nonces), draw(st.one_of(st.just(""), uuids))
    signed = wire.request_signing_bytes(
        method=METHOD,
        audience=AUDIENCE,
        partner_id="skyway",
        key_id=PARTNER_KEY.key_id,
        created_s=created_s,
        nonce=nonce,
        idempotency_key=idempotency_key,
        body=body,
    )
    metadata: list[tuple[str, str | bytes]] = [
        (wire.HEADER_PARTNER, "skyway"),
        (wire.HEADER_KEY_ID, PARTNER_KEY.key_id),
        (wire.HEADER_CREATED, str(created_s)),
        (wire.HEADER_NONCE, nonce),
        (wire.HEADER_SIGNATURE, PARTNER_KEY.sign(signed)),
    ]
    if idempotency_key:
        metadata.append((wire.HEADER_IDEMPOTENCY_KEY, idempotency_key))
    return draw(st.permutations(metadata)), body


header_values = st.one_of(
    printable,
    st.text(max_size=40),
    st.binary(max_size=80),
    st.sampled_from(["", " ", "0", "-1", "1e9", "\u0661\u0662", "9" * 13, "A" * 22, "A" * 10_000]),
    st.binary(min_size=64, max_size=64),
)
header_names = st.one_of(
    st.sampled_from(HEADER_NAMES),
    st.sampled_from(["CX-PARTNER", "cx-partner-bin", "cx-", "cx-signature", "x-other"]),
    st.text(max_size=20),
)


@st.composite
def mutated_metadata(draw: st.DrawFn) -> list[tuple[str, str | bytes]]:
    """Valid headers with some dropped, duplicated, replaced or added."""
    metadata, _ = draw(valid_metadata())
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, max(0, len(metadata) - 1)))
        action = draw(st.sampled_from(["drop", "duplicate", "replace", "add"]))
        if action == "drop" and metadata:
            metadata.pop(index)
        elif action == "duplicate" and metadata:
            metadata.append(metadata[index])
        elif action == "replace" and metadata:
            metadata[index] = (metadata[index][0], draw(header_values))
        else:
            metadata.insert(index, (draw(header_names), draw(header_values)))
    return metadata


arbitrary_metadata = st.lists(st.tuples(header_names, header_values), max_size=12)


def parse_or_refuse(metadata: list[tuple[str, str | bytes]]) -> SignedHeaders | None:
    try:
        return parse_signed_headers(metadata)
    except AuthenticationFailure:
        return None


def assert_well_formed(headers: SignedHeaders) -> None:
    """What the parser promises the rest of the pipeline about headers it lets through."""
    for value in (headers.partner_id, headers.key_id, headers.nonce, headers.idempotency_key):
        assert wire.SIGNED_FIELD_PATTERN.fullmatch(value)
    assert wire.is_valid_nonce(headers.nonce)
    assert 0 <= headers.created_s < 10**12
    assert headers.idempotency_key == "" or wire.IDEMPOTENCY_KEY_PATTERN.fullmatch(
        headers.idempotency_key
    )
    assert len(headers.signature) == wire.SIGNATURE_BYTES


@settings(UNIT, max_examples=UNIT_EXAMPLES)
@given(metadata=st.one_of(arbitrary_metadata, mutated_metadata()))
def test_the_header_parser_only_ever_refuses_with_authentication_failure(
    metadata: list[tuple[str, str | bytes]],
    reliability_tally: ReliabilityTally,
) -> None:
    """Arbitrary keys and values, text or bytes, duplicates, 10,000-character values.

    A missing idempotency key is not the parser's to refuse: the pipeline answers it with
    IDEMPOTENCY_KEY_MISSING once the signature has verified."""
    reliability_tally.add("fuzz cases run", 1)
    headers = parse_or_refuse(metadata)
    if headers is not None:
        assert_well_formed(headers)


# Values of the right shape for each header: they parse, and only the signed ones verify.
SHAPED_VALUES: dict[str, st.SearchStrategy[str | bytes]] = {
    wire.HEADER_PARTNER: st.one_of(st.sampled_from(["skyway", "harbor"]), printable),
    wire.HEADER_KEY_ID: st.one_of(st.just(OTHER_KEY.key_id), printable),
    wire.HEADER_CREATED: st.integers(0, 10**12 - 1).map(str),
    wire.HEADER_NONCE: nonces,
    wire.HEADER_SIGNATURE: st.binary(min_size=64, max_size=64),
    wire.HEADER_IDEMPOTENCY_KEY: uuids,
}


@settings(UNIT, max_examples=UNIT_EXAMPLES)
@given(signed=valid_metadata(), data=st.data())
def test_parsed_headers_verify_only_as_signed(
    signed: tuple[list[tuple[str, str | bytes]], bytes],
    data: st.DataObject,
    reliability_tally: ReliabilityTally,
) -> None:
    """Headers of the right shape with any values: the parser lets them through, and the
    verifier passes exactly the combination that was signed, refusing all others cleanly."""
    reliability_tally.add("fuzz cases run", 1)
    metadata, body = signed
    original = dict(metadata)
    changed = [
        (name, data.draw(st.one_of(st.just(value), SHAPED_VALUES[name]), label=name))
        for name, value in metadata
    ]
    headers = parse_signed_headers(changed)
    try:
        check_fresh(headers, NOW_S)
        verify_request(headers, partner_key(), method=METHOD, audience=AUDIENCE, body=body)
    except AuthenticationFailure:
        assert dict(changed) != original
    else:
        assert dict(changed) == original


MUTATIONS = (
    "signature bit",
    "signature bytes",
    "body",
    "method",
    "audience",
    "created",
    "nonce",
    "idempotency key",
    "partner",
    "other partner's key",
    "revoked key",
    "unknown key",
    "key of another length",
)


@settings(UNIT, max_examples=UNIT_EXAMPLES)
@given(
    signed=valid_metadata(),
    mutation=st.sampled_from(MUTATIONS),
    data=st.data(),
)
def test_every_change_to_a_signed_request_is_refused(
    signed: tuple[list[tuple[str, str | bytes]], bytes],
    mutation: str,
    data: st.DataObject,
    reliability_tally: ReliabilityTally,
) -> None:
    reliability_tally.add("fuzz cases run", 1)
    metadata, body = signed
    headers = parse_signed_headers(metadata)
    key: PartnerKey | None = partner_key()
    verify_request(headers, key, method=METHOD, audience=AUDIENCE, body=body)  # untouched: passes
    method, audience = METHOD, AUDIENCE
    if mutation == "signature bit":
        bit = data.draw(st.integers(0, wire.SIGNATURE_BYTES * 8 - 1))
        flipped = bytearray(headers.signature)
        flipped[bit // 8] ^= 1 << bit % 8
        headers = _replace(headers, signature=bytes(flipped))
    elif mutation == "signature bytes":
        other = data.draw(
            st.binary(min_size=64, max_size=64).filter(lambda b: b != headers.signature)
        )
        headers = _replace(headers, signature=other)
    elif mutation == "body":
        body = data.draw(st.binary(max_size=64).filter(lambda other: other != body))
    elif mutation == "method":
        method = data.draw(printable.filter(lambda other: other != METHOD))
    elif mutation == "audience":
        audience = data.draw(printable.filter(lambda other: other != AUDIENCE))
    elif mutation == "created":
        created = data.draw(st.integers(0, 10**12 - 1).filter(lambda c: c != headers.created_s))
        headers = _replace(headers, created_s=created)
    elif mutation == "nonce":
        headers = _replace(headers, nonce=data.draw(nonces.filter(lambda n: n != headers.nonce)))
    elif mutation == "idempotency key":
        other_key = data.draw(
            st.one_of(st.just(""), uuids).filter(lambda k: k != headers.idempotency_key)
        )
        headers = _replace(headers, idempotency_key=other_key)
    elif mutation == "partner":
        headers = _replace(headers, partner_id=data.draw(st.sampled_from(["harbor", "orbit"])))
    elif mutation == "other partner's key":
        key = partner_key(partner_id="harbor")
    elif mutation == "revoked key":
        key = partner_key(state=KeyState.REVOKED)
    elif mutation == "unknown key":
        key = None
    else:
        length = data.draw(st.integers(0, 64).filter(lambda n: n != wire.PUBLIC_KEY_BYTES))
        key = partner_key(public_key=data.draw(st.binary(min_size=length, max_size=length)))
    with pytest.raises(AuthenticationFailure):
        verify_request(headers, key, method=method, audience=audience, body=body)


def _replace(headers: SignedHeaders, **changes: object) -> SignedHeaders:
    fields = {
        "partner_id": headers.partner_id,
        "key_id": headers.key_id,
        "created_s": headers.created_s,
        "nonce": headers.nonce,
        "idempotency_key": headers.idempotency_key,
        "signature": headers.signature,
    }
    fields.update(changes)
    return SignedHeaders(**fields)  # type: ignore[arg-type]


@settings(UNIT, max_examples=UNIT_EXAMPLES)
@given(created_s=st.integers(0, 10**12 - 1), now_s=st.integers(0, 10**12))
def test_freshness_is_exactly_the_signature_window(
    created_s: int, now_s: int, reliability_tally: ReliabilityTally
) -> None:
    reliability_tally.add("fuzz cases run", 1)
    headers = SignedHeaders("skyway", PARTNER_KEY.key_id, created_s, "A" * 22, "", b"\x00" * 64)
    fresh = now_s - limits.SIGNATURE_AGE_S_MAX <= created_s <= now_s + limits.SIGNATURE_AHEAD_S_MAX
    try:
        check_fresh(headers, now_s)
    except AuthenticationFailure:
        assert not fresh
    else:
        assert fresh


# Ed25519 over GF(2^255 - 19): the points of order dividing 8 have these y (RFC 8032 5.1).
FIELD_PRIME = 2**255 - 19
CURVE_D = -121665 * pow(121666, -1, FIELD_PRIME) % FIELD_PRIME


def _square_root(value: int) -> int | None:
    value %= FIELD_PRIME
    root = pow(value, (FIELD_PRIME + 3) // 8, FIELD_PRIME)
    if root * root % FIELD_PRIME != value:
        root = root * pow(2, (FIELD_PRIME - 1) // 4, FIELD_PRIME) % FIELD_PRIME
    return root if root * root % FIELD_PRIME == value else None


def small_order_encodings() -> frozenset[bytes]:
    """Every 32-byte encoding of a point of order 1, 2, 4 or 8: keys no one holds a secret
    for. Order 4 has y = 0; order 8 has y^2 = (-1 +- sqrt(1 + d)) / d, where it has a root."""
    ys = {0, 1, FIELD_PRIME - 1}
    root = _square_root(1 + CURVE_D)
    assert root is not None
    for sign in (1, -1):
        y = _square_root((sign * root - 1) * pow(CURVE_D, -1, FIELD_PRIME))
        if y is not None:
            ys |= {y, FIELD_PRIME - y}
    encodings = set()
    for y in ys:
        for value in (y, y + FIELD_PRIME) if y + FIELD_PRIME < 2**255 else (y,):
            for x_sign in (0, 1):
                encodings.add((value | x_sign << 255).to_bytes(32, "little"))
    return frozenset(encodings)


SMALL_ORDER_KEYS = small_order_encodings()
IDENTITY_POINT = (1).to_bytes(32, "little")


def test_the_small_order_keys_are_the_known_ones() -> None:
    """The list libsodium refuses: 0 and 1 (orders 4 and 1), p - 1 (order 2), and two of
    order 8, besides sign-bit and non-canonical spellings."""
    assert IDENTITY_POINT in SMALL_ORDER_KEYS
    assert bytes(32) in SMALL_ORDER_KEYS
    assert (
        bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
        in SMALL_ORDER_KEYS
    )
    assert len(SMALL_ORDER_KEYS) == 14


@settings(UNIT, max_examples=UNIT_EXAMPLES)
@given(
    public_key=st.one_of(st.binary(max_size=40), st.binary(min_size=32, max_size=32)),
    signature=st.one_of(st.binary(max_size=80), st.binary(min_size=64, max_size=64)),
    message=st.binary(max_size=200),
)
def test_random_bytes_never_verify_and_never_raise(
    public_key: bytes, signature: bytes, message: bytes, reliability_tally: ReliabilityTally
) -> None:
    """Keys of small order have their own case below: they once verified forged signatures."""
    assume(public_key not in SMALL_ORDER_KEYS)
    reliability_tally.add("fuzz cases run", 1)
    assert verify_signature(public_key, signature, message) is False


@pytest.mark.parametrize("key", sorted(SMALL_ORDER_KEYS), ids=lambda key: key.hex()[:8])
def test_no_signature_verifies_under_a_small_order_key(key: bytes) -> None:
    forged = [point + bytes(32) for point in sorted(SMALL_ORDER_KEYS)]
    messages = [bytes([index]) for index in range(64)]  # each such key forges for over half
    assert not any(verify_signature(key, s, m) for s in forged for m in messages)


@settings(UNIT, max_examples=UNIT_EXAMPLES)
@given(
    message=st.binary(max_size=200),
    part=st.sampled_from(["key", "signature", "message"]),
    data=st.data(),
)
def test_one_flipped_bit_anywhere_fails_verification(
    message: bytes, part: str, data: st.DataObject, reliability_tally: ReliabilityTally
) -> None:
    reliability_tally.add("fuzz cases run", 1)
    parts = {
        "key": PARTNER_KEY.public_key_bytes,
        "signature": PARTNER_KEY.sign(message),
        "message": message,
    }
    assert verify_signature(parts["key"], parts["signature"], parts["message"])
    assume(parts[part])
    bit = data.draw(st.integers(0, len(parts[part]) * 8 - 1))
    flipped = bytearray(parts[part])
    flipped[bit // 8] ^= 1 << bit % 8
    parts[part] = bytes(flipped)
    assert verify_signature(parts["key"], parts["signature"], parts["message"]) is False


@settings(UNIT, max_examples=UNIT_EXAMPLES)
@given(text=st.one_of(st.text(max_size=30), printable, nonces))
def test_the_nonce_check_answers_for_any_text(
    text: str, reliability_tally: ReliabilityTally
) -> None:
    reliability_tally.add("fuzz cases run", 1)
    if wire.is_valid_nonce(text):
        raw = base64.urlsafe_b64decode(text + "==")
        assert len(raw) == wire.NONCE_BYTES
        assert base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == text


def parse_or_refusal(rpc: Rpc, body: bytes) -> str:
    """What the pipeline's parser makes of a body that passed authentication."""
    try:
        message = _parse(rpc.request_type, body)
    except DomainError as error:
        assert error.code is ErrorCode.INVALID_ARGUMENT
        return "invalid"
    except AuthenticationFailure:
        return "unknown fields"
    assert not has_unknown_fields(message)
    return "parsed"


@pytest.mark.parametrize("rpc", EVERY_RPC, ids=str)
@settings(UNIT, max_examples=PER_TYPE_EXAMPLES)
@given(body=st.one_of(st.binary(max_size=200), st.sampled_from(sorted(MALFORMED.values()))))
def test_the_message_parser_refuses_garbage_as_bad_input(
    rpc: Rpc, body: bytes, reliability_tally: ReliabilityTally
) -> None:
    reliability_tally.add("fuzz cases run", 1)
    parse_or_refusal(rpc, body)


@pytest.mark.parametrize(
    "rpc", [rpc for rpc in EVERY_RPC if string_field_paths(rpc.descriptor)], ids=str
)
def test_invalid_utf8_in_any_string_field_is_bad_input(
    rpc: Rpc, reliability_tally: ReliabilityTally
) -> None:
    """protobuf refuses such a string while parsing; the pipeline must call that bad input."""
    for path in string_field_paths(rpc.descriptor):
        for raw in INVALID_UTF8:
            reliability_tally.add("fuzz cases run", 1)
            assert parse_or_refusal(rpc, embedded(path, raw)) == "invalid", (path, raw)
