"""What the settlement screens read: runs, positions, the net-position chart and the files.

Everything goes through the hub's settlement handlers (exchange.services.statements,
export_files) and the settlement port those handlers read (uow.settlement); a partner user's view is
cut down to its own rows here, before any template sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

from exchange.domain.rates import CURRENCY_MINOR_UNITS
from exchange.domain.settlement import SettledDay, SettlementReader
from exchange.services import export_files, statements
from settlement import exports
from settlement.model import HUB_PARTICIPANT, BankAccount, Direction, PaymentInstruction


@dataclass(frozen=True)
class CurrencyRun:
    currency: str
    record_count: int
    volume_minor: int  # operator: every settlement amount; partner: its own net


@dataclass(frozen=True)
class RunRow:
    business_day: str
    merkle_root_hex: str
    tree_size: int
    settled_at_us: int
    currencies: list[CurrencyRun]


@dataclass(frozen=True)
class PositionRow:
    participant: str
    currency: str
    sent_minor: int  # what it owes other partners for the day, fees apart
    received_minor: int  # what other partners owe it (the hub: the fees it earned)
    fees_minor: int
    net_minor: int


def settled_days(uow: SettlementReader, days: list[str]) -> list[SettledDay]:
    """The settled ones among `days` (a bounded range), in the order given."""
    found = (uow.settlement.settled_day(day) for day in days)
    return [day for day in found if day is not None]


def runs(uow: SettlementReader, days: list[str], partner_id: str | None) -> list[RunRow]:
    rows = []
    for day in settled_days(uow, days):
        currencies = []
        for run in uow.settlement.runs(day.business_day):
            positions = uow.settlement.positions(day.business_day, run.currency)
            if partner_id is None:
                volume = sum(
                    p.receivable_minor for p in positions if p.participant != HUB_PARTICIPANT
                )
            else:
                own = [p.net_minor for p in positions if p.participant == partner_id]
                volume = own[0] if own else 0
            currencies.append(CurrencyRun(run.currency, run.record_count, volume))
        rows.append(
            RunRow(
                day.business_day,
                day.merkle_root.hex(),
                day.tree_size,
                day.settled_at_us,
                currencies,
            )
        )
    return rows


def currencies_of(uow: SettlementReader, business_day: str) -> list[str]:
    statements.settled(uow, business_day)
    return [run.currency for run in uow.settlement.runs(business_day)]


def positions(
    uow: SettlementReader, business_day: str, partner_id: str | None
) -> list[PositionRow]:
    """Per participant x currency. A partner sees its own rows only."""
    rows = []
    for currency in currencies_of(uow, business_day):
        for position in uow.settlement.positions(business_day, currency):
            if partner_id is not None and position.participant != partner_id:
                continue
            if position.participant == HUB_PARTICIPANT:
                rows.append(
                    PositionRow(
                        HUB_PARTICIPANT,
                        currency,
                        0,
                        position.receivable_minor,
                        0,
                        position.net_minor,
                    )
                )
                continue
            lines = list(
                statements.statement_lines(uow, position.participant, business_day, currency)
            )
            totals = statements.totals(lines)
            assert totals.net_minor == position.net_minor, "a statement nets to its position"
            rows.append(
                PositionRow(
                    position.participant,
                    currency,
                    totals.payable_minor,
                    totals.receivable_minor,
                    totals.fees_minor,
                    position.net_minor,
                )
            )
    return rows


def nets_sum_to_zero(uow: SettlementReader, business_day: str) -> dict[str, bool]:
    """Per currency, over every participant: said on the page without showing the others."""
    return {
        currency: sum(p.net_minor for p in uow.settlement.positions(business_day, currency)) == 0
        for currency in currencies_of(uow, business_day)
    }


@dataclass(frozen=True)
class ChartPoint:
    business_day: str
    net_minor: int
    settled: bool


def net_history(
    uow: SettlementReader, days: list[str], partner_id: str, currency: str
) -> list[ChartPoint]:
    """One point per calendar day, oldest first (the chart's x axis); a day not settled (yet)
    has no position and draws no bar."""
    settled = {day.business_day for day in settled_days(uow, days)}
    points = []
    for business_day in reversed(days):
        if business_day not in settled:
            points.append(ChartPoint(business_day, 0, False))
            continue
        own = statements.own_position(uow, partner_id, business_day, currency)
        points.append(ChartPoint(business_day, own.net_minor if own is not None else 0, True))
    return points


def instructions(
    uow: SettlementReader, business_day: str, partner_id: str | None
) -> list[PaymentInstruction]:
    if partner_id is None:
        statements.settled(uow, business_day)
        return uow.settlement.instructions(business_day)
    return statements.payment_instructions(uow, partner_id, business_day)


def day_files(
    uow: SettlementReader, business_day: str, partner_id: str | None, banks: dict[str, BankAccount]
) -> dict[str, bytes]:
    """The files a user may download, by name. The operator gets every file of
    `coalition export`, byte for byte; a partner its own statements (the same bytes as the
    export's), its own statement JSON and, when it is paid out, a pain.001 of its own pay-out:
    the coalition-wide JSON and pain.001 carry the other partners' positions and accounts."""
    files, _notes = export_files.day_files(uow, business_day, banks)
    if partner_id is None:
        return files
    own = {
        name: data for name, data in files.items() if name.startswith(f"statement-{partner_id}-")
    }
    day = statements.settled(uow, business_day)
    own_instructions = statements.payment_instructions(uow, partner_id, business_day)
    own_positions = [
        p
        for currency in currencies_of(uow, business_day)
        for p in uow.settlement.positions(business_day, currency)
        if p.participant == partner_id
    ]
    own[f"settlement-{partner_id}.json"] = exports.settlement_json(
        business_day,
        own_positions,
        own_instructions,
        day.merkle_root.hex(),
        day.tree_size,
        CURRENCY_MINOR_UNITS,
    )
    for instruction in own_instructions:
        document = _own_payout(day, instruction, banks)
        if document is not None:
            own[f"payouts-{instruction.currency}-{partner_id}.pain.001.001.09.xml"] = document
    return own


def _own_payout(
    day: SettledDay, instruction: PaymentInstruction, banks: dict[str, BankAccount]
) -> bytes | None:
    if instruction.direction is not Direction.PAY_OUT:
        return None
    debtor, creditor = banks.get(HUB_PARTICIPANT), banks.get(instruction.participant)
    if debtor is None or creditor is None:
        return None
    day_digits = day.business_day.replace("-", "")
    message_id = f"CX-{day_digits}-{instruction.currency}-{instruction.participant}"
    return exports.pain001(
        message_id=message_id[: exports.ISO_IDENTIFIER_CHARS_MAX],
        created_at_us=day.settled_at_us,
        business_day=day.business_day,
        currency=instruction.currency,
        debtor=debtor,
        payouts=[(instruction, creditor)],
        minor_units=CURRENCY_MINOR_UNITS,
    )


def day_has_transfer(
    uow: SettlementReader, business_day: str, transfer_id: str, partner_id: str | None
) -> bool:
    """Search: is this transfer on that day's statement of the user's partner (any, for an
    operator)? Another partner's transfer is simply not found."""
    record = uow.settlement.settled_record(business_day, transfer_id)
    if record is None:
        return False
    return partner_id is None or partner_id in (
        record.source_partner_id,
        record.destination_partner_id,
    )
