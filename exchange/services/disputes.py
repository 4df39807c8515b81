"""Reconciliation uploads and disputes on statement lines (DESIGN §3.8)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace

from exchange.domain import limits
from exchange.domain.disputes import (
    ACCEPTED,
    OPEN,
    REJECTED,
    Adjustment,
    Dispute,
    Reconciliation,
)
from exchange.domain.errors import DomainError, ErrorCode, invalid
from exchange.domain.ledger import AccountRef, Entry, Journal, JournalKind, Phase, Side
from exchange.domain.ports import Clock, UnitOfWork
from exchange.services.statements import settled
from settlement.calendar import CoalitionCalendar
from settlement.model import Break, PartnerRecord
from settlement.reconciliation import breaks_csv, reconcile

__all__ = ["ACCEPTED", "OPEN", "REJECTED", "OpenDispute"]


def submit_reconciliation(
    uow: UnitOfWork,
    clock: Clock,
    partner_id: str,
    business_day: str,
    records: list[PartnerRecord],
) -> tuple[str, list[Break]]:
    """The breaks between the partner's records and the hub's; the same upload, the same report."""
    settled(uow, business_day)
    store = uow.settlement
    digest = hashlib.sha256(
        "\n".join(
            f"{r.transfer_id},{r.direction},{r.points},{r.amount_minor},{r.currency}"
            for r in records
        ).encode()
    ).digest()
    hub_records = [
        record
        for _index, record in store.settled_records(business_day)
        if partner_id in (record.source_partner_id, record.destination_partner_id)
    ]

    def hub_day_of(transfer_id: str) -> str | None:
        # Scoped to the partner's own transfers: another partner's day is never revealed.
        record = store.transfer_record(transfer_id)
        if record is None or partner_id not in (
            record.source_partner_id,
            record.destination_partner_id,
        ):
            return None
        return record.business_day

    breaks = reconcile(partner_id, business_day, hub_records, records, hub_day_of)
    existing = uow.disputes.reconciliation_id(partner_id, business_day, digest)
    if existing is not None:
        return existing, breaks
    reconciliation_id = "rc_" + secrets.token_hex(12)
    uow.disputes.add_reconciliation(
        Reconciliation(
            reconciliation_id=reconciliation_id,
            partner_id=partner_id,
            business_day=business_day,
            upload_sha256=digest,
            breaks_csv=breaks_csv(breaks),
            created_at_us=clock.now_us(),
        )
    )
    return reconciliation_id, breaks


@dataclass(frozen=True)
class OpenDispute:
    partner_id: str
    business_day: str
    transfer_id: str
    claimed_minor: int
    currency: str
    reason: str


def _check_reason(reason: str, field: str) -> None:
    if not 0 < len(reason) <= limits.REJECT_REASON_CHARS_MAX or not reason.isprintable():
        raise invalid(field, f"must be 1-{limits.REJECT_REASON_CHARS_MAX} printable characters")


def open_dispute(uow: UnitOfWork, clock: Clock, command: OpenDispute) -> Dispute:
    _check_reason(command.reason, "reason")
    if command.claimed_minor < 0:
        raise invalid("claimed_amount", "must not be negative")
    settled(uow, command.business_day)
    record = uow.settlement.settled_record(command.business_day, command.transfer_id)
    if record is None or command.partner_id not in (
        record.source_partner_id,
        record.destination_partner_id,
    ):
        raise DomainError(ErrorCode.RECORD_NOT_FOUND, "no such line on your statement")
    if command.currency != record.currency:
        raise invalid("claimed_amount.currency_code", "must be the line's currency")
    if uow.disputes.open_exists(command.transfer_id, command.partner_id):
        raise DomainError(ErrorCode.DISPUTE_ALREADY_OPEN, "you already dispute this line")
    counterparty = (
        record.destination_partner_id
        if command.partner_id == record.source_partner_id
        else record.source_partner_id
    )
    dispute = Dispute(
        dispute_id="dp_" + secrets.token_hex(12),
        business_day=command.business_day,
        transfer_id=command.transfer_id,
        opened_by=command.partner_id,
        counterparty=counterparty,
        currency=record.currency,
        claimed_minor=command.claimed_minor,
        recorded_minor=record.amount_minor,
        reason=command.reason,
        state=OPEN,
        resolution_reason="",
        adjustment_business_day=None,
        opened_at_us=clock.now_us(),
        resolved_at_us=None,
    )
    uow.disputes.add(dispute)
    return dispute


def resolve_dispute(
    uow: UnitOfWork,
    clock: Clock,
    calendar: CoalitionCalendar,
    partner_id: str,
    dispute_id: str,
    decision: tuple[bool, str],
) -> Dispute:
    """The counterparty decides; accepting books the difference in the next open day."""
    accept, reason = decision
    _check_reason(reason, "reason")
    dispute = uow.disputes.get(dispute_id, for_update=True) if dispute_id else None
    if dispute is None or partner_id not in (dispute.opened_by, dispute.counterparty):
        raise DomainError(ErrorCode.DISPUTE_NOT_FOUND, "no such dispute")
    if dispute.counterparty != partner_id:
        raise DomainError(ErrorCode.NOT_A_PARTY, "the counterparty resolves a dispute")
    if dispute.state != OPEN:
        raise DomainError(ErrorCode.DISPUTE_NOT_OPEN, "this dispute is already resolved")
    now_us = clock.now_us()
    adjustment_day = _book_adjustment(uow, calendar, dispute, now_us) if accept else None
    resolved = replace(
        dispute,
        state=ACCEPTED if accept else REJECTED,
        resolution_reason=reason,
        resolved_at_us=now_us,
        adjustment_business_day=adjustment_day,
    )
    uow.disputes.save(resolved)
    return resolved


def _book_adjustment(
    uow: UnitOfWork, calendar: CoalitionCalendar, dispute: Dispute, now_us: int
) -> str:
    record = uow.settlement.settled_record(dispute.business_day, dispute.transfer_id)
    assert record is not None, "a dispute names a settled record"
    delta = dispute.claimed_minor - dispute.recorded_minor
    opener_is_payee = dispute.opened_by == record.payee
    # Who pays whom the difference: the payee claims more, or the payer claims to owe less.
    opener_receives = (delta > 0) == opener_is_payee
    payer, payee = (
        (dispute.counterparty, dispute.opened_by)
        if opener_receives
        else (dispute.opened_by, dispute.counterparty)
    )
    today = calendar.business_day_of(now_us).isoformat()
    business_day = uow.business_days.open_day_at_or_after(today)
    if delta == 0:
        return business_day
    adjustment = Adjustment(
        adjustment_id="adj_" + secrets.token_hex(12),
        dispute_id=dispute.dispute_id,
        business_day=business_day,
        payer=payer,
        payee=payee,
        currency=dispute.currency,
        amount_minor=abs(delta),
        created_at_us=now_us,
    )
    uow.disputes.add_adjustment(adjustment)
    uow.ledger.record(_adjustment_journal(adjustment), now_us)
    return business_day


def _adjustment_journal(adjustment: Adjustment) -> Journal:
    currency, amount = adjustment.currency, adjustment.amount_minor
    debit = AccountRef(owner=adjustment.payer, purpose="settlement", asset=currency)
    credit = AccountRef(owner=adjustment.payee, purpose="settlement", asset=currency)
    entries = (
        Entry(account=debit, side=Side.DEBIT, phase=Phase.POST, amount=amount),
        Entry(account=credit, side=Side.CREDIT, phase=Phase.POST, amount=amount),
    )
    return Journal(kind=JournalKind.ADJUST, transfer_id=adjustment.adjustment_id, entries=entries)


def disputes_of(uow: UnitOfWork, partner_id: str) -> list[Dispute]:
    return uow.disputes.of_partner(partner_id)
