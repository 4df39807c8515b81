"""The files of a settled day, built from what the settlement stored: the same bytes every time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from exchange.domain.rates import CURRENCY_MINOR_UNITS
from exchange.domain.settlement import SettlementReader, SettlementRepository
from exchange.services.statements import settled
from settlement import exports
from settlement.model import (
    HUB_PARTICIPANT,
    BankAccount,
    Direction,
    PaymentInstruction,
    TransferRecord,
)

BANK_ACCOUNT_FIELDS = ("name", "iban", "bic")


def load_bank_accounts(path: Path) -> dict[str, BankAccount]:
    """{"participant": {"name": .., "iban": .., "bic": ..}}; "hub" is the clearing account."""
    try:
        raw = json.loads(path.read_text())
        return {
            participant: BankAccount(*(str(details[f]) for f in BANK_ACCOUNT_FIELDS))
            for participant, details in raw.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"cannot read bank accounts from {path}: {error}") from None


def day_files(
    uow: SettlementReader, business_day: str, bank_accounts: dict[str, BankAccount]
) -> tuple[dict[str, bytes], list[str]]:
    """Every export of a settled day by file name, and notes on files that could not be made."""
    day = settled(uow, business_day)
    store = uow.settlement
    currencies = [run.currency for run in store.runs(business_day)]
    positions = [p for c in currencies for p in store.positions(business_day, c)]
    instructions = store.instructions(business_day)
    units = CURRENCY_MINOR_UNITS
    files = {
        "positions.csv": exports.positions_csv(business_day, positions, units),
        "instructions.csv": exports.instructions_csv(instructions, units),
        "settlement.json": exports.settlement_json(
            business_day, positions, instructions, day.merkle_root.hex(), day.tree_size, units
        ),
    }
    for currency in currencies:
        participants = sorted(
            p.participant
            for p in store.positions(business_day, currency)
            if p.participant != HUB_PARTICIPANT
        )
        for partner_id in participants:
            records = partner_records(store, business_day, partner_id, currency)
            files[f"statement-{partner_id}-{currency}.csv"] = exports.statement_csv(
                partner_id, business_day, currency, records, units
            )
    notes: list[str] = []
    for currency in currencies:
        _payouts_file(
            business_day, day.settled_at_us, currency, instructions, bank_accounts, files, notes
        )
    return files, notes


def partner_records(
    store: SettlementRepository, business_day: str, partner_id: str, currency: str
) -> Iterator[TransferRecord]:
    """One partner's records of a settled day in one currency, as settled."""
    for _index, record in store.settled_records(business_day):
        if record.currency == currency and partner_id in (
            record.source_partner_id,
            record.destination_partner_id,
        ):
            yield record


def _payouts_file(
    business_day: str,
    created_at_us: int,
    currency: str,
    instructions: list[PaymentInstruction],
    bank_accounts: dict[str, BankAccount],
    files: dict[str, bytes],
    notes: list[str],
) -> None:
    # The hub keeps its fees in its clearing account: it does not pay itself.
    payouts = [
        i
        for i in instructions
        if i.currency == currency
        and i.direction is Direction.PAY_OUT
        and i.participant != HUB_PARTICIPANT
    ]
    if not payouts:
        return
    missing = sorted({i.participant for i in payouts} - set(bank_accounts))
    if HUB_PARTICIPANT not in bank_accounts or missing:
        needed = ([HUB_PARTICIPANT] if HUB_PARTICIPANT not in bank_accounts else []) + missing
        notes.append(f"no pain.001 for {currency}: no bank account for {', '.join(needed)}")
        return
    document = exports.pain001(
        message_id=f"CX-{business_day.replace('-', '')}-{currency}",
        created_at_us=created_at_us,
        business_day=business_day,
        currency=currency,
        debtor=bank_accounts[HUB_PARTICIPANT],
        payouts=[(i, bank_accounts[i.participant]) for i in payouts],
        minor_units=CURRENCY_MINOR_UNITS,
    )
    if document is not None:
        files[f"payouts-{currency}.pain.001.001.09.xml"] = document
