"""The values settlement works on: transfer records in, positions, instructions and breaks out.

Pure data, standard library only. Amounts are integer minor units of `currency`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

HUB_PARTICIPANT = "hub"


@dataclass(frozen=True)
class TransferRecord:
    """One completed transfer (or reversal) as settled on its business day.

    `payer` owes `payee` `amount_minor`; for a transfer the payer is the source partner, for a
    reversal the destination (the opposite obligation). `fee_minor` is owed by the payer to
    the hub. The canonical bytes of a record (coalition/records.py) are the Merkle leaves.
    """

    transfer_id: str
    kind: str  # "transfer" | "reversal" | "adjustment" (a dispute accepted: payer = source)
    source_partner_id: str
    destination_partner_id: str
    source_points: int
    destination_points: int
    currency: str
    amount_minor: int
    fee_minor: int
    business_day: str  # YYYY-MM-DD
    completed_at_us: int

    @property
    def payer(self) -> str:
        return self.destination_partner_id if self.kind == "reversal" else self.source_partner_id

    @property
    def payee(self) -> str:
        return self.source_partner_id if self.kind == "reversal" else self.destination_partner_id


@dataclass(frozen=True)
class NetPosition:
    participant: str  # a partner id, or HUB_PARTICIPANT for the hub's fees
    currency: str
    receivable_minor: int  # what others owe it
    payable_minor: int  # what it owes others
    net_minor: int  # receivable - payable; the nets of a run sum to zero


class Direction(enum.Enum):
    PAY_IN = "pay_in"  # a net debtor pays the hub's clearing account
    PAY_OUT = "pay_out"  # the hub's clearing account pays a net creditor


@dataclass(frozen=True)
class PaymentInstruction:
    clearing_reference: str  # deterministic, e.g. CX-20261123-USD-skyway-IN
    business_day: str
    currency: str
    participant: str
    direction: Direction
    amount_minor: int


@dataclass(frozen=True)
class BankAccount:
    """Where a participant is paid (for the pain.001 credit transfers)."""

    name: str
    iban: str
    bic: str


class BreakKind(enum.Enum):
    MISSING_AT_HUB = "missing_at_hub"
    MISSING_AT_PARTNER = "missing_at_partner"
    AMOUNT_MISMATCH = "amount_mismatch"
    DUPLICATE = "duplicate"
    TIMING = "timing"  # the hub has it on another business day (across the cut-off)
    NO_DATA = "no_data"  # an empty upload is never "reconciled"


@dataclass(frozen=True)
class PartnerRecord:
    """One line of a partner's own records for a day."""

    transfer_id: str
    direction: str  # "outgoing" (the partner is the payer) | "incoming" (the payee)
    points: int  # source points if outgoing, destination points if incoming
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class Break:
    kind: BreakKind
    transfer_id: str  # "" for NO_DATA
    detail: str  # what differs, in words and numbers; never member data
