"""Handlers for quotes, transfers, confirmations, rejections, timeouts and reversals.

Each handler runs inside one unit of work: the transfer row, its ledger journal and the event
that tells the other partner what to do commit together or not at all.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from exchange.domain import limits
from exchange.domain.errors import DomainError, ErrorCode, invalid
from exchange.domain.events import DebitRequested
from exchange.domain.ledger import Leg, hold_journal, transfer_legs
from exchange.domain.ports import Clock, QuoteSealer, UnitOfWork
from exchange.domain.transfers import Quote, Transfer, TransferKind, TransferState, VoidReason
from exchange.services import bulk_transfers as bulk
from exchange.services.transfer_engine import (
    TransferRequest,
    UnitOfWorkFacts,
    check_daily_cap,
    check_request_fields,
    new_quote,
    pending_transfer,
    price_transfer,
    quoted_pricing,
)
from settlement.calendar import CoalitionCalendar


@dataclass(frozen=True)
class TransferSettings:
    fee_basis_points: int
    timeout_s: int
    calendar: CoalitionCalendar = field(default_factory=CoalitionCalendar)


def create_quote(
    uow: UnitOfWork,
    clock: Clock,
    settings: TransferSettings,
    seal: QuoteSealer,
    request: TransferRequest,
) -> Quote:
    """Prices the request now and keeps the hub-sealed terms for QUOTE_TTL_S."""
    # Every bad field is named at once before the engine's rules, which refuse one at a time.
    check_request_fields(request)
    now_us = clock.now_us()
    facts = UnitOfWorkFacts(uow, request.caller, now_us)
    quote = new_quote(price_transfer(facts, request, now_us, settings.fee_basis_points), now_us)
    payload, signature = seal(quote)
    quote = replace(quote, payload=payload, signature=signature)
    uow.transfers.add_quote(quote)
    return quote


@dataclass(frozen=True)
class TransferOrder:
    """What starts a transfer: a quote, or inline terms the agreement in force prices now."""

    quote_id: str = ""
    ppid: str = ""
    destination_partner_id: str = ""
    source_points: int = 0

    @property
    def has_inline_terms(self) -> bool:
        return bool(self.ppid or self.destination_partner_id or self.source_points)

    def inline_request(self, caller: str) -> TransferRequest:
        return TransferRequest(
            caller=caller,
            ppid=self.ppid,
            destination_partner_id=self.destination_partner_id,
            source_points=self.source_points,
        )


def start_transfer(
    uow: UnitOfWork, clock: Clock, settings: TransferSettings, caller: str, order: TransferOrder
) -> Transfer:
    """Starts a transfer from a quote or from inline terms; refusals come before any write."""
    if order.quote_id and order.has_inline_terms:
        raise invalid("quote_id", "give either a quote or inline terms, not both")
    if order.quote_id:
        return create_transfer(uow, clock, settings, caller, order.quote_id)
    if not order.has_inline_terms:
        raise invalid(
            "quote_id",
            "is required unless ppid, destination_partner_id and source_points are given",
        )
    return create_transfer_inline(uow, clock, settings, order.inline_request(caller))


def create_transfer_inline(
    uow: UnitOfWork, clock: Clock, settings: TransferSettings, request: TransferRequest
) -> Transfer:
    """Starts a transfer at the rate in force now, with no quote round trip: a batch of one."""
    (outcome,) = _start_inline(uow, clock, settings, request.caller, [request])
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


def _start_inline(
    uow: UnitOfWork,
    clock: Clock,
    settings: TransferSettings,
    caller: str,
    requests: Sequence[TransferRequest],
) -> list[bulk.Outcome]:
    return bulk.start_inline_transfers(
        uow,
        clock.now_us(),
        caller,
        requests,
        fee_basis_points=settings.fee_basis_points,
        timeout_s=settings.timeout_s,
    )


def start_transfers(
    uow: UnitOfWork,
    clock: Clock,
    settings: TransferSettings,
    caller: str,
    orders: Sequence[TransferOrder],
) -> list[bulk.Outcome]:
    """Each order's transfer or refusal. Inline orders start together, in one set of reads
    and writes; orders naming a quote (or malformed) then go one by one."""
    inline = {
        index: o.inline_request(caller)
        for index, o in enumerate(orders)
        if o.has_inline_terms and not o.quote_id
    }
    started = _start_inline(uow, clock, settings, caller, list(inline.values()))
    outcomes: dict[int, bulk.Outcome] = dict(zip(inline, started, strict=True))
    for index, order in enumerate(orders):
        if index not in outcomes:
            try:
                outcomes[index] = start_transfer(uow, clock, settings, caller, order)
            except DomainError as refusal:
                outcomes[index] = refusal
    return [outcomes[index] for index in range(len(orders))]


def confirm_credits(
    uow: UnitOfWork,
    clock: Clock,
    caller: str,
    transfer_ids: Sequence[str],
    calendar: CoalitionCalendar,
) -> list[bulk.Outcome]:
    """ConfirmCredit for many transfers at once; each gets its own outcome."""
    now_us = clock.now_us()
    today = calendar.business_day_of(now_us).isoformat()

    @functools.cache
    def business_day() -> str:
        return uow.business_days.open_day_at_or_after(today)

    return bulk.confirm_credits(uow, now_us, caller, business_day, transfer_ids)


def get_quote(uow: UnitOfWork, caller: str, quote_id: str, *, for_update: bool = False) -> Quote:
    quote = uow.transfers.get_quote(quote_id, for_update=for_update) if quote_id else None
    if quote is None or quote.source_partner_id != caller:
        raise DomainError(ErrorCode.QUOTE_NOT_FOUND, "no such quote")
    return quote


def _legs_for(uow: UnitOfWork, transfer: Transfer) -> list[Leg]:
    source = uow.partners.get(transfer.source_partner_id)
    destination = uow.partners.get(transfer.destination_partner_id)
    assert source is not None and destination is not None, "transfers name live partners"
    return transfer_legs(transfer, source.program_code, destination.program_code)


def create_transfer(
    uow: UnitOfWork, clock: Clock, settings: TransferSettings, caller: str, quote_id: str
) -> Transfer:
    """Starts a transfer under its quote's terms, even if the agreement changed since."""
    # The quote row is locked and read afresh: of concurrent calls with one quote, the first
    # starts the transfer and the others see it used.
    quote = get_quote(uow, caller, quote_id, for_update=True)
    uow.members.lock_member(quote.cmid)
    now_us = clock.now_us()
    if quote.transfer_id is not None:
        raise DomainError(ErrorCode.QUOTE_ALREADY_USED, "this quote already started a transfer")
    if quote.expires_at_us <= now_us:
        raise DomainError(ErrorCode.QUOTE_EXPIRED, "the quote expired; ask for a new one")
    source = uow.members.get_ppid(caller, quote.source_ppid)
    destination = uow.members.get_ppid(quote.destination_partner_id, quote.destination_ppid)
    if source is None or destination is None or source.cmid != destination.cmid:
        raise DomainError(ErrorCode.NOT_LINKED, "the member is no longer linked at that partner")
    agreement = uow.rates.get(quote.agreement_id, quote.agreement_version)
    assert agreement is not None, "a quote names an agreement version that exists"
    used = UnitOfWorkFacts(uow, caller, now_us).points_used_today(
        quote.cmid, quote.destination_partner_id
    )
    check_daily_cap(agreement, used, quote.source_points)
    transfer = pending_transfer(
        quoted_pricing(quote, agreement),
        now_us=now_us,
        timeout_s=settings.timeout_s,
        quote_id=quote.quote_id,
    )
    uow.transfers.mark_quote_used(quote.quote_id, transfer.transfer_id)
    _record_start(uow, transfer)
    return transfer


def _record_start(uow: UnitOfWork, transfer: Transfer) -> None:
    """The pending transfer, its hold journal and the destination's credit request."""
    bulk.record_starts(uow, [transfer])


def visible_transfer(
    uow: UnitOfWork, caller: str, transfer_id: str, *, for_update: bool = False
) -> Transfer:
    """A transfer the caller is party to; anyone else's looks like one that does not exist."""
    transfer = uow.transfers.get(transfer_id, for_update=for_update) if transfer_id else None
    if transfer is None or not transfer.has_party(caller):
        raise DomainError(ErrorCode.TRANSFER_NOT_FOUND, "no such transfer")
    return transfer


def list_transfers(
    uow: UnitOfWork,
    caller: str,
    state: TransferState | None,
    window_us: tuple[int | None, int | None],
    before: tuple[int, str] | None,
    page_size: int,
) -> tuple[list[Transfer], Transfer | None]:
    """One page of the caller's transfers, newest first, and the last one if more follow."""
    found = uow.transfers.list_for(caller, state, window_us, before, page_size + 1)
    page = found[:page_size]
    return page, (page[-1] if len(found) > page_size else None)


def _destination_only(
    uow: UnitOfWork, clock: Clock, caller: str, transfer_id: str
) -> tuple[Transfer, int]:
    """The pending-or-resolved transfer the destination acts on, and the time it acts."""
    transfer = uow.transfers.get(transfer_id, for_update=True) if transfer_id else None
    now_us = clock.now_us()
    refusal, voided = bulk.answerable(transfer, caller, now_us)
    if refusal is not None:
        if transfer is not None and voided is not None:
            bulk.resolve(uow, [(transfer, voided)], now_us)
        raise DomainError(refusal.code, refusal.message, keep_writes=voided is not None)
    assert transfer is not None
    return transfer, now_us


def confirm_credit(
    uow: UnitOfWork,
    clock: Clock,
    caller: str,
    transfer_id: str,
    calendar: CoalitionCalendar | None = None,
) -> Transfer:
    """Completes a pending transfer in the first open business day; again, changes nothing."""
    calendar = calendar or CoalitionCalendar()
    (outcome,) = confirm_credits(uow, clock, caller, [transfer_id], calendar)
    if isinstance(outcome, DomainError):
        # Only a timed-out transfer is written before its refusal: voided, and kept so.
        timed_out = outcome.code is ErrorCode.TRANSFER_TIMED_OUT
        raise DomainError(outcome.code, outcome.message, keep_writes=timed_out)
    return outcome


def _void(uow: UnitOfWork, transfer: Transfer, voided: Transfer, at_us: int) -> Transfer:
    bulk.resolve(uow, [(transfer, voided)], at_us)
    return voided


def reject_credit(
    uow: UnitOfWork, clock: Clock, caller: str, transfer_id: str, reason: str
) -> Transfer:
    if len(reason) > limits.REJECT_REASON_CHARS_MAX or not reason.isprintable():
        raise invalid(
            "reason", f"must be at most {limits.REJECT_REASON_CHARS_MAX} printable characters"
        )
    transfer, now_us = _destination_only(uow, clock, caller, transfer_id)
    if transfer.state is TransferState.VOIDED and transfer.void_reason is VoidReason.REJECTED:
        return transfer
    return _void(uow, transfer, transfer.voided(VoidReason.REJECTED, now_us, reason), now_us)


def timed_out_transfers(uow: UnitOfWork, clock: Clock, limit: int) -> list[str]:
    return uow.transfers.timed_out(clock.now_us(), limit)


def void_if_timed_out(uow: UnitOfWork, clock: Clock, transfer_id: str) -> bool:
    """Voids one transfer if it is still pending past its timeout, re-checked under its lock.

    One transfer per unit of work: the sweeper then takes locks in the same order as a
    confirmation (transfer row, accounts, feed) and cannot deadlock with one.
    """
    transfer = uow.transfers.get(transfer_id, for_update=True)
    now_us = clock.now_us()
    if transfer is None or transfer.state is not TransferState.PENDING:
        return False
    if transfer.timeout_at_us > now_us:
        return False
    _void(uow, transfer, transfer.voided(VoidReason.TIMED_OUT, now_us), now_us)
    return True


def create_reversal(
    uow: UnitOfWork, clock: Clock, settings: TransferSettings, caller: str, transfer_id: str
) -> Transfer:
    """Reverses a completed transfer; the original destination must confirm the debit.

    Two parties consent to a reversal (DESIGN 3.4.5): the source asks, the destination
    confirms or rejects. Were the destination allowed to ask, it could then confirm alone.
    A partner that is neither sees the transfer as one that does not exist.
    """
    original = visible_transfer(uow, caller, transfer_id, for_update=True)
    if caller != original.source_partner_id:
        raise DomainError(
            ErrorCode.NOT_A_PARTY, "only the source of a transfer may request its reversal"
        )
    if original.kind is not TransferKind.TRANSFER or original.state is not TransferState.COMPLETED:
        raise DomainError(ErrorCode.TRANSFER_NOT_COMPLETED, "only a completed transfer reverses")
    if uow.transfers.live_reversal_of(original.transfer_id) is not None:
        raise DomainError(ErrorCode.ALREADY_REVERSED, "this transfer is reversed already")
    now_us = clock.now_us()
    reversal = replace(
        original,
        transfer_id="tr_" + secrets.token_hex(12),
        kind=TransferKind.REVERSAL,
        state=TransferState.PENDING,
        bonus_points=0,
        fee_minor=0,
        quote_id=None,
        original_transfer_id=original.transfer_id,
        created_at_us=now_us,
        timeout_at_us=now_us + settings.timeout_s * 1_000_000,
        resolved_at_us=None,
        void_reason=None,
        reject_reason="",
    )
    uow.transfers.add(reversal)
    uow.ledger.record(hold_journal(reversal.transfer_id, _legs_for(uow, reversal)), now_us)
    uow.events.append(
        reversal.destination_partner_id,
        DebitRequested(
            reversal.transfer_id,
            original.transfer_id,
            reversal.destination_ppid,
            reversal.destination_points,
            reversal.timeout_at_us,
        ),
    )
    return reversal
