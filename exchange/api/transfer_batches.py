"""Batches of transfers and confirmations: one signed call, one transaction, many outcomes.

Each entry of CreateTransferBatch behaves exactly like a CreateTransfer call with the entry's
own idempotency key: its response is stored under that key, so the entry (in another batch,
or sent alone) can be retried safely. A refused entry writes nothing; the handlers refuse
before their first write, so the entries around it commit unharmed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from coalition import wire
from coalition.v1 import exchange_pb2 as pb
from exchange.api import catalog
from exchange.api.pipeline import CallContext
from exchange.api.transfer_codec import transfer_message
from exchange.domain import limits
from exchange.domain.errors import DomainError, ErrorCode, FieldChecks
from exchange.domain.ports import Clock, StoredResponse
from exchange.domain.transfers import Transfer
from exchange.services import transfers
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
    checks.raise_if_any()


def _order(message: pb.CreateTransferRequest) -> TransferOrder:
    return TransferOrder(
        message.quote_id, message.ppid, message.destination_partner_id, message.source_points
    )


class BatchRunner:
    def __init__(self, clock: Clock, settings: TransferSettings) -> None:
        self.clock = clock
        self.settings = settings

    def create(
        self, request: pb.CreateTransferBatchRequest, call: CallContext
    ) -> pb.CreateTransferBatchResponse:
        check_entries(request, call.idempotency_key)
        return pb.CreateTransferBatchResponse(
            results=[self._create_one(entry, call) for entry in request.entries]
        )

    def _create_one(
        self, entry: pb.TransferBatchEntry, call: CallContext
    ) -> pb.TransferBatchResult:
        key = entry.idempotency_key
        body_sha256 = hashlib.sha256(entry.transfer.SerializeToString(deterministic=True)).digest()
        try:
            stored = _stored_entry(call, key, body_sha256)
            if stored is not None:
                return pb.TransferBatchResult(idempotency_key=key, transfer=stored.transfer)
            transfer = transfers.start_transfer(
                call.uow, self.clock, self.settings, call.partner_id, _order(entry.transfer)
            )
        except DomainError as refusal:
            return pb.TransferBatchResult(
                idempotency_key=key, error=catalog.item_error(_within_entry(refusal))
            )
        response = pb.CreateTransferResponse(transfer=transfer_message(transfer, call.partner_id))
        record = StoredResponse(
            CREATE_TRANSFER_PATH, body_sha256, response.SerializeToString(deterministic=True)
        )
        call.uow.requests.store_response(call.partner_id, key, record, self.clock.now_us())
        return pb.TransferBatchResult(idempotency_key=key, transfer=response.transfer)

    def confirm(
        self, request: pb.ConfirmCreditsRequest, call: CallContext
    ) -> pb.ConfirmCreditsResponse:
        check_transfer_ids(request.transfer_ids)

        def confirm_one(transfer_id: str) -> Transfer:
            return transfers.confirm_credit(
                call.uow, self.clock, call.partner_id, transfer_id, self.settings.calendar
            )

        return pb.ConfirmCreditsResponse(
            results=[
                _confirmed(transfer_id, confirm_one, call) for transfer_id in request.transfer_ids
            ]
        )


def _confirmed(
    transfer_id: str, confirm_one: Callable[[str], Transfer], call: CallContext
) -> pb.ConfirmCreditResult:
    try:
        transfer = confirm_one(transfer_id)
    except DomainError as refusal:
        # A refusal that keeps its writes (a timed-out transfer voided now) keeps them here too:
        # the whole batch commits.
        return pb.ConfirmCreditResult(transfer_id=transfer_id, error=catalog.item_error(refusal))
    return pb.ConfirmCreditResult(
        transfer_id=transfer_id, transfer=transfer_message(transfer, call.partner_id)
    )


def _stored_entry(
    call: CallContext, key: str, body_sha256: bytes
) -> pb.CreateTransferResponse | None:
    """The first outcome of this entry's key, or None to start the transfer now."""
    requests = call.uow.requests
    if not requests.lock_idempotency_key(call.partner_id, key):
        raise DomainError(
            ErrorCode.IDEMPOTENCY_IN_PROGRESS, "a call with this idempotency key is in progress"
        )
    stored = requests.stored_response(call.partner_id, key)
    if stored is None:
        return None
    if stored.method != CREATE_TRANSFER_PATH or stored.request_sha256 != body_sha256:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "this idempotency key was used for a different request",
        )
    return pb.CreateTransferResponse.FromString(stored.response)


def _within_entry(refusal: DomainError) -> DomainError:
    """Field names of an entry's refusal, as paths within the entry (`transfer.ppid`)."""
    if not refusal.field_violations:
        return refusal
    violations = tuple(
        type(v)(f"transfer.{v.field}", v.description) for v in refusal.field_violations
    )
    return DomainError(refusal.code, refusal.message, violations)
