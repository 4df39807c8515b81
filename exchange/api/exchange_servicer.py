"""ExchangeService: translates requests into rate and transfer handlers, results into responses."""

from __future__ import annotations

from coalition.keys import SigningKey
from coalition.v1 import exchange_pb2 as pb
from exchange.api import paging
from exchange.api.convert import terms_from_message, timestamp, timestamp_us
from exchange.api.pipeline import READ_ONLY, STATE_CHANGING, CallContext
from exchange.api.registry import rpc
from exchange.api.tier_servicer import AGREEMENT_STATES
from exchange.api.transfer_batches import BatchRunner
from exchange.api.transfer_codec import (
    STATES_FROM_MESSAGE,
    QuoteSigner,
    quote_message,
    quote_request,
    transfer_message,
    transfer_order,
)
from exchange.domain.errors import invalid
from exchange.domain.ports import Clock
from exchange.domain.rates import RateAgreement, RateTerms
from exchange.services import rates, transfers
from exchange.services.transfers import TransferSettings

POSITION_SEPARATOR = "|"


def terms_message(terms: RateTerms) -> pb.RateTerms:
    message = pb.RateTerms(
        source_units=terms.source_units,
        destination_units=terms.destination_units,
        minimum_source_points=terms.minimum_source_points,
        increment_source_points=terms.increment_source_points,
        maximum_source_points=terms.maximum_source_points,
        member_daily_cap_source_points=terms.member_daily_cap_source_points,
        bonus_percent=terms.bonus_percent,
        settlement_currency_code=terms.currency,
        price_per_destination_point=str(terms.price_per_destination_point),
        effective_from=timestamp(terms.effective_from_us),
    )
    for field, value in (
        ("bonus_start_time", terms.bonus_start_us),
        ("bonus_end_time", terms.bonus_end_us),
        ("effective_to", terms.effective_to_us),
    ):
        if value is not None:
            getattr(message, field).CopyFrom(timestamp(value))
    return message


def agreement_message(agreement: RateAgreement) -> pb.RateAgreement:
    message = pb.RateAgreement(
        agreement_id=agreement.agreement_id,
        version=agreement.version,
        source_partner_id=agreement.source_partner_id,
        destination_partner_id=agreement.destination_partner_id,
        terms=terms_message(agreement.terms),
        state=AGREEMENT_STATES[agreement.state],
        proposed_by_partner_id=agreement.proposed_by,
        propose_time=timestamp(agreement.proposed_at_us),
    )
    if agreement.accepted_at_us is not None:
        message.accept_time.CopyFrom(timestamp(agreement.accepted_at_us))
    return message


def _agreement_position(text: str) -> bool:
    agreement_id, _, version = text.partition(POSITION_SEPARATOR)
    return agreement_id.startswith("rt_") and version.isdigit()


def _transfer_position(text: str) -> bool:
    created, _, transfer_id = text.partition(POSITION_SEPARATOR)
    return created.isdigit() and transfer_id.startswith("tr_")


class ExchangeServicer:
    def __init__(self, clock: Clock, hub_key: SigningKey, settings: TransferSettings) -> None:
        self.clock = clock
        self.hub_key = hub_key
        self.settings = settings
        self.seal = QuoteSigner(hub_key)
        self.batches = BatchRunner(clock, settings)

    @rpc("ProposeRateAgreement", STATE_CHANGING)
    def propose_rate_agreement(
        self, request: pb.ProposeRateAgreementRequest, call: CallContext
    ) -> pb.ProposeRateAgreementResponse:
        agreement = rates.propose_rate_agreement(
            call.uow,
            self.clock,
            call.partner_id,
            request.source_partner_id,
            request.destination_partner_id,
            terms_from_message(request.terms),
        )
        return pb.ProposeRateAgreementResponse(agreement=agreement_message(agreement))

    @rpc("AcceptRateAgreement", STATE_CHANGING)
    def accept_rate_agreement(
        self, request: pb.AcceptRateAgreementRequest, call: CallContext
    ) -> pb.AcceptRateAgreementResponse:
        agreement = rates.accept_rate_agreement(
            call.uow, self.clock, call.partner_id, request.agreement_id, request.version
        )
        return pb.AcceptRateAgreementResponse(agreement=agreement_message(agreement))

    @rpc("ListRateAgreements", READ_ONLY)
    def list_rate_agreements(
        self, request: pb.ListRateAgreementsRequest, call: CallContext
    ) -> pb.ListRateAgreementsResponse:
        size = paging.page_size(request.page_size)
        position = paging.decode_token(request.page_token, _agreement_position)
        after = None
        if position:
            agreement_id, _, version = position.partition(POSITION_SEPARATOR)
            after = (agreement_id, int(version))
        page, last = rates.list_rate_agreements(call.uow, call.partner_id, after, size)
        token = paging.encode_token(f"{last[0]}{POSITION_SEPARATOR}{last[1]}") if last else ""
        return pb.ListRateAgreementsResponse(
            agreements=[agreement_message(a) for a in page], next_page_token=token
        )

    @rpc("CreateQuote", STATE_CHANGING)
    def create_quote(
        self, request: pb.CreateQuoteRequest, call: CallContext
    ) -> pb.CreateQuoteResponse:
        quote = transfers.create_quote(
            call.uow,
            self.clock,
            self.settings,
            self.seal,
            quote_request(request, call.partner_id),
        )
        return pb.CreateQuoteResponse(quote=quote_message(quote, self.hub_key.key_id))

    @rpc("CreateTransfer", STATE_CHANGING)
    def create_transfer(
        self, request: pb.CreateTransferRequest, call: CallContext
    ) -> pb.CreateTransferResponse:
        transfer = transfers.start_transfer(
            call.uow, self.clock, self.settings, call.partner_id, transfer_order(request)
        )
        return pb.CreateTransferResponse(transfer=transfer_message(transfer, call.partner_id))

    @rpc("CreateTransferBatch", STATE_CHANGING)
    def create_transfer_batch(
        self, request: pb.CreateTransferBatchRequest, call: CallContext
    ) -> pb.CreateTransferBatchResponse:
        return self.batches.create(request, call)

    @rpc("ConfirmCredits", STATE_CHANGING)
    def confirm_credits(
        self, request: pb.ConfirmCreditsRequest, call: CallContext
    ) -> pb.ConfirmCreditsResponse:
        return self.batches.confirm(request, call)

    @rpc("GetTransfer", READ_ONLY)
    def get_transfer(
        self, request: pb.GetTransferRequest, call: CallContext
    ) -> pb.GetTransferResponse:
        transfer = transfers.visible_transfer(call.uow, call.partner_id, request.transfer_id)
        return pb.GetTransferResponse(transfer=transfer_message(transfer, call.partner_id))

    @rpc("ListTransfers", READ_ONLY)
    def list_transfers(
        self, request: pb.ListTransfersRequest, call: CallContext
    ) -> pb.ListTransfersResponse:
        size = paging.page_size(request.page_size)
        position = paging.decode_token(request.page_token, _transfer_position)
        before = None
        if position:
            created, _, transfer_id = position.partition(POSITION_SEPARATOR)
            before = (int(created), transfer_id)
        if request.state and request.state not in STATES_FROM_MESSAGE:
            raise invalid("state", "is not a transfer state")
        window = (
            timestamp_us(request.start_time, "start_time")
            if request.HasField("start_time")
            else None,
            timestamp_us(request.end_time, "end_time") if request.HasField("end_time") else None,
        )
        state = STATES_FROM_MESSAGE.get(request.state)
        page, last = transfers.list_transfers(
            call.uow, call.partner_id, state, window, before, size
        )
        token = ""
        if last is not None:
            token = paging.encode_token(
                f"{last.created_at_us}{POSITION_SEPARATOR}{last.transfer_id}"
            )
        return pb.ListTransfersResponse(
            transfers=[transfer_message(t, call.partner_id) for t in page], next_page_token=token
        )

    @rpc("ConfirmCredit", STATE_CHANGING)
    def confirm_credit(
        self, request: pb.ConfirmCreditRequest, call: CallContext
    ) -> pb.ConfirmCreditResponse:
        transfer = transfers.confirm_credit(
            call.uow, self.clock, call.partner_id, request.transfer_id, self.settings.calendar
        )
        return pb.ConfirmCreditResponse(transfer=transfer_message(transfer, call.partner_id))

    @rpc("RejectCredit", STATE_CHANGING)
    def reject_credit(
        self, request: pb.RejectCreditRequest, call: CallContext
    ) -> pb.RejectCreditResponse:
        transfer = transfers.reject_credit(
            call.uow, self.clock, call.partner_id, request.transfer_id, request.reason
        )
        return pb.RejectCreditResponse(transfer=transfer_message(transfer, call.partner_id))

    @rpc("CreateReversal", STATE_CHANGING)
    def create_reversal(
        self, request: pb.CreateReversalRequest, call: CallContext
    ) -> pb.CreateReversalResponse:
        reversal = transfers.create_reversal(
            call.uow, self.clock, self.settings, call.partner_id, request.transfer_id
        )
        return pb.CreateReversalResponse(reversal=transfer_message(reversal, call.partner_id))
