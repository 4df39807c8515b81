"""Ed25519 keys: the small-order keys, random bytes and flipped bits never verify."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from coalition.keys import verify_signature
from tests.reliability.conftest import ReliabilityTally
from tests.reliability.fuzz_authentication.support import PARTNER_KEY, UNIT, UNIT_EXAMPLES

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
