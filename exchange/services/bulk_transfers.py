"""Starting and confirming many transfers in one unit of work, in a handful of statements.

The rules are those of the single-transfer handlers, checked in the same order with the same
refusals; only the reads and writes are gathered: every member, link, agreement and daily
total is read once up front, and every transfer, journal and event is written in one go.
Refusals come before any write, so a refused item leaves nothing behind.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from exchange.domain import limits
from exchange.domain.errors import DomainError, ErrorCode, invalid
from exchange.domain.events import CreditRequested, FeedEvent, TransferCompleted, TransferVoided
from exchange.domain.ledger import (
    Journal,
    Leg,
    hold_journal,
    post_journal,
    transfer_legs,
    void_journal,
)
from exchange.domain.members import MemberId, check_ppid, member_not_found
from exchange.domain.ports import UnitOfWork
from exchange.domain.rates import RateAgreement, effective_version, price
from exchange.domain.tiers import DAY_US
from exchange.domain.transfers import Transfer, TransferKind, TransferState, VoidReason
from exchange.services.tiers import check_partner_field

Outcome = Transfer | DomainError


@dataclass(frozen=True)
class InlineRequest:
    """A transfer priced now by the agreement in force: whose member, where, how many points."""

    ppid: str
    destination_partner_id: str
    source_points: int


@dataclass(frozen=True)
class TransferTerms:
    fee_basis_points: int
    timeout_s: int


def check_daily_cap(agreement: RateAgreement, used: int, points: int) -> None:
    cap = agreement.terms.member_daily_cap_source_points
    if used + points > cap:
        raise DomainError(
            ErrorCode.DAILY_CAP_EXCEEDED,
            f"this member may move {cap} points a day to this partner; {used} are used today",
        )


@dataclass
class _Known:
    """What a batch reads up front. Daily totals grow as the batch's own transfers start."""

    members: dict[str, MemberId]
    linked: dict[str, list[MemberId]]
    partner_refusals: dict[str, DomainError | None]
    agreements: dict[str, RateAgreement | None]
    used: dict[tuple[str, str], int]


def _partner_refusal(uow: UnitOfWork, caller: str, destination: str) -> DomainError | None:
    try:
        check_partner_field(uow, destination, "destination_partner_id")
    except DomainError as refusal:
        return refusal
    if destination == caller:
        return DomainError(ErrorCode.SAME_PROGRAM, "points cannot move into their own program")
    return None


def _read_known(
    uow: UnitOfWork, caller: str, requests: Sequence[InlineRequest], now_us: int
) -> _Known:
    members = uow.members.get_ppids(caller, [r.ppid for r in requests])
    cmids = sorted({member.cmid for member in members.values()})
    # Locked before the daily totals are read: concurrent transfers of a member queue here.
    uow.members.lock_members(cmids)
    destinations = sorted({r.destination_partner_id for r in requests})
    refusals = {d: _partner_refusal(uow, caller, d) for d in destinations}
    agreements: dict[str, RateAgreement | None] = {}
    used: dict[tuple[str, str], int] = defaultdict(int)
    day_start_us = now_us - now_us % DAY_US
    for destination in (d for d in destinations if refusals[d] is None):
        agreements[destination] = effective_version(uow.rates.versions(caller, destination), now_us)
        totals = uow.transfers.source_points_since_by_member(
            cmids, caller, destination, day_start_us
        )
        used.update({(cmid, destination): total for cmid, total in totals.items()})
    return _Known(members, uow.members.ppids_of_members(cmids), refusals, agreements, used)


def _priced_transfer(
    known: _Known, caller: str, request: InlineRequest, terms: TransferTerms, now_us: int
) -> Transfer:
    """One entry under the rules of a single transfer, in the same order, or its refusal."""
    if not 0 < request.source_points <= limits.TRANSFER_POINTS_MAX:
        raise invalid("source_points", "must be a positive number of points")
    member = known.members.get(check_ppid(request.ppid))
    if member is None:
        raise member_not_found()
    destination = request.destination_partner_id
    refusal = known.partner_refusals[destination]
    if refusal is not None:
        raise refusal
    counterpart = next(
        (m for m in known.linked.get(member.cmid, []) if m.partner_id == destination), None
    )
    if counterpart is None:
        raise DomainError(ErrorCode.NOT_LINKED, "the member is not linked at that partner")
    agreement = known.agreements[destination]
    if agreement is None:
        raise DomainError(ErrorCode.NO_RATE_AGREEMENT, "no accepted rate agreement in force")
    pricing = price(agreement.terms, request.source_points, now_us, terms.fee_basis_points)
    check_daily_cap(agreement, known.used[(member.cmid, destination)], pricing.source_points)
    known.used[(member.cmid, destination)] += pricing.source_points
    return Transfer(
        "tr_" + secrets.token_hex(12),
        TransferKind.TRANSFER,
        TransferState.PENDING,
        caller,
        destination,
        member.cmid,
        member.ppid,
        counterpart.ppid,
        pricing.source_points,
        pricing.destination_points,
        pricing.bonus_points,
        agreement.terms.currency,
        pricing.settlement_amount_minor,
        pricing.fee_minor,
        agreement.agreement_id,
        agreement.version,
        None,
        None,
        now_us,
        now_us + terms.timeout_s * 1_000_000,
    )


def start_inline_transfers(
    uow: UnitOfWork,
    now_us: int,
    terms: TransferTerms,
    caller: str,
    requests: Sequence[InlineRequest],
) -> list[Outcome]:
    """Starts each transfer the rules allow, in order; the others get their refusal."""
    known = _read_known(uow, caller, requests, now_us)
    outcomes: list[Outcome] = []
    for request in requests:
        try:
            outcomes.append(_priced_transfer(known, caller, request, terms, now_us))
        except DomainError as refusal:
            outcomes.append(refusal)
    record_starts(uow, [o for o in outcomes if isinstance(o, Transfer)])
    return outcomes


class _Legs:
    """Each partner's program code, read once per batch."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.programs: dict[str, str] = {}

    def _program(self, partner_id: str) -> str:
        if partner_id not in self.programs:
            partner = self.uow.partners.get(partner_id)
            assert partner is not None, "transfers name live partners"
            self.programs[partner_id] = partner.program_code
        return self.programs[partner_id]

    def of(self, transfer: Transfer) -> list[Leg]:
        return transfer_legs(
            transfer,
            self._program(transfer.source_partner_id),
            self._program(transfer.destination_partner_id),
        )


def _append_by_partner(uow: UnitOfWork, events: Sequence[tuple[str, FeedEvent]]) -> None:
    by_partner: dict[str, list[FeedEvent]] = defaultdict(list)
    for partner_id, event in events:
        by_partner[partner_id].append(event)
    # Feeds in one fixed order: concurrent batches take the feed rows without deadlocking.
    for partner_id in sorted(by_partner):
        uow.events.append_many(partner_id, by_partner[partner_id])


def record_starts(uow: UnitOfWork, started: Sequence[Transfer]) -> None:
    """The pending transfers, their hold journals and the destinations' credit requests."""
    if not started:
        return
    legs = _Legs(uow)
    uow.transfers.add_many(started)
    uow.ledger.record_many(
        [hold_journal(t.transfer_id, legs.of(t)) for t in started], started[0].created_at_us
    )
    _append_by_partner(
        uow,
        [
            (
                t.destination_partner_id,
                CreditRequested(
                    t.transfer_id,
                    t.destination_ppid,
                    t.destination_points,
                    t.bonus_points,
                    t.timeout_at_us,
                ),
            )
            for t in started
        ],
    )


def resolve(uow: UnitOfWork, pairs: Sequence[tuple[Transfer, Transfer]], at_us: int) -> None:
    """Stores resolutions: post or void journals, and the source's completion or void event."""
    if not pairs:
        return
    legs = _Legs(uow)
    journals: list[Journal] = []
    events: list[tuple[str, FeedEvent]] = []
    for before, after in pairs:
        if after.state is TransferState.COMPLETED:
            journals.append(post_journal(before.transfer_id, legs.of(before)))
            events.append((after.source_partner_id, TransferCompleted(after)))
        else:
            journals.append(void_journal(before.transfer_id, legs.of(before)))
            events.append((after.source_partner_id, TransferVoided(after)))
    uow.transfers.save_many([after for _, after in pairs])
    uow.ledger.record_many(journals, at_us)
    _append_by_partner(uow, events)


def answerable(
    transfer: Transfer | None, caller: str, now_us: int
) -> tuple[DomainError | None, Transfer | None]:
    """Whether the caller may answer (confirm or reject) this transfer now: (the refusal or
    None, and for a transfer past its timeout, its voided state, which the refusal keeps).

    A transfer past its timeout is voided by the answer itself, whatever the sweeper has
    reached, so a late answer gets the same outcome on every backend and at any sweep delay.
    Another partner's transfer looks exactly like one that does not exist.
    """
    if transfer is None or caller not in (
        transfer.source_partner_id,
        transfer.destination_partner_id,
    ):
        return DomainError(ErrorCode.TRANSFER_NOT_FOUND, "no such transfer"), None
    if transfer.destination_partner_id != caller:
        return DomainError(ErrorCode.NOT_A_PARTY, "only the destination confirms or rejects"), None
    if transfer.state is TransferState.PENDING and transfer.timeout_at_us <= now_us:
        refusal = DomainError(
            ErrorCode.TRANSFER_TIMED_OUT, "the transfer timed out before this answer and is voided"
        )
        return refusal, transfer.voided(VoidReason.TIMED_OUT, now_us)
    return None, None


def _confirmation(
    transfer: Transfer | None, caller: str, now_us: int, business_day: Callable[[], str]
) -> tuple[Outcome, Transfer | None]:
    """(what the caller gets, the new state to store or None): the single rules, in order."""
    refusal, voided = answerable(transfer, caller, now_us)
    if refusal is not None:
        return refusal, voided
    assert transfer is not None
    if transfer.state is TransferState.COMPLETED:
        return transfer, None
    try:
        completed = transfer.completed(now_us, business_day())
    except DomainError as not_pending:
        return not_pending, None
    return completed, completed


def confirm_credits(
    uow: UnitOfWork,
    now_us: int,
    caller: str,
    business_day: Callable[[], str],
    transfer_ids: Sequence[str],
) -> list[Outcome]:
    """Completes each pending transfer the caller is the destination of, in one go.

    A transfer past its timeout is voided here and now (and that void is kept), as a single
    confirmation does; one already completed comes back unchanged. `business_day` is asked
    only when something completes: opening a day is a write, and refusals write nothing.
    """
    found = uow.transfers.get_many([i for i in transfer_ids if i], for_update=True)
    outcomes: list[Outcome] = []
    resolved: list[tuple[Transfer, Transfer]] = []
    for transfer_id in transfer_ids:
        before = found.get(transfer_id)
        outcome, after = _confirmation(before, caller, now_us, business_day)
        outcomes.append(outcome)
        if before is not None and after is not None:
            resolved.append((before, after))
    resolve(uow, resolved, now_us)
    return outcomes
