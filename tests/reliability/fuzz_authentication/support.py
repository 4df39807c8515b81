"""Signed request headers drawn by Hypothesis, valid and mutated, with the partner key that signs
them and the checks that a parse only ever refuses as an authentication failure."""

from __future__ import annotations

import base64

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from coalition import wire
from coalition.keys import SigningKey
from exchange.api.authentication import AuthenticationFailure, SignedHeaders, parse_signed_headers
from exchange.domain.partners import KeyState, PartnerKey

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
