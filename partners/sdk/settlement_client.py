"""Typed calls to SettlementService, and one-call verification of a hub-signed statement.

A statement is worth only what a partner can check of it: `verify_statement` checks the hub's
signature, that every line is exactly the record the hub committed to (RFC 6962 inclusion in
the signed Merkle root, docs/settlement-records.md), and that the totals and net add up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from coalition import merkle, wire
from coalition.keys import verify_signature
from coalition.records import decode_record
from coalition.v1 import common_pb2, settlement_pb2
from partners.sdk.connection import HubConnection

SERVICE = "/coalition.v1.SettlementService/"
STATEMENT_SIGNING_KIND = "statement"
PAYABLE = settlement_pb2.LINE_DIRECTION_PAYABLE
RECEIVABLE = settlement_pb2.LINE_DIRECTION_RECEIVABLE
# The record kind whose obligation runs the other way: the destination pays the source.
REVERSAL_KIND = "reversal"

# (business day, transfer id) -> the audit path of that line, e.g. GetInclusionProof.
ProofFetcher = Callable[[str, str], settlement_pb2.GetInclusionProofResponse]


class StatementVerificationError(Exception):
    """A statement that does not prove what it claims; `transfer_id` names the failing line."""

    def __init__(self, message: str, transfer_id: str = "") -> None:
        super().__init__(f"line {transfer_id}: {message}" if transfer_id else message)
        self.transfer_id = transfer_id


@dataclass(frozen=True)
class _Totals:
    receivable_minor: int = 0
    payable_minor: int = 0
    fees_minor: int = 0


def verify_statement(
    statement: settlement_pb2.Statement,
    hub_public_keys: dict[str, bytes],
    partner_id: str,
    proof_fetcher: ProofFetcher,
) -> settlement_pb2.StatementPayload:
    """Verifies a statement and returns its signed payload; raises StatementVerificationError.

    Checks, in this order: the hub signature over the payload bytes (before parsing them); the
    payload is `partner_id`'s; every line's record decodes strictly and says what the line says;
    every line is in the day's tree at its signed index (proofs from `proof_fetcher`, checked
    against the signed root and tree size only); the totals and the net add up.
    """
    payload = _signed_payload(statement, hub_public_keys)
    if payload.partner_id != partner_id:
        raise StatementVerificationError(
            f"the statement is for {payload.partner_id!r}, not {partner_id!r}"
        )
    if len(payload.merkle_root) != merkle.HASH_BYTES or payload.tree_size < 0:
        raise StatementVerificationError("the signed Merkle root or tree size is malformed")
    totals = _Totals()
    seen_ids: set[str] = set()
    seen_indexes: set[int] = set()
    for line in payload.lines:
        if line.transfer_id in seen_ids or line.leaf_index in seen_indexes:
            raise StatementVerificationError("the line appears twice", line.transfer_id)
        seen_ids.add(line.transfer_id)
        seen_indexes.add(line.leaf_index)
        _check_line(payload, line, partner_id)
        _check_inclusion(payload, line, proof_fetcher)
        totals = _add(totals, line)
    _check_totals(payload, totals)
    return payload


def _signed_payload(
    statement: settlement_pb2.Statement, hub_public_keys: dict[str, bytes]
) -> settlement_pb2.StatementPayload:
    public_key = hub_public_keys.get(statement.signing_key_id)
    if public_key is None:
        raise StatementVerificationError("the statement is not signed by a trusted hub key")
    signed = wire.payload_signing_bytes(kind=STATEMENT_SIGNING_KIND, payload=statement.payload)
    if not verify_signature(public_key, statement.signature, signed):
        raise StatementVerificationError("the statement has a bad hub signature")
    try:
        return settlement_pb2.StatementPayload.FromString(statement.payload)
    except DecodeError:
        raise StatementVerificationError("the statement has a malformed payload") from None


def _check_line(
    payload: settlement_pb2.StatementPayload, line: settlement_pb2.StatementLine, partner_id: str
) -> None:
    """The line's fields are exactly what its record says, seen from `partner_id`."""
    transfer_id = line.transfer_id
    try:
        record = decode_record(line.record)
    except ValueError as error:
        message = f"the record does not decode: {error}"
        raise StatementVerificationError(message, transfer_id) from None
    kind = record["kind"]
    source, destination = record["source_partner_id"], record["destination_partner_id"]
    payer, payee = (destination, source) if kind == REVERSAL_KIND else (source, destination)
    if partner_id == payer:
        direction, counterparty, fee = PAYABLE, payee, record["fee_minor"]
    elif partner_id == payee:
        direction, counterparty, fee = RECEIVABLE, payer, 0
    else:
        raise StatementVerificationError(f"the record does not involve {partner_id}", transfer_id)
    expected = (
        ("transfer id", transfer_id, record["transfer_id"]),
        ("business day", payload.business_day, record["business_day"]),
        ("currency", payload.currency_code, record["currency"]),
        ("amount currency", line.amount.currency_code, record["currency"]),
        ("amount", line.amount.amount_minor, record["amount_minor"]),
        ("fee", line.fee.amount_minor, fee),
        ("direction", line.direction, direction),
        ("counterparty", line.counterparty_id, counterparty),
    )
    for name, shown, recorded in expected:
        if shown != recorded:
            raise StatementVerificationError(
                f"the line's {name} is {shown!r}, its record says {recorded!r}", transfer_id
            )
    if line.fee.amount_minor and line.fee.currency_code != payload.currency_code:
        raise StatementVerificationError("the fee is in another currency", transfer_id)


def _check_inclusion(
    payload: settlement_pb2.StatementPayload,
    line: settlement_pb2.StatementLine,
    proof_fetcher: ProofFetcher,
) -> None:
    """The line's record is the leaf at its signed index of the signed tree."""
    transfer_id = line.transfer_id
    if not 0 <= line.leaf_index < payload.tree_size:
        raise StatementVerificationError("the leaf index is outside the signed tree", transfer_id)
    proof = proof_fetcher(payload.business_day, transfer_id)
    # The proof's own index and size are only compared, never used: the walk takes the signed
    # ones, so whoever serves proofs has nothing to choose (docs/settlement-records.md §3).
    if (proof.record, proof.leaf_index, proof.tree_size) != (
        line.record,
        line.leaf_index,
        payload.tree_size,
    ):
        raise StatementVerificationError(
            "the inclusion proof is for another record, index or tree", transfer_id
        )
    leaf = merkle.leaf_hash(line.record)
    path = list(proof.audit_path)
    if not merkle.verify_inclusion(
        leaf, line.leaf_index, payload.tree_size, path, payload.merkle_root
    ):
        raise StatementVerificationError(
            "the record is not in the signed Merkle root at its index", transfer_id
        )


def _add(totals: _Totals, line: settlement_pb2.StatementLine) -> _Totals:
    if line.direction == PAYABLE:
        return _Totals(
            totals.receivable_minor,
            totals.payable_minor + line.amount.amount_minor,
            totals.fees_minor + line.fee.amount_minor,
        )
    return _Totals(
        totals.receivable_minor + line.amount.amount_minor,
        totals.payable_minor,
        totals.fees_minor,
    )


def _check_totals(payload: settlement_pb2.StatementPayload, totals: _Totals) -> None:
    net_minor = totals.receivable_minor - totals.payable_minor - totals.fees_minor
    stated: Iterable[tuple[str, common_pb2.Money, int]] = (
        ("total receivable", payload.total_receivable, totals.receivable_minor),
        ("total payable", payload.total_payable, totals.payable_minor),
        ("total fees", payload.total_fees, totals.fees_minor),
        ("net", payload.net, net_minor),
    )
    for name, money, computed in stated:
        if money.currency_code != payload.currency_code:
            raise StatementVerificationError(f"the {name} is not in {payload.currency_code}")
        if money.amount_minor != computed:
            raise StatementVerificationError(
                f"the {name} is {money.amount_minor}, the lines add up to {computed}"
            )


class SettlementClient:
    """A partner's view of settled days: runs, statements, proofs, instructions, disputes."""

    def __init__(self, connection: HubConnection) -> None:
        self.connection = connection

    def get_settlement_run(
        self, business_day: str, currency_code: str
    ) -> settlement_pb2.SettlementRun:
        """The day's run in one currency: this partner's net position and the Merkle root."""
        response = self.connection.call(
            SERVICE + "GetSettlementRun",
            settlement_pb2.GetSettlementRunRequest(
                business_day=business_day, currency_code=currency_code
            ),
            settlement_pb2.GetSettlementRunResponse,
            changes_state=False,
        )
        return response.run

    def get_statement(self, business_day: str, currency_code: str) -> settlement_pb2.Statement:
        """The signed statement, unverified: see `verify_statement` or `verified_statement`."""
        response = self.connection.call(
            SERVICE + "GetStatement",
            settlement_pb2.GetStatementRequest(
                business_day=business_day, currency_code=currency_code
            ),
            settlement_pb2.GetStatementResponse,
            changes_state=False,
        )
        return response.statement

    def get_inclusion_proof(
        self, business_day: str, transfer_id: str
    ) -> settlement_pb2.GetInclusionProofResponse:
        return self.connection.call(
            SERVICE + "GetInclusionProof",
            settlement_pb2.GetInclusionProofRequest(
                business_day=business_day, transfer_id=transfer_id
            ),
            settlement_pb2.GetInclusionProofResponse,
            changes_state=False,
        )

    def list_payment_instructions(
        self, business_day: str
    ) -> list[settlement_pb2.PaymentInstruction]:
        """This partner's pay-ins and pay-outs of the day, with their clearing references."""
        response = self.connection.call(
            SERVICE + "ListPaymentInstructions",
            settlement_pb2.ListPaymentInstructionsRequest(business_day=business_day),
            settlement_pb2.ListPaymentInstructionsResponse,
            changes_state=False,
        )
        return list(response.instructions)

    def submit_reconciliation(
        self,
        business_day: str,
        records: Iterable[settlement_pb2.ReconciliationRecord],
        idempotency_key: str | None = None,
    ) -> settlement_pb2.SubmitReconciliationResponse:
        """Matches this partner's own records of the day; the same upload, the same report."""
        return self.connection.call(
            SERVICE + "SubmitReconciliation",
            settlement_pb2.SubmitReconciliationRequest(
                business_day=business_day, records=list(records)
            ),
            settlement_pb2.SubmitReconciliationResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )

    def open_dispute(
        self,
        business_day: str,
        transfer_id: str,
        claimed_amount: common_pb2.Money,
        reason: str,
        idempotency_key: str | None = None,
    ) -> settlement_pb2.Dispute:
        """Disputes one line: `claimed_amount` is what the line should have been."""
        response = self.connection.call(
            SERVICE + "OpenDispute",
            settlement_pb2.OpenDisputeRequest(
                business_day=business_day,
                transfer_id=transfer_id,
                claimed_amount=claimed_amount,
                reason=reason,
            ),
            settlement_pb2.OpenDisputeResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return response.dispute

    def resolve_dispute(
        self, dispute_id: str, accept: bool, reason: str, idempotency_key: str | None = None
    ) -> settlement_pb2.Dispute:
        """As the counterparty: accept (adjusted in the next open day) or reject, with a reason."""
        response = self.connection.call(
            SERVICE + "ResolveDispute",
            settlement_pb2.ResolveDisputeRequest(
                dispute_id=dispute_id, accept=accept, reason=reason
            ),
            settlement_pb2.ResolveDisputeResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return response.dispute

    def list_disputes(self) -> list[settlement_pb2.Dispute]:
        """Disputes this partner opened or must resolve."""
        response = self.connection.call(
            SERVICE + "ListDisputes",
            settlement_pb2.ListDisputesRequest(),
            settlement_pb2.ListDisputesResponse,
            changes_state=False,
        )
        return list(response.disputes)

    def verify_statement(
        self,
        statement: settlement_pb2.Statement,
        hub_public_keys: dict[str, bytes],
        partner_id: str,
        proof_fetcher: ProofFetcher | None = None,
    ) -> settlement_pb2.StatementPayload:
        """`verify_statement`, fetching each line's proof through this client unless told."""
        return verify_statement(
            statement, hub_public_keys, partner_id, proof_fetcher or self.get_inclusion_proof
        )

    def verified_statement(
        self, business_day: str, currency_code: str
    ) -> settlement_pb2.StatementPayload:
        """This partner's statement of the day, fetched and verified with every proof."""
        payload = self.verify_statement(
            self.get_statement(business_day, currency_code),
            self.connection.hub_public_keys,
            self.connection.partner_id,
        )
        if (payload.business_day, payload.currency_code) != (business_day, currency_code):
            raise StatementVerificationError(
                f"asked for {business_day} {currency_code}, the statement is for "
                f"{payload.business_day} {payload.currency_code}"
            )
        return payload
