"""Batches of transfers and confirmations: one signed call, one transaction, many outcomes.

Each entry of CreateTransferBatch behaves exactly like a CreateTransfer call with the entry's
own idempotency key: its response is stored under that key, so the entry (in another batch,
or sent alone) can be retried safely. A refused entry writes nothing; the handlers refuse
before their first write, so the entries around it commit unharmed. Keys are locked, and
stored responses read and written, for the whole batch at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from coalition import wire
from coalition.v1 import exchange_pb2 as pb
from exchange.api import catalog
from exchange.api.pipeline import CallContext, idempotency_in_progress, replayed
from exchange.api.transfer_codec import transfer_message, transfer_order
from exchange.domain import limits
from exchange.domain.errors import DomainError, FieldChecks
from exchange.domain.ports import Clock, StoredResponse
from exchange.services import transfers
from exchange.services.bulk_transfers import Outcome
from exchange.services.transfers import TransferOrder, TransferSettings

# Entries are stored as CreateTransfer calls: a key works the same in a batch or alone.
CREATE_TRANSFER_PATH = "/coalition.v1.ExchangeService/CreateTransfer"


def check_entries(request: pb.CreateTransferBatchRequest, batch_key: str) -> None:
    """Bad input anywhere refuses the whole batch: every bad field is named, nothing written."""
    checks = FieldChecks()
    count = len(request.entries)
    checks.require(
        0 < count <= limits.TRANSFER_BATCH_ENTRIES_MAX,
        "entries",
        f"must hold 1 to {limits.TRANSFER_BATCH_ENTRIES_MAX} entries",
    )
    seen: set[str] = set()
    for index, entry in enumerate(request.entries[: limits.TRANSFER_BATCH_ENTRIES_MAX]):
        key = entry.idempotency_key
        field = f"entries[{index}].idempotency_key"
        if not wire.IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
            checks.require(False, field, "must be a lower-case UUID")
        elif key in seen or key == batch_key:
            checks.require(False, field, "must differ from every other key of the call")
        seen.add(key)
    checks.raise_if_any()


def check_transfer_ids(transfer_ids: Sequence[str]) -> None:
    checks = FieldChecks()
    count = len(transfer_ids)
    checks.require(
        0 < count <= limits.TRANSFER_BATCH_ENTRIES_MAX,
        "transfer_ids",
        f"must hold 1 to {limits.TRANSFER_BATCH_ENTRIES_MAX} ids",
    )
    checks.require(len(set(transfer_ids)) == count, "transfer_ids", "must not repeat an id")
    # Each result echoes its id: an unbounded id could make the response too large to send
    # after the call committed.
    for index, transfer_id in enumerate(transfer_ids[: limits.TRANSFER_BATCH_ENTRIES_MAX]):
        checks.require(
            len(transfer_id) <= limits.TRANSFER_ID_CHARS_MAX,
            f"transfer_ids[{index}]",
            f"must be at most {limits.TRANSFER_ID_CHARS_MAX} characters",
        )
    checks.raise_if_any()


@dataclass(frozen=True)
class _Entry:
    key: str
    order: TransferOrder
    body_sha256: bytes


class BatchRunner:
    def __init__(self, clock: Clock, settings: TransferSettings) -> None:
        self.clock = clock
        self.settings = settings

    def create(
        self, request: pb.CreateTransferBatchRequest, call: CallContext
    ) -> pb.CreateTransferBatchResponse:
        check_entries(request, call.idempotency_key)
        entries = [
            _Entry(
                entry.idempotency_key,
                transfer_order(entry.transfer),
                hashlib.sha256(entry.transfer.SerializeToString(deterministic=True)).digest(),
            )
            for entry in request.entries
        ]
        earlier = _earlier_outcomes(call, entries)
        new = [entry for entry in entries if entry.key not in earlier]
        started = transfers.start_transfers(
            call.uow, self.clock, self.settings, call.partner_id, [e.order for e in new]
        )
        results = dict(earlier)
        records: list[tuple[str, StoredResponse]] = []
        for entry, outcome in zip(new, started, strict=True):
            if isinstance(outcome, DomainError):
                error = catalog.item_error(_within_entry(outcome))
                results[entry.key] = pb.TransferBatchResult(idempotency_key=entry.key, error=error)
                continue
            response = pb.CreateTransferResponse(
                transfer=transfer_message(outcome, call.partner_id)
            )
            stored = response.SerializeToString(deterministic=True)
            records.append(
                (entry.key, StoredResponse(CREATE_TRANSFER_PATH, entry.body_sha256, stored))
            )
            results[entry.key] = pb.TransferBatchResult(
                idempotency_key=entry.key, transfer=response.transfer
            )
        call.uow.requests.store_responses(call.partner_id, records, self.clock.now_us())
        return pb.CreateTransferBatchResponse(results=[results[e.key] for e in entries])

    def confirm(
        self, request: pb.ConfirmCreditsRequest, call: CallContext
    ) -> pb.ConfirmCreditsResponse:
        check_transfer_ids(request.transfer_ids)
        outcomes = transfers.confirm_credits(
            call.uow, self.clock, call.partner_id, request.transfer_ids, self.settings.calendar
        )
        return pb.ConfirmCreditsResponse(
            results=[
                _confirmed(transfer_id, outcome, call.partner_id)
                for transfer_id, outcome in zip(request.transfer_ids, outcomes, strict=True)
            ]
        )


def _confirmed(transfer_id: str, outcome: Outcome, caller: str) -> pb.ConfirmCreditResult:
    # A refusal that keeps its writes (a timed-out transfer voided now) keeps them here too:
    # the whole batch commits.
    if isinstance(outcome, DomainError):
        return pb.ConfirmCreditResult(transfer_id=transfer_id, error=catalog.item_error(outcome))
    return pb.ConfirmCreditResult(
        transfer_id=transfer_id, transfer=transfer_message(outcome, caller)
    )


def _earlier_outcomes(
    call: CallContext, entries: Sequence[_Entry]
) -> dict[str, pb.TransferBatchResult]:
    """Entries whose key was used before (their first outcome, or a refusal) or is in use now."""
    keys = [entry.key for entry in entries]
    requests = call.uow.requests
    busy = requests.lock_idempotency_keys(call.partner_id, keys)
    stored = requests.stored_responses(call.partner_id, keys)
    found: dict[str, pb.TransferBatchResult] = {}
    for entry in entries:
        try:
            if entry.key in busy:
                raise idempotency_in_progress()
            earlier = replayed(stored.get(entry.key), CREATE_TRANSFER_PATH, entry.body_sha256)
        except DomainError as refusal:
            found[entry.key] = pb.TransferBatchResult(
                idempotency_key=entry.key, error=catalog.item_error(refusal)
            )
            continue
        if earlier is not None:
            transfer = pb.CreateTransferResponse.FromString(earlier).transfer
            found[entry.key] = pb.TransferBatchResult(idempotency_key=entry.key, transfer=transfer)
    return found


def _within_entry(refusal: DomainError) -> DomainError:
    """Field names of an entry's refusal, as paths within the entry (`transfer.ppid`)."""
    if not refusal.field_violations:
        return refusal
    violations = tuple(
        type(v)(f"transfer.{v.field}", v.description) for v in refusal.field_violations
    )
    return DomainError(refusal.code, refusal.message, violations)
