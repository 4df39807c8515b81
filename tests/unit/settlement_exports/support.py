"""The settlement day the export tests print: positions, instructions, records and accounts."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

from settlement.exports import PAIN_001_NAMESPACE, pain001
from settlement.model import BankAccount, Direction, NetPosition, PaymentInstruction, TransferRecord

DAY = "2026-11-23"
MINOR_UNITS = {"EUR": 2, "JPY": 0, "KWD": 3, "USD": 2}
ROOT_HEX = "ab" * 32
NS = {"p": PAIN_001_NAMESPACE}
T = TypeVar("T")

POSITIONS = [
    NetPosition("skyway", "USD", 12345, 2000, 10345),
    NetPosition("harbor", "USD", 2000, 12395, -10395),
    NetPosition("hub", "USD", 50, 0, 50),
    NetPosition("skyway", "JPY", 0, 1500, -1500),
    NetPosition("harbor", "JPY", 1500, 0, 1500),
    NetPosition("harbor", "KWD", 1005, 0, 1005),
    NetPosition("skyway", "KWD", 0, 1005, -1005),
]


def instruction(
    currency: str, participant: str, direction: Direction, amount: int
) -> PaymentInstruction:
    suffix = "IN" if direction is Direction.PAY_IN else "OUT"
    reference = f"CX-20261123-{currency}-{participant}-{suffix}"
    return PaymentInstruction(reference, DAY, currency, participant, direction, amount)


INSTRUCTIONS = [
    instruction("USD", "harbor", Direction.PAY_IN, 10395),
    instruction("USD", "skyway", Direction.PAY_OUT, 10345),
    instruction("JPY", "skyway", Direction.PAY_IN, 1500),
    instruction("JPY", "harbor", Direction.PAY_OUT, 1500),
    instruction("KWD", "harbor", Direction.PAY_OUT, 1005),
    instruction("KWD", "skyway", Direction.PAY_IN, 1005),
]


def record(
    transfer_id: str,
    kind: str,
    source: str,
    destination: str,
    amount: int,
    fee: int,
    completed_at_us: int,
    currency: str = "USD",
) -> TransferRecord:
    return TransferRecord(
        transfer_id=transfer_id,
        kind=kind,
        source_partner_id=source,
        destination_partner_id=destination,
        source_points=1000,
        destination_points=6000,
        currency=currency,
        amount_minor=amount,
        fee_minor=fee,
        business_day=DAY,
        completed_at_us=completed_at_us,
    )


RECORDS = [
    record("t-002", "transfer", "harbor", "skyway", 12345, 30, 200),
    record("t-001", "reversal", "skyway", "harbor", 2000, 0, 300),
    record("t-003", "transfer", "harbor", "lagoon", 777, 7, 150),  # not skyway's
    record("t-001", "transfer", "skyway", "harbor", 2000, 20, 100),
    record("t-004", "transfer", "skyway", "harbor", 900, 9, 120, currency="JPY"),
]

CLEARING = BankAccount("Coalition Exchange Clearing", "DE89370400440532013000", "COBADEFFXXX")
SKYWAY_BANK = BankAccount("Skyway Miles Ltd", "GB82WEST12345698765432", "NWBKGB2L")
HARBOR_BANK = BankAccount("Harbor Hotels SA", "FR1420041010050500013M02606", "BNPAFRPP")
CREATED_AT_US = 1_795_482_000_000_000  # 2026-11-24T01:00:00Z


def shuffled(items: Sequence[T], seed: int) -> list[T]:
    copy = list(items)
    random.Random(seed).shuffle(copy)
    return copy


EUR_PAYOUTS = [
    (instruction("EUR", "skyway", Direction.PAY_OUT, 10345), SKYWAY_BANK),
    (instruction("EUR", "harbor", Direction.PAY_OUT, 250075), HARBOR_BANK),
]


def eur_pain001(payouts: Sequence[tuple[PaymentInstruction, BankAccount]]) -> bytes | None:
    return pain001(
        message_id="CX-20261123-EUR",
        created_at_us=CREATED_AT_US,
        business_day=DAY,
        currency="EUR",
        debtor=CLEARING,
        payouts=payouts,
        minor_units=MINOR_UNITS,
    )
