"""Multilateral netting of one business day in one currency, over a stream of records.

Memory grows with the number of participants (gross obligations per pair), never with the
number of transfers. Every participant settles once, through the hub's clearing account.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from settlement.model import (
    HUB_PARTICIPANT,
    Direction,
    NetPosition,
    PaymentInstruction,
    TransferRecord,
)


@dataclass(frozen=True)
class NettingResult:
    business_day: str
    currency: str
    gross: dict[tuple[str, str], int]  # (payer, payee) -> what payer owes payee for the day
    positions: list[NetPosition]
    instructions: list[PaymentInstruction]
    record_count: int


class Netting:
    def __init__(self, business_day: str, currency: str) -> None:
        self.business_day = business_day
        self.currency = currency
        self._gross: dict[tuple[str, str], int] = defaultdict(int)
        self._count = 0

    def add(self, record: TransferRecord) -> None:
        assert record.currency == self.currency and record.business_day == self.business_day
        assert record.amount_minor >= 0 and record.fee_minor >= 0
        self._count += 1
        if record.amount_minor:
            self._gross[(record.payer, record.payee)] += record.amount_minor
        if record.fee_minor:
            self._gross[(record.payer, HUB_PARTICIPANT)] += record.fee_minor

    def add_gross(
        self, payer: str, payee: str, amount_minor: int, fee_minor: int, count: int
    ) -> None:
        """Adds `count` records' sums at once, as `add` would one by one (a GROUP BY's row)."""
        assert amount_minor >= 0 and fee_minor >= 0 and count >= 0
        self._count += count
        if amount_minor:
            self._gross[(payer, payee)] += amount_minor
        if fee_minor:
            self._gross[(payer, HUB_PARTICIPANT)] += fee_minor

    def result(self) -> NettingResult:
        receivable: dict[str, int] = defaultdict(int)
        payable: dict[str, int] = defaultdict(int)
        for (payer, payee), amount in self._gross.items():
            payable[payer] += amount
            receivable[payee] += amount
        participants = sorted(set(receivable) | set(payable))
        positions = [
            NetPosition(p, self.currency, receivable[p], payable[p], receivable[p] - payable[p])
            for p in participants
        ]
        assert sum(p.net_minor for p in positions) == 0, "nets of a run sum to zero"
        return NettingResult(
            self.business_day,
            self.currency,
            dict(sorted(self._gross.items())),
            positions,
            [self._instruction(p) for p in positions if p.net_minor],
            self._count,
        )

    def _instruction(self, position: NetPosition) -> PaymentInstruction:
        direction = Direction.PAY_OUT if position.net_minor > 0 else Direction.PAY_IN
        suffix = "OUT" if direction is Direction.PAY_OUT else "IN"
        day = self.business_day.replace("-", "")
        reference = f"CX-{day}-{self.currency}-{position.participant}-{suffix}"
        return PaymentInstruction(
            reference,
            self.business_day,
            self.currency,
            position.participant,
            direction,
            abs(position.net_minor),
        )
