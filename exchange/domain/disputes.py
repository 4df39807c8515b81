"""Disputes on statement lines, the adjustments accepting them books, and reconciliation
uploads (DESIGN §3.8)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

OPEN, ACCEPTED, REJECTED = "open", "accepted", "rejected"


@dataclass(frozen=True, kw_only=True)
class Dispute:
    dispute_id: str
    business_day: str
    transfer_id: str
    opened_by: str
    counterparty: str
    currency: str
    claimed_minor: int
    recorded_minor: int
    reason: str
    state: str
    resolution_reason: str
    adjustment_business_day: str | None
    opened_at_us: int
    resolved_at_us: int | None


@dataclass(frozen=True, kw_only=True)
class Adjustment:
    """An accepted dispute's correction, settled in the next open business day."""

    adjustment_id: str
    dispute_id: str
    business_day: str
    payer: str
    payee: str
    currency: str
    amount_minor: int
    created_at_us: int


@dataclass(frozen=True, kw_only=True)
class Reconciliation:
    """A partner's upload for a day, by its digest: the same upload gets the same report."""

    reconciliation_id: str
    partner_id: str
    business_day: str
    upload_sha256: bytes
    breaks_csv: bytes
    created_at_us: int


class DisputeRepository(Protocol):
    def add(self, dispute: Dispute) -> None: ...

    def get(self, dispute_id: str, *, for_update: bool = False) -> Dispute | None: ...

    def save(self, dispute: Dispute) -> None:
        """Stores a resolved dispute over its open self."""

    def of_partner(self, partner_id: str) -> list[Dispute]:
        """Those it opened or is the counterparty of, oldest first."""

    def open_exists(self, transfer_id: str, partner_id: str) -> bool:
        """Whether this partner has an open dispute on this transfer."""

    def add_adjustment(self, adjustment: Adjustment) -> None: ...

    def reconciliation_id(self, partner_id: str, business_day: str, digest: bytes) -> str | None:
        """The id of the stored reconciliation of this very upload, if any."""

    def add_reconciliation(self, reconciliation: Reconciliation) -> None: ...
