"""The header parser, signature verification under every change to a signed request, the
freshness window and the nonce check."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coalition import wire
from exchange.api.authentication import (
    AuthenticationFailure,
    SignedHeaders,
    check_fresh,
    parse_signed_headers,
    verify_request,
)
from exchange.domain import limits
from exchange.domain.partners import KeyState, PartnerKey
from tests.reliability.conftest import ReliabilityTally
from tests.reliability.fuzz_authentication.support import (
    AUDIENCE,
    METHOD,
    NOW_S,
    OTHER_KEY,
    PARTNER_KEY,
    UNIT,
    UNIT_EXAMPLES,
    arbitrary_metadata,
    assert_well_formed,
    mutated_metadata,
    nonces,
    parse_or_refuse,
    partner_key,
    printable,
    uuids,
    valid_metadata,
)


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


Mutated = tuple[SignedHeaders, PartnerKey | None, str, str, bytes]


def mutated(
    headers: SignedHeaders,
    key: PartnerKey | None,
    body: bytes,
    mutation: str,
    data: st.DataObject,
) -> Mutated:
    """The signed request with one thing changed: (headers, key, method, audience, body)."""
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
    return headers, key, method, audience, body


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
    headers, key, method, audience, body = mutated(headers, key, body, mutation, data)
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
