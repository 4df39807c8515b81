"""The double-entry ledger (DESIGN §5): accounts per owner, purpose and asset; balanced journals.

A transfer holds its legs when it starts (pending), and either posts them (release + post)
when it completes or releases them when it is voided. Corrections are new journals.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass

from exchange.domain.transfers import Transfer, TransferKind

HUB_OWNER = "hub"


class Side(enum.Enum):
    DEBIT = "D"
    CREDIT = "C"


class Phase(enum.Enum):
    HOLD = "hold"
    RELEASE = "release"
    POST = "post"


class JournalKind(enum.Enum):
    HOLD = "hold"
    POST = "post"
    VOID = "void"
    SETTLE = "settle"  # a business day's net positions paid through the hub's clearing
    ADJUST = "adjust"  # an accepted dispute's difference, settled in the next open day


@dataclass(frozen=True, order=True, kw_only=True)
class AccountRef:
    owner: str
    purpose: str
    asset: str

    @property
    def account_id(self) -> str:
        return f"{self.owner}/{self.purpose}/{self.asset}"


@dataclass(frozen=True, kw_only=True)
class Entry:
    account: AccountRef
    side: Side
    phase: Phase
    amount: int


@dataclass(frozen=True, kw_only=True)
class Journal:
    kind: JournalKind
    transfer_id: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True, kw_only=True)
class Leg:
    debit: AccountRef
    credit: AccountRef
    amount: int


def transfer_legs(transfer: Transfer, source_program: str, destination_program: str) -> list[Leg]:
    """The four legs of a transfer; a reversal is the opposite obligation without a fee."""
    source, destination, currency = (
        transfer.source_partner_id,
        transfer.destination_partner_id,
        transfer.currency,
    )
    source_points = Leg(
        debit=AccountRef(owner=source, purpose="members", asset=source_program),
        credit=AccountRef(owner=source, purpose="exchanged_out", asset=source_program),
        amount=transfer.source_points,
    )
    destination_points = Leg(
        debit=AccountRef(owner=destination, purpose="exchanged_in", asset=destination_program),
        credit=AccountRef(owner=destination, purpose="members", asset=destination_program),
        amount=transfer.destination_points,
    )
    money = Leg(
        debit=AccountRef(owner=source, purpose="settlement", asset=currency),
        credit=AccountRef(owner=destination, purpose="settlement", asset=currency),
        amount=transfer.settlement_amount_minor,
    )
    fee = Leg(
        debit=AccountRef(owner=source, purpose="settlement", asset=currency),
        credit=AccountRef(owner=HUB_OWNER, purpose="fees", asset=currency),
        amount=transfer.fee_minor,
    )
    if transfer.kind is TransferKind.REVERSAL:
        return [_opposite(leg) for leg in (source_points, destination_points, money)]
    return [source_points, destination_points, money, fee]


def _opposite(leg: Leg) -> Leg:
    return Leg(debit=leg.credit, credit=leg.debit, amount=leg.amount)


def _entries(legs: list[Leg], phase: Phase) -> list[Entry]:
    entries: list[Entry] = []
    for leg in legs:
        if leg.amount == 0:
            continue
        entries.append(Entry(account=leg.debit, side=Side.DEBIT, phase=phase, amount=leg.amount))
        entries.append(Entry(account=leg.credit, side=Side.CREDIT, phase=phase, amount=leg.amount))
    return entries


def hold_journal(transfer_id: str, legs: list[Leg]) -> Journal:
    return _balanced(
        Journal(
            kind=JournalKind.HOLD,
            transfer_id=transfer_id,
            entries=tuple(_entries(legs, Phase.HOLD)),
        )
    )


def post_journal(transfer_id: str, legs: list[Leg]) -> Journal:
    entries = _entries(legs, Phase.RELEASE) + _entries(legs, Phase.POST)
    return _balanced(
        Journal(kind=JournalKind.POST, transfer_id=transfer_id, entries=tuple(entries))
    )


def void_journal(transfer_id: str, legs: list[Leg]) -> Journal:
    return _balanced(
        Journal(
            kind=JournalKind.VOID,
            transfer_id=transfer_id,
            entries=tuple(_entries(legs, Phase.RELEASE)),
        )
    )


def imbalances(entries: list[Entry]) -> dict[tuple[str, Phase], int]:
    """Debits minus credits per asset and phase, where they differ from zero."""
    totals: dict[tuple[str, Phase], int] = defaultdict(int)
    for entry in entries:
        sign = 1 if entry.side is Side.DEBIT else -1
        totals[(entry.account.asset, entry.phase)] += sign * entry.amount
    return {key: total for key, total in totals.items() if total}


def _balanced(journal: Journal) -> Journal:
    assert all(entry.amount > 0 for entry in journal.entries), "entry amounts are positive"
    assert not imbalances(list(journal.entries)), f"unbalanced journal {journal.kind}"
    return journal


@dataclass
class Counters:
    debits_pending: int = 0
    credits_pending: int = 0
    debits_posted: int = 0
    credits_posted: int = 0

    def apply(self, entry: Entry) -> None:
        debit = entry.side is Side.DEBIT
        if entry.phase is Phase.POST:
            if debit:
                self.debits_posted += entry.amount
            else:
                self.credits_posted += entry.amount
            return
        delta = entry.amount if entry.phase is Phase.HOLD else -entry.amount
        if debit:
            self.debits_pending += delta
        else:
            self.credits_pending += delta
