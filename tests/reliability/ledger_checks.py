"""Conservation checks shared by the reliability scenarios: what settling a day must net to.

Every settled record moves money from its payer to its payee (the source for a transfer,
the destination for a reversal), and its fee from the payer to the hub; the positions of a
day are those sums, per currency, and they add up to zero.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, select

from exchange.adapters.sql.tables import (
    PaymentInstructionRow,
    SettlementLeafRow,
    SettlementPositionRow,
)
from settlement.model import HUB_PARTICIPANT


class SettledTransfer(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def destination(self) -> str: ...
    @property
    def amount_minor(self) -> int: ...
    @property
    def fee_minor(self) -> int: ...


def expected_nets(transfers: Iterable[SettledTransfer]) -> dict[tuple[str, str], int]:
    """(currency, participant) -> net: the payee is owed the amount, the payer owes the
    amount and the fee, the hub is owed the fee. Zero nets are left out."""
    nets: dict[tuple[str, str], int] = defaultdict(int)
    for t in transfers:
        payer, payee = (
            (t.destination, t.source) if t.kind == "reversal" else (t.source, t.destination)
        )
        nets[(t.currency, payee)] += t.amount_minor
        nets[(t.currency, payer)] -= t.amount_minor + t.fee_minor
        nets[(t.currency, HUB_PARTICIPANT)] += t.fee_minor
    return {key: net for key, net in nets.items() if net}


@dataclass(frozen=True)
class SettledDay:
    nets: dict[tuple[str, str], int]  # (currency, participant) -> net, zero nets left out
    net_totals: dict[str, int]  # currency -> sum of the nets
    transfer_ids: list[str]  # the day's records, sorted
    paid: Counter[str]  # direction -> minor units of its payment instructions


def settled_day(engine: Engine, day: str) -> SettledDay:
    with engine.connect() as connection:
        positions = connection.execute(
            select(
                SettlementPositionRow.currency,
                SettlementPositionRow.participant,
                SettlementPositionRow.net_minor,
            ).where(SettlementPositionRow.business_day == day)
        ).all()
        leaves = connection.scalars(
            select(SettlementLeafRow.transfer_id).where(SettlementLeafRow.business_day == day)
        ).all()
        instructions = connection.execute(
            select(PaymentInstructionRow.direction, PaymentInstructionRow.amount_minor).where(
                PaymentInstructionRow.business_day == day
            )
        ).all()
    totals: dict[str, int] = defaultdict(int)
    for currency, _participant, net in positions:
        totals[currency] += net
    paid: Counter[str] = Counter()
    for direction, amount in instructions:
        paid[direction] += amount
    return SettledDay(
        {(currency, participant): net for currency, participant, net in positions if net},
        dict(totals),
        sorted(leaves),
        paid,
    )
