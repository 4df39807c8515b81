"""Moving points out of a program, and answering the hub about points moving in.

The member is debited and the outgoing row written in one local transaction before the hub is
asked; the hub call carries that row's idempotency key, so a crash or a lost response is fixed
by asking again with the same key (`resume_outgoing`), never by guessing. Answers owed to the
hub wait in the outbox with their own keys until the hub has taken them (`flush_outbox`).
"""

from __future__ import annotations

import logging
import uuid

import grpc

from coalition.v1 import exchange_pb2
from partners.programs.errors import (
    InsufficientPoints,
    QuoteMismatch,
    TransferNotReversible,
    UnknownMember,
    UnknownTransfer,
)
from partners.programs.store import Member, ProgramStore
from partners.programs.transfer_store import (
    OutboxAction,
    OutboxEntry,
    OutboxOutcome,
    OutgoingKind,
    OutgoingState,
    OutgoingTransfer,
)
from partners.sdk.connection import HubError, ResponseVerificationError
from partners.sdk.exchange_client import ExchangeClient

log = logging.getLogger(__name__)

# Refusals after which the hub provably started nothing (a refused request writes nothing), so
# the member can be refunded. Anything else (unreachable, throttled, ABORTED while an earlier
# attempt runs, INTERNAL) leaves the outcome unknown: retry with the same key instead.
REFUSAL_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.PERMISSION_DENIED,
    }
)
# The key was used for other bytes: not a refusal of this request, and never a reason to refund.
IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
# What the hub says when the row's own earlier attempt started it and the stored response for
# its key is gone (kept 7 days): the transfer exists, so the row adopts it instead of refunding.
ALREADY_STARTED_REASONS = frozenset({"QUOTE_ALREADY_USED", "ALREADY_REVERSED"})
# The hub resolved the transfer before our answer reached it: it timed out (voided now, by
# this very answer, or earlier by the hub's sweeper).
RESOLVED_FIRST_REASONS = frozenset({"TRANSFER_TIMED_OUT", "TRANSFER_NOT_PENDING"})


def _is_refusal(error: HubError) -> bool:
    return error.code in REFUSAL_CODES and error.reason != IDEMPOTENCY_KEY_REUSED


class TransferDesk:
    """One program's outgoing transfers and its answers to incoming ones."""

    def __init__(self, partner_id: str, store: ProgramStore, exchange: ExchangeClient) -> None:
        self.partner_id = partner_id
        self.store = store
        self.exchange = exchange

    def transfer_out(
        self, member_number: str, destination_partner_id: str, points: int
    ) -> OutgoingTransfer:
        """Quotes, debits the member with the outgoing row, then asks the hub to start it.

        Refusals before the debit raise (HubError for the quote, ProgramError here). After it,
        the returned row tells: STARTED (wait for the feed), REFUSED (refunded already), or
        PENDING (the hub could not be reached: `resume_outgoing` retries with the same key).
        """
        if points <= 0:
            raise ValueError("points must be positive")
        member = self._member(member_number)
        if member.points < points:
            raise InsufficientPoints(f"{member_number} has {member.points} points")
        quote = self.exchange.create_quote(member.ppid, destination_partner_id, points)
        self._check_quote(quote, member, destination_partner_id, points)
        key = str(uuid.uuid4())
        with self.store.transaction() as transaction:
            if not transaction.debit(member_number, points):
                raise InsufficientPoints(f"{member_number} has fewer than {points} points")
            transaction.add_outgoing(
                OutgoingTransfer(
                    key,
                    OutgoingKind.TRANSFER,
                    member_number,
                    destination_partner_id,
                    points,
                    quote.destination_points,
                    quote.quote_id,
                    None,
                    None,
                    OutgoingState.PENDING,
                )
            )
        return self._start(key)

    def request_reversal(self, transfer_id: str) -> OutgoingTransfer:
        """Asks the hub to reverse a completed outgoing transfer; points come back on completion."""
        original = self.store.outgoing_by_transfer(transfer_id)
        if original is None or original.kind is not OutgoingKind.TRANSFER:
            raise UnknownTransfer(transfer_id)
        if original.state is not OutgoingState.COMPLETED:
            raise TransferNotReversible(f"{transfer_id} is {original.state.value}")
        key = str(uuid.uuid4())
        with self.store.transaction() as transaction:
            transaction.add_outgoing(
                OutgoingTransfer(
                    key,
                    OutgoingKind.REVERSAL,
                    original.member_number,
                    original.destination_partner_id,
                    original.points,
                    original.destination_points,
                    None,
                    transfer_id,
                    None,
                    OutgoingState.PENDING,
                )
            )
        return self._start(key)

    def resume_outgoing(self) -> list[OutgoingTransfer]:
        """Asks again, with the same keys, for every transfer the hub has not acknowledged."""
        pending = self.store.outgoing_in_state(OutgoingState.PENDING)
        return [self._start(row.idempotency_key) for row in pending]

    def _start(self, key: str) -> OutgoingTransfer:
        row = self._row(key)
        try:
            transfer = self._ask_hub(row)
        except HubError as error:
            found = self._after_refusal(row, error)
            if found is None:
                return self._row(key)
            transfer = found
        except ResponseVerificationError as error:
            log.warning("outgoing %s stays pending: %s", key, error)
            return row
        with self.store.transaction() as transaction:
            transaction.start_outgoing(key, transfer.transfer_id)
        return self._row(key)

    def _ask_hub(self, row: OutgoingTransfer) -> exchange_pb2.Transfer:
        key = row.idempotency_key
        if row.kind is OutgoingKind.TRANSFER:
            assert row.quote_id is not None, "a transfer row names its quote"
            return self.exchange.create_transfer(row.quote_id, idempotency_key=key)
        assert row.original_transfer_id is not None, "a reversal row names its original"
        return self.exchange.create_reversal(row.original_transfer_id, idempotency_key=key)

    def _after_refusal(
        self, row: OutgoingTransfer, error: HubError
    ) -> exchange_pb2.Transfer | None:
        """The transfer the hub already holds for the row, if any; else the row is refunded
        (a refusal) or left pending (an unknown outcome)."""
        if error.reason in ALREADY_STARTED_REASONS:
            found = self._started_earlier(row)
            if found is not None:
                return found
        if _is_refusal(error):
            self._refuse(row, error.reason or error.code.name)
        else:
            log.warning("outgoing %s stays pending: %s", row.idempotency_key, error.code.name)
        return None

    def _started_earlier(self, row: OutgoingTransfer) -> exchange_pb2.Transfer | None:
        """The hub's live transfer for this row's quote (or reversal of this original)."""
        for transfer in self.exchange.transfers():
            if row.kind is OutgoingKind.TRANSFER and transfer.quote_id == row.quote_id:
                return transfer
            if (
                row.kind is OutgoingKind.REVERSAL
                and transfer.original_transfer_id == row.original_transfer_id
                and transfer.state != exchange_pb2.TRANSFER_STATE_VOIDED
            ):
                return transfer
        return None

    def _refuse(self, row: OutgoingTransfer, reason: str) -> None:
        log.info("outgoing %s refused by the hub: %s", row.idempotency_key, reason)
        with self.store.transaction() as transaction:
            refused = transaction.refuse_outgoing(row.idempotency_key, reason)
            if refused and row.kind is OutgoingKind.TRANSFER:
                transaction.credit(row.member_number, row.points)

    def flush_outbox(self) -> int:
        """Sends every queued answer with its own key; returns how many the hub has now.

        Stops at the first answer whose fate is unknown (hub unreachable, unverifiable
        response); that one and the rest go next time, with the same keys.
        """
        sent = 0
        for entry in self.store.outbox(unsent_only=True):
            try:
                self._send(entry)
            except HubError as error:
                if not _is_refusal(error):
                    log.warning("answer for %s not sent: %s", entry.transfer_id, error.code.name)
                    return sent
                # A refusal other than "resolved already" is a bug to look at; keep it queued.
                log.error("answer for %s refused: %s", entry.transfer_id, error.reason)
                continue
            except ResponseVerificationError as error:
                log.warning("answer for %s unconfirmed: %s", entry.transfer_id, error)
                return sent
            sent += 1
        return sent

    def _send(self, entry: OutboxEntry) -> None:
        """Sends one answer and records the hub's verdict; raises if its fate is unknown."""
        try:
            if entry.action is OutboxAction.CONFIRM:
                self.exchange.confirm_credit(
                    entry.transfer_id, idempotency_key=entry.idempotency_key
                )
            else:
                self.exchange.reject_credit(
                    entry.transfer_id, entry.reason, idempotency_key=entry.idempotency_key
                )
        except HubError as error:
            if error.reason not in RESOLVED_FIRST_REASONS:
                raise
            self._resolved_first(entry)
            return
        with self.store.transaction() as transaction:
            transaction.mark_answer_sent(entry.transfer_id, OutboxOutcome.ACCEPTED)

    def _resolved_first(self, entry: OutboxEntry) -> None:
        """The hub voided the transfer (timeout) before our answer: undo what we applied."""
        transfer = self.exchange.get_transfer(entry.transfer_id)
        voided = transfer.state == exchange_pb2.TRANSFER_STATE_VOIDED
        with self.store.transaction() as transaction:
            if not transaction.mark_answer_sent(entry.transfer_id, OutboxOutcome.RESOLVED_FIRST):
                return
            if not voided or entry.member_number is None or entry.points_delta == 0:
                return
            member = transaction.member(entry.member_number)
            if member is None:
                return
            if entry.points_delta < 0:
                transaction.credit(member.member_number, -entry.points_delta)
                return
            # The member may have spent some already: take back what is there, report the rest.
            taken = min(member.points, entry.points_delta)
            transaction.debit(member.member_number, taken)
            if taken < entry.points_delta:
                log.warning(
                    "transfer %s voided after crediting; %s points were spent already",
                    entry.transfer_id,
                    entry.points_delta - taken,
                )

    def _check_quote(
        self,
        quote: exchange_pb2.QuotePayload,
        member: Member,
        destination_partner_id: str,
        points: int,
    ) -> None:
        asked = (self.partner_id, destination_partner_id, member.ppid, points)
        offered = (
            quote.source_partner_id,
            quote.destination_partner_id,
            quote.ppid,
            quote.source_points,
        )
        if offered != asked:
            raise QuoteMismatch(f"quote {quote.quote_id} is not for the transfer asked")

    def _member(self, member_number: str) -> Member:
        member = self.store.member(member_number)
        if member is None:
            raise UnknownMember(member_number)
        return member

    def _row(self, key: str) -> OutgoingTransfer:
        row = self.store.outgoing(key)
        assert row is not None, "an outgoing row is never deleted"
        return row
