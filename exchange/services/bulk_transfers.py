"""Starting and confirming many transfers in one unit of work, in a handful of statements.

Each entry is priced by the one transfer engine (exchange/services/transfer_engine.py), so the
rules, their order and their refusals are those of a single transfer; only the reads and
writes are gathered: every member, link, agreement and daily total is read once up front, and
every transfer, journal and event is written in one go.
Refusals come before any write, so a refused item leaves nothing behind.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from exchange.domain.errors import DomainError, ErrorCode
from exchange.domain.events import CreditRequested, FeedEvent, TransferCompleted, TransferVoided
from exchange.domain.ledger import (
    Journal,
    Leg,
    hold_journal,
    post_journal,
    transfer_legs,
    void_journal,
)
from exchange.domain.ports import UnitOfWork
from exchange.domain.transfers import Transfer, TransferState, VoidReason
from exchange.services.transfer_engine import (
    TransferRequest,
    pending_transfer,
    price_transfer,
    read_batch_facts,
)

Outcome = Transfer | DomainError


def start_inline_transfers(
    uow: UnitOfWork,
    now_us: int,
    caller: str,
    requests: Sequence[TransferRequest],
    *,
    fee_basis_points: int,
    timeout_s: int,
) -> list[Outcome]:
    """Starts each transfer the rules allow, in order; the others get their refusal."""
    facts = read_batch_facts(uow, caller, requests, now_us)
    outcomes: list[Outcome] = []
    for request in requests:
        try:
            pricing = price_transfer(facts, request, now_us, fee_basis_points)
        except DomainError as refusal:
            outcomes.append(refusal)
            continue
        facts.count(pricing)
        outcomes.append(pending_transfer(pricing, now_us=now_us, timeout_s=timeout_s))
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
