"""The day's files: net positions and payment instructions as CSV, the whole run as JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from settlement.export_format import (
    check_business_day,
    check_same_day,
    check_unique_references,
    csv_bytes,
    currency_exponent,
    format_minor,
)
from settlement.model import NetPosition, PaymentInstruction

SETTLEMENT_JSON_FORMAT_VERSION = 1
# The day's Merkle root is a SHA-256 digest (coalition/merkle.py), printed in lowercase hex.
MERKLE_ROOT_HEX_PATTERN = re.compile(r"[0-9a-f]{64}")

# CSV header lines (plain names, so written as they are).
POSITIONS_HEADER = "business_day,currency,participant,receivable,payable,net"
INSTRUCTIONS_HEADER = "clearing_reference,business_day,currency,participant,direction,amount"


def positions_csv(
    business_day: str, positions: Sequence[NetPosition], minor_units: Mapping[str, int]
) -> bytes:
    """The day's net positions, one row per (currency, participant), sorted by both."""
    check_business_day(business_day)
    rows = []
    for position in _sorted_positions(positions):
        exponent = currency_exponent(minor_units, position.currency)
        rows.append(
            (
                business_day,
                position.currency,
                position.participant,
                format_minor(position.receivable_minor, exponent),
                format_minor(position.payable_minor, exponent),
                format_minor(position.net_minor, exponent),
            )
        )
    return csv_bytes(POSITIONS_HEADER, rows)


def instructions_csv(
    instructions: Sequence[PaymentInstruction], minor_units: Mapping[str, int]
) -> bytes:
    """Pay-ins and pay-outs, sorted by day, currency, participant, direction and reference."""
    rows = [
        (
            instruction.clearing_reference,
            instruction.business_day,
            instruction.currency,
            instruction.participant,
            instruction.direction.value,
            format_minor(
                instruction.amount_minor, currency_exponent(minor_units, instruction.currency)
            ),
        )
        for instruction in _sorted_instructions(instructions)
    ]
    return csv_bytes(INSTRUCTIONS_HEADER, rows)


def settlement_json(
    business_day: str,
    positions: Sequence[NetPosition],
    instructions: Sequence[PaymentInstruction],
    merkle_root_hex: str,
    tree_size: int,
    minor_units: Mapping[str, int],
) -> bytes:
    """The whole run as one JSON document; every amount as an exact decimal and in minor units."""
    check_business_day(business_day)
    if MERKLE_ROOT_HEX_PATTERN.fullmatch(merkle_root_hex) is None:
        raise ValueError("merkle_root_hex must be 64 lowercase hexadecimal digits")
    if tree_size < 0:
        raise ValueError(f"tree_size must not be negative, got {tree_size}")
    for instruction in instructions:
        check_same_day(instruction, business_day)
    currencies = {p.currency for p in positions} | {i.currency for i in instructions}
    document = {
        "format_version": SETTLEMENT_JSON_FORMAT_VERSION,
        "business_day": business_day,
        "merkle_root": merkle_root_hex,
        "tree_size": tree_size,
        "minor_units": {
            currency: currency_exponent(minor_units, currency) for currency in currencies
        },
        "positions": [_position_json(p, minor_units) for p in _sorted_positions(positions)],
        "instructions": [
            _instruction_json(i, minor_units) for i in _sorted_instructions(instructions)
        ],
    }
    text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    return text.encode("utf-8")


def _sorted_positions(positions: Sequence[NetPosition]) -> list[NetPosition]:
    """Positions ordered by (currency, participant), each checked to be self-consistent."""
    keys = {(position.currency, position.participant) for position in positions}
    if len(keys) != len(positions):
        raise ValueError("a participant has two positions in one currency")
    ordered = sorted(positions, key=lambda position: (position.currency, position.participant))
    for position in ordered:
        if position.receivable_minor - position.payable_minor != position.net_minor:
            raise ValueError(f"{position.currency} position of {position.participant} does not net")
    return ordered


def _sorted_instructions(instructions: Sequence[PaymentInstruction]) -> list[PaymentInstruction]:
    check_unique_references(instructions)
    return sorted(
        instructions,
        key=lambda i: (
            i.business_day,
            i.currency,
            i.participant,
            i.direction.value,
            i.clearing_reference,
        ),
    )


def _position_json(position: NetPosition, minor_units: Mapping[str, int]) -> dict[str, Any]:
    exponent = currency_exponent(minor_units, position.currency)
    return {
        "currency": position.currency,
        "participant": position.participant,
        "receivable": format_minor(position.receivable_minor, exponent),
        "receivable_minor": position.receivable_minor,
        "payable": format_minor(position.payable_minor, exponent),
        "payable_minor": position.payable_minor,
        "net": format_minor(position.net_minor, exponent),
        "net_minor": position.net_minor,
    }


def _instruction_json(
    instruction: PaymentInstruction, minor_units: Mapping[str, int]
) -> dict[str, Any]:
    exponent = currency_exponent(minor_units, instruction.currency)
    return {
        "clearing_reference": instruction.clearing_reference,
        "business_day": instruction.business_day,
        "currency": instruction.currency,
        "participant": instruction.participant,
        "direction": instruction.direction.value,
        "amount": format_minor(instruction.amount_minor, exponent),
        "amount_minor": instruction.amount_minor,
    }
