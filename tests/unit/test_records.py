"""The canonical bytes of a settled transfer record (coalition/records.py)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coalition import merkle, records

EXAMPLE_FIELDS: dict[str, Any] = {
    "transfer_id": "tr_5f0c2a9e81d34b7766a1c0e3",
    "kind": "transfer",
    "source_partner_id": "skyway",
    "destination_partner_id": "harbor",
    "source_points": 12000,
    "destination_points": 3000,
    "currency": "EUR",
    "amount_minor": 4500,
    "fee_minor": 11,
    "business_day": datetime.date(2026, 11, 23),
    "completed_at_us": 1795444215123456,  # 2026-11-23T14:30:15.123456Z
}
EXAMPLE_BYTES = (
    b"cx-transfer-record-v1|tr_5f0c2a9e81d34b7766a1c0e3|transfer|skyway|harbor"
    b"|12000|3000|EUR|4500|11|2026-11-23|1795444215123456"
)
# Computed outside Python: { printf '\x00'; printf '%s' "<record>"; } | sha256sum
EXAMPLE_LEAF_HASH_HEX = "c634fbaff9f4e0651bac6212918398e59aee11959c1fcd6e39d82a5bb1a5d480"
EXAMPLE_DECODED = {**EXAMPLE_FIELDS, "business_day": "2026-11-23"}

TEXT_FIELDS = ["transfer_id", "source_partner_id", "destination_partner_id"]
INTEGER_FIELDS = [
    "source_points",
    "destination_points",
    "amount_minor",
    "fee_minor",
    "completed_at_us",
]
# Position of each field in the "|"-separated record; 0 is the version.
FIELD_POSITION = {name: position for position, name in enumerate(records.FIELD_NAMES, start=1)}

visible_text = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="|"),
    min_size=1,
    max_size=records.TEXT_FIELD_CHARS_MAX,
)
integers = st.integers(0, records.INTEGER_MAX)
record_fields = st.fixed_dictionaries(
    {
        "transfer_id": visible_text,
        "kind": st.sampled_from(records.RECORD_KINDS),
        "source_partner_id": visible_text,
        "destination_partner_id": visible_text,
        "source_points": integers,
        "destination_points": integers,
        "currency": st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3),
        "amount_minor": integers,
        "fee_minor": integers,
        "business_day": st.dates(),
        "completed_at_us": integers,
    }
)


def with_field(position: int, value: bytes) -> bytes:
    parts = EXAMPLE_BYTES.split(b"|")
    parts[position] = value
    return b"|".join(parts)


def test_the_example_encodes_to_the_documented_bytes_and_leaf_hash() -> None:
    encoded = records.encode_record(**EXAMPLE_FIELDS)
    assert encoded == EXAMPLE_BYTES
    assert merkle.leaf_hash(encoded).hex() == EXAMPLE_LEAF_HASH_HEX


def test_the_example_decodes_to_its_fields() -> None:
    assert records.decode_record(EXAMPLE_BYTES) == EXAMPLE_DECODED


def test_a_business_day_given_as_text_encodes_the_same() -> None:
    assert records.encode_record(**EXAMPLE_DECODED) == EXAMPLE_BYTES


def test_zero_encodes_as_a_single_digit() -> None:
    encoded = records.encode_record(**{**EXAMPLE_FIELDS, "fee_minor": 0})
    assert encoded.split(b"|")[FIELD_POSITION["fee_minor"]] == b"0"


@given(record_fields)
def test_every_valid_record_round_trips(fields: dict[str, Any]) -> None:
    encoded = records.encode_record(**fields)
    encoded.decode("ascii")
    assert encoded.count(b"|") == len(records.FIELD_NAMES)
    decoded = records.decode_record(encoded)
    assert decoded == {**fields, "business_day": fields["business_day"].isoformat()}
    assert records.encode_record(**decoded) == encoded


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize(
    "value",
    [
        "",
        "a|b",
        "|",
        "has space",
        " leading",
        "tab\t",
        "line\n",
        "nul\x00",
        "del\x7f",
        "café",
        "\uff53\uff4b\uff59\uff57\uff41\uff59",  # fullwidth "skyway"
        "x" * (records.TEXT_FIELD_CHARS_MAX + 1),
        None,
        7,
        b"skyway",
    ],
    ids=repr,
)
def test_text_fields_refuse_what_cannot_be_encoded_canonically(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        records.encode_record(**{**EXAMPLE_FIELDS, field: value})


@pytest.mark.parametrize("field", INTEGER_FIELDS)
@pytest.mark.parametrize(
    "value", [-1, -(2**63), records.INTEGER_MAX + 1, True, False, 1.0, "12", None], ids=repr
)
def test_integer_fields_refuse_negatives_overflow_and_non_integers(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        records.encode_record(**{**EXAMPLE_FIELDS, field: value})


@pytest.mark.parametrize("value", ["Transfer", "refund", "", "transfer ", None])
def test_an_unknown_kind_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="kind"):
        records.encode_record(**{**EXAMPLE_FIELDS, "kind": value})


@pytest.mark.parametrize("value", ["eur", "EU", "EURO", "E|R", "€UR", "", None])
def test_a_malformed_currency_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="currency"):
        records.encode_record(**{**EXAMPLE_FIELDS, "currency": value})


@pytest.mark.parametrize(
    "value",
    [
        "2026-02-30",
        "2026-13-01",
        "20261123",
        "2026-W48-1",
        "2026-11-23T00:00:00",
        "2026-1-23",
        " 2026-11-23",
        "\uff12\uff10\uff12\uff16-11-23",  # fullwidth digits
        datetime.datetime(2026, 11, 23, tzinfo=datetime.UTC),
        20261123,
        None,
    ],
    ids=repr,
)
def test_a_malformed_business_day_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="business_day"):
        records.encode_record(**{**EXAMPLE_FIELDS, "business_day": value})


NON_CANONICAL_RECORDS = {
    "empty": b"",
    "version only": b"cx-transfer-record-v1",
    "other version": EXAMPLE_BYTES.replace(b"-v1|", b"-v2|", 1),
    "trailing separator": EXAMPLE_BYTES + b"|",
    "leading separator": b"|" + EXAMPLE_BYTES,
    "trailing newline": EXAMPLE_BYTES + b"\n",
    "missing field": EXAMPLE_BYTES.rsplit(b"|", 1)[0],
    "extra field": EXAMPLE_BYTES + b"|0",
    "leading zero": with_field(FIELD_POSITION["source_points"], b"012000"),
    "zero padded zero": with_field(FIELD_POSITION["fee_minor"], b"00"),
    "plus sign": with_field(FIELD_POSITION["amount_minor"], b"+4500"),
    "minus sign": with_field(FIELD_POSITION["amount_minor"], b"-4500"),
    "negative zero": with_field(FIELD_POSITION["fee_minor"], b"-0"),
    "digit separator": with_field(FIELD_POSITION["source_points"], b"12_000"),
    "space in integer": with_field(FIELD_POSITION["source_points"], b" 12000"),
    "empty integer": with_field(FIELD_POSITION["fee_minor"], b""),
    "overflow": with_field(FIELD_POSITION["completed_at_us"], b"9223372036854775808"),
    "huge integer": with_field(FIELD_POSITION["completed_at_us"], b"9" * 1000),
    "arabic-indic digits": with_field(FIELD_POSITION["fee_minor"], "\u0661\u0661".encode()),
    "lowercase currency": with_field(FIELD_POSITION["currency"], b"eur"),
    "unknown kind": with_field(FIELD_POSITION["kind"], b"refund"),
    "compact date": with_field(FIELD_POSITION["business_day"], b"20261123"),
    "impossible date": with_field(FIELD_POSITION["business_day"], b"2026-02-30"),
    "empty text": with_field(FIELD_POSITION["transfer_id"], b""),
    "space in text": with_field(FIELD_POSITION["source_partner_id"], b"sky way"),
    "non-ascii text": with_field(FIELD_POSITION["source_partner_id"], "skÿway".encode()),
    "latin-1 byte": with_field(FIELD_POSITION["source_partner_id"], b"sk\xffway"),
    "control character": with_field(FIELD_POSITION["transfer_id"], b"tr_\x01"),
    "too long": with_field(FIELD_POSITION["transfer_id"], b"t" * 5000),
}


@pytest.mark.parametrize("data", NON_CANONICAL_RECORDS.values(), ids=NON_CANONICAL_RECORDS.keys())
def test_non_canonical_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        records.decode_record(data)


@pytest.mark.parametrize("data", [EXAMPLE_BYTES.decode(), bytearray(EXAMPLE_BYTES), None])
def test_decode_takes_bytes_only(data: Any) -> None:
    with pytest.raises(ValueError):
        records.decode_record(data)


def test_the_documented_three_record_day_gives_the_documented_root_and_path() -> None:
    later = {
        **EXAMPLE_FIELDS,
        "transfer_id": "tr_0b9d47c2e6a1f3580c7e2d14",
        "source_partner_id": "harbor",
        "destination_partner_id": "orbit",
        "source_points": 800,
        "destination_points": 1600,
        "amount_minor": 1200,
        "fee_minor": 3,
        "completed_at_us": 1795447815000000,
    }
    reversal = {
        **later,
        "transfer_id": "tr_9e41c07ab25d68f31c0d4e7b",
        "kind": "reversal",
        "fee_minor": 0,
        "completed_at_us": 1795451415000000,
    }
    leaf_hashes = [
        merkle.leaf_hash(records.encode_record(**fields))
        for fields in (EXAMPLE_FIELDS, later, reversal)
    ]
    # The values docs/settlement-records.md shows, cross-checked there with sha256sum.
    assert [leaf.hex() for leaf in leaf_hashes] == [
        EXAMPLE_LEAF_HASH_HEX,
        "c24a9896748e71b21d7352a48b8f93897c1051b4ffcce3e4263ea7acf7c2643d",
        "f6f085d8209fbd7c7659973369b1202d5faf893e84d58ad1ff3efb69170df0cd",
    ]
    day_root = merkle.root(leaf_hashes)
    assert day_root.hex() == "5cb8bff0704bd269d62f59929335e1b03544f60bcd165f94a5915a6969604bfa"
    assert merkle.inclusion_proof(leaf_hashes, 0) == leaf_hashes[1:]
    assert merkle.verify_inclusion(leaf_hashes[0], 0, 3, leaf_hashes[1:], day_root)
