"""Quotes and transfers: the exactly-once life of moving points (DESIGN §3.4)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from exchange.domain.errors import DomainError, ErrorCode


class TransferState(enum.Enum):
    PENDING = "pending"
    COMPLETED = "completed"
    VOIDED = "voided"


class TransferKind(enum.Enum):
    TRANSFER = "transfer"
    REVERSAL = "reversal"


class VoidReason(enum.Enum):
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True, kw_only=True)
class Quote:
    quote_id: str
    source_partner_id: str
    destination_partner_id: str
    cmid: str
    source_ppid: str
    destination_ppid: str
    agreement_id: str
    agreement_version: int
    source_points: int
    destination_points: int
    bonus_points: int
    currency: str
    settlement_amount_minor: int
    fee_minor: int
    created_at_us: int
    expires_at_us: int
    payload: bytes
    signature: bytes
    transfer_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Transfer:
    """One movement of points. Source and destination keep their meaning for a reversal:
    the source is the partner whose member gets points back, the destination debits."""

    transfer_id: str
    kind: TransferKind
    state: TransferState
    source_partner_id: str
    destination_partner_id: str
    cmid: str
    source_ppid: str
    destination_ppid: str
    source_points: int
    destination_points: int
    bonus_points: int
    currency: str
    settlement_amount_minor: int
    fee_minor: int
    agreement_id: str
    agreement_version: int
    quote_id: str | None
    original_transfer_id: str | None
    created_at_us: int
    timeout_at_us: int
    resolved_at_us: int | None = None
    void_reason: VoidReason | None = None
    reject_reason: str = ""
    business_day: str | None = None

    @property
    def parties(self) -> tuple[str, str]:
        return (self.source_partner_id, self.destination_partner_id)

    def has_party(self, partner_id: str) -> bool:
        """The privacy rule of every transfer read: only its two partners see it."""
        return partner_id in self.parties

    def ppid_for(self, partner_id: str) -> str:
        """The member as this partner knows them: never the other partner's ppid."""
        if partner_id == self.source_partner_id:
            return self.source_ppid
        assert partner_id == self.destination_partner_id, "only the two parties see a transfer"
        return self.destination_ppid

    def completed(self, at_us: int, business_day: str) -> Transfer:
        """Completed at `at_us`, settling in `business_day` (the first open day then)."""
        self._ensure_pending()
        return replace(
            self, state=TransferState.COMPLETED, resolved_at_us=at_us, business_day=business_day
        )

    def voided(self, reason: VoidReason, at_us: int, reject_reason: str = "") -> Transfer:
        self._ensure_pending()
        return replace(
            self,
            state=TransferState.VOIDED,
            resolved_at_us=at_us,
            void_reason=reason,
            reject_reason=reject_reason,
        )

    def _ensure_pending(self) -> None:
        if self.state is not TransferState.PENDING:
            raise DomainError(
                ErrorCode.TRANSFER_NOT_PENDING, f"the transfer is already {self.state.value}"
            )
