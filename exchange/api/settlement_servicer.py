"""SettlementService: settled days, signed statements, proofs, instructions, breaks, disputes."""

from __future__ import annotations

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import settlement_pb2 as pb
from exchange.api.convert import timestamp
from exchange.api.pipeline import READ_ONLY, STATE_CHANGING, CallContext
from exchange.api.registry import rpc
from exchange.api.transfer_codec import money
from exchange.domain.disputes import Dispute
from exchange.domain.errors import invalid
from exchange.domain.ports import Clock
from exchange.services import disputes, statements
from settlement.calendar import CoalitionCalendar
from settlement.model import BreakKind, Direction, PartnerRecord

STATEMENT_SIGNING_KIND = "statement"
BREAK_KINDS = {kind: getattr(pb, f"BREAK_KIND_{kind.name}") for kind in BreakKind}
DIRECTIONS = {
    Direction.PAY_IN: pb.PAYMENT_DIRECTION_PAY_IN,
    Direction.PAY_OUT: pb.PAYMENT_DIRECTION_PAY_OUT,
}
DISPUTE_STATES = {
    disputes.OPEN: pb.DISPUTE_STATE_OPEN,
    disputes.ACCEPTED: pb.DISPUTE_STATE_ACCEPTED,
    disputes.REJECTED: pb.DISPUTE_STATE_REJECTED,
}
RECONCILIATION_DIRECTIONS = ("outgoing", "incoming")


def dispute_message(row: Dispute) -> pb.Dispute:
    message = pb.Dispute(
        dispute_id=row.dispute_id,
        business_day=row.business_day,
        transfer_id=row.transfer_id,
        opened_by_partner_id=row.opened_by,
        counterparty_id=row.counterparty,
        claimed_amount=money(row.claimed_minor, row.currency),
        recorded_amount=money(row.recorded_minor, row.currency),
        reason=row.reason,
        state=DISPUTE_STATES[row.state],
        resolution_reason=row.resolution_reason,
        adjustment_business_day=row.adjustment_business_day or "",
        open_time=timestamp(row.opened_at_us),
    )
    if row.resolved_at_us is not None:
        message.resolve_time.CopyFrom(timestamp(row.resolved_at_us))
    return message


class SettlementServicer:
    def __init__(self, clock: Clock, hub_key: SigningKey, calendar: CoalitionCalendar) -> None:
        self.clock = clock
        self.hub_key = hub_key
        self.calendar = calendar

    @rpc("GetSettlementRun", READ_ONLY)
    def get_settlement_run(
        self, request: pb.GetSettlementRunRequest, call: CallContext
    ) -> pb.GetSettlementRunResponse:
        day = statements.settled(call.uow, request.business_day)
        own = statements.own_position(
            call.uow, call.partner_id, request.business_day, request.currency_code
        )
        run = pb.SettlementRun(
            business_day=request.business_day,
            currency_code=request.currency_code,
            merkle_root=day.merkle_root,
            tree_size=day.tree_size,
            create_time=timestamp(day.settled_at_us),
        )
        if own is not None:
            run.positions.append(
                pb.NetPosition(
                    participant=own.participant,
                    receivable=money(own.receivable_minor, own.currency),
                    payable=money(own.payable_minor, own.currency),
                    net=money(own.net_minor, own.currency),
                )
            )
        return pb.GetSettlementRunResponse(run=run)

    @rpc("GetStatement", READ_ONLY)
    def get_statement(
        self, request: pb.GetStatementRequest, call: CallContext
    ) -> pb.GetStatementResponse:
        day = statements.settled(call.uow, request.business_day)
        currency = request.currency_code
        lines = list(
            statements.statement_lines(call.uow, call.partner_id, request.business_day, currency)
        )
        totals = statements.totals(lines)
        payload = pb.StatementPayload(
            partner_id=call.partner_id,
            business_day=request.business_day,
            currency_code=currency,
            lines=[self._line(line, call.partner_id) for line in lines],
            total_receivable=money(totals.receivable_minor, currency),
            total_payable=money(totals.payable_minor, currency),
            total_fees=money(totals.fees_minor, currency),
            net=money(totals.net_minor, currency),
            merkle_root=day.merkle_root,
            tree_size=day.tree_size,
        ).SerializeToString(deterministic=True)
        signed = wire.payload_signing_bytes(kind=STATEMENT_SIGNING_KIND, payload=payload)
        statement = pb.Statement(
            payload=payload,
            signing_key_id=self.hub_key.key_id,
            signature=self.hub_key.sign(signed),
        )
        return pb.GetStatementResponse(statement=statement)

    @staticmethod
    def _line(line: statements.StatementLine, partner_id: str) -> pb.StatementLine:
        record = line.record
        counterparty = record.payee if line.payable else record.payer
        return pb.StatementLine(
            transfer_id=record.transfer_id,
            record=line.record_bytes,
            leaf_index=line.leaf_index,
            direction=pb.LINE_DIRECTION_PAYABLE if line.payable else pb.LINE_DIRECTION_RECEIVABLE,
            counterparty_id=counterparty,
            amount=money(record.amount_minor, record.currency),
            fee=money(record.fee_minor if line.payable else 0, record.currency),
        )

    @rpc("GetInclusionProof", READ_ONLY)
    def get_inclusion_proof(
        self, request: pb.GetInclusionProofRequest, call: CallContext
    ) -> pb.GetInclusionProofResponse:
        index, size, path, record = statements.inclusion_proof(
            call.uow, call.partner_id, request.business_day, request.transfer_id
        )
        return pb.GetInclusionProofResponse(
            leaf_index=index, tree_size=size, audit_path=path, record=record
        )

    @rpc("ListPaymentInstructions", READ_ONLY)
    def list_payment_instructions(
        self, request: pb.ListPaymentInstructionsRequest, call: CallContext
    ) -> pb.ListPaymentInstructionsResponse:
        found = statements.payment_instructions(call.uow, call.partner_id, request.business_day)
        return pb.ListPaymentInstructionsResponse(
            instructions=[
                pb.PaymentInstruction(
                    clearing_reference=i.clearing_reference,
                    business_day=i.business_day,
                    participant=i.participant,
                    direction=DIRECTIONS[i.direction],
                    amount=money(i.amount_minor, i.currency),
                )
                for i in found
            ]
        )

    @rpc("SubmitReconciliation", STATE_CHANGING)
    def submit_reconciliation(
        self, request: pb.SubmitReconciliationRequest, call: CallContext
    ) -> pb.SubmitReconciliationResponse:
        statements.check_day(request.business_day)
        records = [_partner_record(r, i) for i, r in enumerate(request.records)]
        reconciliation_id, breaks = disputes.submit_reconciliation(
            call.uow, self.clock, call.partner_id, request.business_day, records
        )
        return pb.SubmitReconciliationResponse(
            reconciliation_id=reconciliation_id,
            breaks=[
                pb.ReconciliationBreak(
                    kind=BREAK_KINDS[b.kind], transfer_id=b.transfer_id, detail=b.detail
                )
                for b in breaks
            ],
        )

    @rpc("OpenDispute", STATE_CHANGING)
    def open_dispute(
        self, request: pb.OpenDisputeRequest, call: CallContext
    ) -> pb.OpenDisputeResponse:
        statements.check_day(request.business_day)
        command = disputes.OpenDispute(
            call.partner_id,
            request.business_day,
            request.transfer_id,
            request.claimed_amount.amount_minor,
            request.claimed_amount.currency_code,
            request.reason,
        )
        row = disputes.open_dispute(call.uow, self.clock, command)
        return pb.OpenDisputeResponse(dispute=dispute_message(row))

    @rpc("ResolveDispute", STATE_CHANGING)
    def resolve_dispute(
        self, request: pb.ResolveDisputeRequest, call: CallContext
    ) -> pb.ResolveDisputeResponse:
        row = disputes.resolve_dispute(
            call.uow,
            self.clock,
            self.calendar,
            call.partner_id,
            request.dispute_id,
            (request.accept, request.reason),
        )
        return pb.ResolveDisputeResponse(dispute=dispute_message(row))

    @rpc("ListDisputes", READ_ONLY)
    def list_disputes(
        self, request: pb.ListDisputesRequest, call: CallContext
    ) -> pb.ListDisputesResponse:
        rows = disputes.disputes_of(call.uow, call.partner_id)
        return pb.ListDisputesResponse(disputes=[dispute_message(row) for row in rows])


def _partner_record(record: pb.ReconciliationRecord, index: int) -> PartnerRecord:
    field = f"records[{index}]"
    if not record.transfer_id:
        raise invalid(f"{field}.transfer_id", "is required")
    if record.direction not in RECONCILIATION_DIRECTIONS:
        raise invalid(f"{field}.direction", "must be outgoing or incoming")
    if record.points < 0 or record.amount.amount_minor < 0:
        raise invalid(f"{field}.amount", "must not be negative")
    return PartnerRecord(
        record.transfer_id,
        record.direction,
        record.points,
        record.amount.amount_minor,
        record.amount.currency_code,
    )
