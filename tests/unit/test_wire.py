"""The signing rules both hub and SDK build their signed bytes from (coalition/wire.py)."""

from __future__ import annotations

import base64
import hashlib
import re
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coalition import wire
from coalition.keys import SigningKey
from exchange.domain import limits

# SHA-256 test vectors, written out so the test does not recompute them the way wire.py does.
EMPTY_BODY_SHA256_HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
BRACES_BODY_SHA256_HEX = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
ZERO_KEY_ID = "ed25519:66687aadf862bd77"  # sha256(32 zero bytes), first 16 hex digits

# In index order: a character's index is the 6 bits it encodes.
BASE64URL_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
# 16 bytes are 128 bits; 22 characters carry 132, so the last one has 4 unused low bits.
UNUSED_BITS_MASK = 0b001111

SIGNED_FIELDS = {
    "method": "/coalition.v1.PartnerService/RevokeKey",
    "audience": "coalition-test",
    "partner_id": "skyway",
    "key_id": "ed25519:0123456789abcdef",
    "nonce": "AAAAAAAAAAAAAAAAAAAAAA",
    "idempotency_key": "0f8fad5b-d9cb-469f-a165-70867728950e",
}
SIGNED_TEXT_FIELDS = list(SIGNED_FIELDS)
# Line 0 is the context and line 5 the creation time; the body hash is last.
LINE_OF_FIELD = {
    "method": 1,
    "audience": 2,
    "partner_id": 3,
    "key_id": 4,
    "nonce": 6,
    "idempotency_key": 7,
}

signed_field_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E))
forbidden_char = st.one_of(
    st.sampled_from(" \n\r\t\x00\x7f"),
    st.characters().filter(lambda char: not 0x21 <= ord(char) <= 0x7E),
)


def signing_bytes(body: bytes = b"{}", created_s: int = 1_700_000_000, **fields: str) -> bytes:
    return wire.request_signing_bytes(**{**SIGNED_FIELDS, **fields}, created_s=created_s, body=body)


def signing_bytes_with(field: str, value: str) -> bytes:
    """The request's signed bytes with one text field replaced."""
    return signing_bytes(b"{}", 1_700_000_000, **{field: value})


def test_request_signing_bytes_are_nine_fixed_lines() -> None:
    expected = "\n".join(
        [
            "cx-request-v1",
            "/coalition.v1.PartnerService/RevokeKey",
            "coalition-test",
            "skyway",
            "ed25519:0123456789abcdef",
            "1700000000",
            "AAAAAAAAAAAAAAAAAAAAAA",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            BRACES_BODY_SHA256_HEX,
        ]
    ).encode("ascii")

    assert signing_bytes(body=b"{}") == expected


def test_request_signing_bytes_keep_an_empty_line_for_a_missing_idempotency_key() -> None:
    signed = signing_bytes(body=b"", idempotency_key="")

    lines = signed.split(b"\n")
    assert len(lines) == 9
    assert lines[7] == b""
    assert lines[8] == EMPTY_BODY_SHA256_HEX.encode()
    assert not signed.endswith(b"\n")


@given(body=st.binary(max_size=256))
def test_the_body_is_signed_as_its_lower_case_sha256_hex(body: bytes) -> None:
    last_line = signing_bytes(body=body).split(b"\n")[-1].decode()
    assert re.fullmatch(r"[0-9a-f]{64}", last_line)
    assert bytes.fromhex(last_line) == hashlib.sha256(body).digest()


@given(field=st.sampled_from(SIGNED_TEXT_FIELDS), value=signed_field_text)
def test_any_printable_ascii_field_stays_on_its_own_line(field: str, value: str) -> None:
    lines = signing_bytes_with(field, value).split(b"\n")
    assert len(lines) == 9
    assert lines[LINE_OF_FIELD[field]] == value.encode("ascii")


@pytest.mark.parametrize("field", SIGNED_TEXT_FIELDS)
@pytest.mark.parametrize("value", ["é", "a\nb", "a b", "tab\there", "trailing\n", "\x7f", "\x00"])
def test_a_signed_field_outside_printable_ascii_is_refused(field: str, value: str) -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        signing_bytes_with(field, value)


@given(
    field=st.sampled_from(SIGNED_TEXT_FIELDS),
    prefix=signed_field_text,
    bad=forbidden_char,
    suffix=signed_field_text,
)
def test_any_character_outside_printable_ascii_is_refused(
    field: str, prefix: str, bad: str, suffix: str
) -> None:
    with pytest.raises(ValueError):
        signing_bytes_with(field, prefix + bad + suffix)


@pytest.mark.parametrize(
    ("build", "arguments"),
    [
        (
            wire.response_signing_bytes,
            {"method": "/m", "audience": "a b", "nonce": "n", "body": b""},
        ),
        (wire.payload_signing_bytes, {"kind": "tier\ngranted", "payload": b""}),
        (wire.key_registration_bytes, {"partner_id": "skyway\n", "public_key": bytes(32)}),
    ],
    ids=["response", "payload", "key-registration"],
)
def test_every_signed_message_refuses_a_field_that_could_forge_a_line(
    build: Any, arguments: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        build(**arguments)


# Nonces


def test_new_nonce_is_22_base64url_characters_of_16_random_bytes() -> None:
    nonce = wire.new_nonce()

    assert len(nonce) == wire.NONCE_CHARS == 22
    assert set(nonce) <= set(BASE64URL_ALPHABET)
    assert len(base64.urlsafe_b64decode(nonce + "==")) == wire.NONCE_BYTES == 16
    assert wire.is_valid_nonce(nonce)
    assert wire.new_nonce() != nonce


@given(random_bytes=st.binary(min_size=16, max_size=16))
def test_any_16_bytes_make_a_valid_nonce_that_decodes_back(random_bytes: bytes) -> None:
    nonce = base64.urlsafe_b64encode(random_bytes).rstrip(b"=").decode()

    assert len(nonce) == 22
    assert wire.is_valid_nonce(nonce)
    assert base64.urlsafe_b64decode(nonce + "==") == random_bytes


@given(
    random_bytes=st.binary(min_size=16, max_size=16),
    unused_bits=st.integers(min_value=1, max_value=UNUSED_BITS_MASK),
)
def test_a_nonce_spelled_with_unused_bits_set_is_refused(
    random_bytes: bytes, unused_bits: int
) -> None:
    """Two spellings of one nonce would let a replay slip past the (partner, nonce) key."""
    canonical = base64.urlsafe_b64encode(random_bytes).rstrip(b"=").decode()
    last_index = BASE64URL_ALPHABET.index(canonical[-1])
    assert last_index & UNUSED_BITS_MASK == 0
    other_spelling = canonical[:-1] + BASE64URL_ALPHABET[last_index | unused_bits]
    # The same 16 bytes: a lenient decoder would take both spellings as one nonce.
    assert base64.urlsafe_b64decode(other_spelling + "==") == random_bytes

    assert not wire.is_valid_nonce(other_spelling)


@pytest.mark.parametrize(
    "nonce",
    [
        "A" * 21,
        "A" * 23,
        "",
        "A" * 21 + "+",
        "A" * 21 + "/",
        "A" * 20 + "A=",
        "A" * 20 + "==",
        "A" * 21 + " ",
        "A" * 21 + "\n",
        "A" * 21 + "é",
    ],
)
def test_is_valid_nonce_refuses_malformed_text(nonce: str) -> None:
    assert not wire.is_valid_nonce(nonce)


# Key ids


def test_key_id_is_the_prefix_and_16_hex_digits_of_the_keys_sha256() -> None:
    assert wire.key_id_for(bytes(32)) == ZERO_KEY_ID


@given(public_key=st.binary(min_size=32, max_size=32))
def test_key_ids_have_one_format_and_fit_the_stored_column(public_key: bytes) -> None:
    key_id = wire.key_id_for(public_key)

    assert re.fullmatch(r"ed25519:[0-9a-f]{16}", key_id)
    assert len(key_id) <= limits.KEY_ID_CHARS_MAX
    assert wire.key_id_for(public_key) == key_id


def test_a_signing_key_carries_the_id_of_its_public_key() -> None:
    key = SigningKey.generate()
    assert key.key_id == wire.key_id_for(key.public_key_bytes)
