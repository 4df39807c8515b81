"""The canonical bytes of a settled transfer record: the leaf content of a day's Merkle tree.

Encoding, version ``cx-transfer-record-v1`` (an outside implementer needs nothing else):

The record is ASCII text: twelve fields joined by ``|`` (0x7C), with no separator before the
first or after the last field and no line terminator. In order:

====  ======================  =============================================================
  #   field                   value
====  ======================  =============================================================
  1   version                 the literal ``cx-transfer-record-v1``
  2   transfer_id             text
  3   kind                    ``transfer``, ``reversal`` or ``adjustment``
  4   source_partner_id       text
  5   destination_partner_id  text
  6   source_points           integer, points debited at the source partner
  7   destination_points      integer, points credited at the destination partner
  8   currency                ISO 4217 alphabetic code: three letters A-Z
  9   amount_minor            integer, settlement amount in minor units of ``currency``
 10   fee_minor               integer, the hub's fee in minor units of ``currency``
 11   business_day            ``YYYY-MM-DD``, a real Gregorian date (the day it completed in)
 12   completed_at_us         integer, microseconds since 1970-01-01T00:00:00Z
====  ======================  =============================================================

- text: 1 to 128 characters, each visible ASCII 0x21-0x7E other than ``|``; no spaces, so
  nothing in a record can be lost to whitespace trimming.
- integer: 0 to 2**63-1 in base 10 with ASCII digits, no sign, no leading zeros (zero is
  ``0``), no separators; every value fits a signed 64-bit column.

Exactly one byte string encodes a given record, so hub and partner hash the same leaf. The
decoder refuses every other byte string, including ones a lenient parser would accept.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Final

RECORD_VERSION: Final = "cx-transfer-record-v1"
# An adjustment is a dispute the counterparty accepted (DESIGN §3.8); it settles like a transfer.
RECORD_KINDS: Final = ("transfer", "reversal", "adjustment")
FIELD_SEPARATOR: Final = "|"
TEXT_FIELD_CHARS_MAX: Final = 128
INTEGER_MAX: Final = 2**63 - 1
# Twelve fields of at most 128 characters and their separators fit well within this.
RECORD_BYTES_MAX: Final = 2048

FIELD_NAMES: Final = (
    "transfer_id",
    "kind",
    "source_partner_id",
    "destination_partner_id",
    "source_points",
    "destination_points",
    "currency",
    "amount_minor",
    "fee_minor",
    "business_day",
    "completed_at_us",
)
_TEXT_FIELDS: Final = ("transfer_id", "source_partner_id", "destination_partner_id")
_INTEGER_FIELDS: Final = (
    "source_points",
    "destination_points",
    "amount_minor",
    "fee_minor",
    "completed_at_us",
)

# Character classes spelled out: Python's \d and str.isdigit() also match non-ASCII digits.
_TEXT_PATTERN = re.compile(rf"[\x21-\x7b\x7d\x7e]{{1,{TEXT_FIELD_CHARS_MAX}}}")
_INTEGER_PATTERN = re.compile(r"0|[1-9][0-9]{0,18}")
_CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")
_DAY_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not _TEXT_PATTERN.fullmatch(value):
        raise ValueError(
            f"{name} must be 1 to {TEXT_FIELD_CHARS_MAX} visible ASCII characters other than '|'"
        )
    return value


def _integer(name: str, value: object) -> str:
    # bool is an int subclass; True would silently encode as 1.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= INTEGER_MAX:
        raise ValueError(f"{name} must be an integer from 0 to {INTEGER_MAX}")
    return str(value)


def _business_day(value: object) -> str:
    if isinstance(value, datetime.datetime):
        # A datetime is a date subclass; its day depends on a time zone this module cannot know.
        raise ValueError("business_day must be a date, not a datetime")
    if isinstance(value, datetime.date):
        text = value.isoformat()
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError("business_day must be a date or a YYYY-MM-DD string")
    # fromisoformat alone would also take 20261123 and 2026-W48-1.
    if not _DAY_PATTERN.fullmatch(text):
        raise ValueError("business_day must be YYYY-MM-DD")
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"business_day {text} is not a calendar date") from None
    return text


def check_business_day(value: datetime.date | str) -> str:
    """The business day as a record spells it; ValueError where encode_record would refuse it."""
    return _business_day(value)


def encode_record(
    *,
    transfer_id: str,
    kind: str,
    source_partner_id: str,
    destination_partner_id: str,
    source_points: int,
    destination_points: int,
    currency: str,
    amount_minor: int,
    fee_minor: int,
    business_day: datetime.date | str,
    completed_at_us: int,
) -> bytes:
    """The canonical record bytes; ValueError if any field cannot be encoded canonically."""
    return _encode(
        {
            "transfer_id": transfer_id,
            "kind": kind,
            "source_partner_id": source_partner_id,
            "destination_partner_id": destination_partner_id,
            "source_points": source_points,
            "destination_points": destination_points,
            "currency": currency,
            "amount_minor": amount_minor,
            "fee_minor": fee_minor,
            "business_day": business_day,
            "completed_at_us": completed_at_us,
        }
    )


def _encode(values: Mapping[str, object]) -> bytes:
    # Typed as object: the decoder passes parsed text through the same checks.
    kind, currency = values["kind"], values["currency"]
    if not isinstance(kind, str) or kind not in RECORD_KINDS:
        raise ValueError(f"kind must be one of {', '.join(RECORD_KINDS)}")
    if not isinstance(currency, str) or not _CURRENCY_PATTERN.fullmatch(currency):
        raise ValueError("currency must be three letters A-Z")
    fields = [
        RECORD_VERSION,
        _text("transfer_id", values["transfer_id"]),
        kind,
        _text("source_partner_id", values["source_partner_id"]),
        _text("destination_partner_id", values["destination_partner_id"]),
        _integer("source_points", values["source_points"]),
        _integer("destination_points", values["destination_points"]),
        currency,
        _integer("amount_minor", values["amount_minor"]),
        _integer("fee_minor", values["fee_minor"]),
        _business_day(values["business_day"]),
        _integer("completed_at_us", values["completed_at_us"]),
    ]
    return FIELD_SEPARATOR.join(fields).encode("ascii")


def decode_record(data: bytes) -> dict[str, str | int]:
    """The fields of canonical record bytes (business_day as YYYY-MM-DD); ValueError otherwise."""
    if not isinstance(data, bytes) or len(data) > RECORD_BYTES_MAX:
        raise ValueError(f"a record is at most {RECORD_BYTES_MAX} bytes")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError("a record is ASCII") from None
    version, *values = text.split(FIELD_SEPARATOR)
    if version != RECORD_VERSION:
        raise ValueError(f"not a {RECORD_VERSION} record")
    if len(values) != len(FIELD_NAMES):
        raise ValueError(f"a record has {len(FIELD_NAMES)} fields after the version")
    fields: dict[str, str | int] = dict(zip(FIELD_NAMES, values, strict=True))
    for name in _INTEGER_FIELDS:
        digits = str(fields[name])
        if not _INTEGER_PATTERN.fullmatch(digits):
            raise ValueError(f"{name} is not a canonical integer")
        fields[name] = int(digits)
    # Re-encoding validates every other field with the encoder's own rules; requiring the same
    # bytes back means no second, lenient reading of a record can exist.
    if _encode(fields) != data:
        raise ValueError("record bytes are not canonical")
    return fields
