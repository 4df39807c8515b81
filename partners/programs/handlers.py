"""How a reference program applies each kind of verified feed event to its own store.

Every handler runs inside the transaction that records the event as processed, so an event's
effects (balances, outgoing rows, queued answers) land exactly once or not at all. Answers to
the hub are only queued here; they are sent after the transaction commits (see TransferDesk).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC

from coalition.v1 import event_pb2, exchange_pb2
from partners.programs.store import Member, StoreTransaction
from partners.programs.transfer_store import OutboxAction, OutboxEntry, OutgoingState

log = logging.getLogger(__name__)

# Applies one verified event inside the transaction that records it as processed.
EventHandler = Callable[[StoreTransaction, event_pb2.EventPayload], None]
# Given the member and the points the hub asks to credit, a reason to refuse (None: accept).
CreditPolicy = Callable[[Member, int], str | None]

# Reasons go to the source's support team: they say what, never who.
UNKNOWN_MEMBER_REASON = "unknown or closed account"
INSUFFICIENT_POINTS_REASON = "insufficient points"


def accept_every_credit(_member: Member, _points: int) -> str | None:
    return None


def refuse_every_credit(reason: str) -> CreditPolicy:
    """A policy for a program that takes no points in (e.g. during a migration freeze)."""

    def refuse(_member: Member, _points: int) -> str | None:
        return reason

    return refuse


def apply_tier_granted(transaction: StoreTransaction, payload: event_pb2.EventPayload) -> None:
    grant = payload.tier_granted
    member = transaction.member_by_ppid(grant.ppid)
    if member is None:
        log.info("event %s: tier grant for a ppid with no member; skipped", payload.event_id)
        return
    expires_at = grant.expire_time.ToDatetime(tzinfo=UTC)
    transaction.set_tier(member.member_number, grant.tier_code, expires_at)


def apply_member_erased(transaction: StoreTransaction, payload: event_pb2.EventPayload) -> None:
    member = transaction.member_by_ppid(payload.member_erased.ppid)
    if member is None:
        log.info("event %s: erasure for a ppid with no member; skipped", payload.event_id)
        return
    transaction.delete_member(member.member_number)


def apply_member_unlinked(transaction: StoreTransaction, payload: event_pb2.EventPayload) -> None:
    """Linking lives at the hub; the member's account here is unchanged."""
    log.info("event %s: a member's account was unlinked from the coalition", payload.event_id)


def _confirm(transaction: StoreTransaction, transfer_id: str, member: Member, delta: int) -> None:
    transaction.queue_answer(
        OutboxEntry(
            transfer_id, OutboxAction.CONFIRM, "", str(uuid.uuid4()), member.member_number, delta
        )
    )


def _reject(transaction: StoreTransaction, transfer_id: str, reason: str) -> None:
    transaction.queue_answer(
        OutboxEntry(transfer_id, OutboxAction.REJECT, reason, str(uuid.uuid4()), None, 0)
    )


def credit_requested_handler(policy: CreditPolicy) -> EventHandler:
    """As the destination: credit the member and queue ConfirmCredit, or queue RejectCredit."""

    def apply_credit_requested(
        transaction: StoreTransaction, payload: event_pb2.EventPayload
    ) -> None:
        request = payload.credit_requested
        member = transaction.member_by_ppid(request.ppid)
        if member is None:
            _reject(transaction, request.transfer_id, UNKNOWN_MEMBER_REASON)
            return
        refusal = policy(member, request.destination_points)
        if refusal is not None:
            _reject(transaction, request.transfer_id, refusal)
            return
        transaction.credit(member.member_number, request.destination_points)
        _confirm(transaction, request.transfer_id, member, request.destination_points)

    return apply_credit_requested


def apply_debit_requested(transaction: StoreTransaction, payload: event_pb2.EventPayload) -> None:
    """As a reversed transfer's destination: take the points back if the member still has them."""
    request = payload.debit_requested
    member = transaction.member_by_ppid(request.ppid)
    if member is None:
        _reject(transaction, request.transfer_id, UNKNOWN_MEMBER_REASON)
    elif transaction.debit(member.member_number, request.points):
        _confirm(transaction, request.transfer_id, member, -request.points)
    else:
        _reject(transaction, request.transfer_id, INSUFFICIENT_POINTS_REASON)


def _give_back(transaction: StoreTransaction, ppid: str, points: int, event_id: str) -> None:
    if points == 0:
        return
    member = transaction.member_by_ppid(ppid)
    if member is None:
        # The account closed (or was erased) while the points were away: nobody to give them to.
        log.warning("event %s: %s points for a ppid with no member; kept", event_id, points)
        return
    transaction.credit(member.member_number, points)


def apply_transfer_completed(
    transaction: StoreTransaction, payload: event_pb2.EventPayload
) -> None:
    """As the source: the transfer is done; a completed reversal gives the member points back."""
    completed = payload.transfer_completed
    transaction.resolve_outgoing(completed.transfer_id, OutgoingState.COMPLETED)
    if completed.kind == exchange_pb2.TRANSFER_KIND_REVERSAL:
        _give_back(transaction, completed.ppid, completed.points, payload.event_id)


def apply_transfer_voided(transaction: StoreTransaction, payload: event_pb2.EventPayload) -> None:
    """As the source: the hub voided it; refund what the event says (0 for a reversal)."""
    voided = payload.transfer_voided
    reason = exchange_pb2.VoidReason.Name(voided.reason).removeprefix("VOID_REASON_").lower()
    transaction.resolve_outgoing(voided.transfer_id, OutgoingState.VOIDED, reason)
    _give_back(transaction, voided.ppid, voided.points, payload.event_id)


def event_handlers(credit_policy: CreditPolicy = accept_every_credit) -> dict[str, EventHandler]:
    """Handlers keyed by the EventPayload `body` oneof name."""
    return {
        "tier_granted": apply_tier_granted,
        "member_erased": apply_member_erased,
        "member_unlinked": apply_member_unlinked,
        "credit_requested": credit_requested_handler(credit_policy),
        "debit_requested": apply_debit_requested,
        "transfer_completed": apply_transfer_completed,
        "transfer_voided": apply_transfer_voided,
    }


EVENT_HANDLERS: Mapping[str, EventHandler] = event_handlers()
