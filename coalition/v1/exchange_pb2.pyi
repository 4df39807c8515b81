import datetime

from coalition.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TransferState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSFER_STATE_UNSPECIFIED: _ClassVar[TransferState]
    TRANSFER_STATE_PENDING: _ClassVar[TransferState]
    TRANSFER_STATE_COMPLETED: _ClassVar[TransferState]
    TRANSFER_STATE_VOIDED: _ClassVar[TransferState]

class TransferKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSFER_KIND_UNSPECIFIED: _ClassVar[TransferKind]
    TRANSFER_KIND_TRANSFER: _ClassVar[TransferKind]
    TRANSFER_KIND_REVERSAL: _ClassVar[TransferKind]

class VoidReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VOID_REASON_UNSPECIFIED: _ClassVar[VoidReason]
    VOID_REASON_REJECTED: _ClassVar[VoidReason]
    VOID_REASON_TIMED_OUT: _ClassVar[VoidReason]
TRANSFER_STATE_UNSPECIFIED: TransferState
TRANSFER_STATE_PENDING: TransferState
TRANSFER_STATE_COMPLETED: TransferState
TRANSFER_STATE_VOIDED: TransferState
TRANSFER_KIND_UNSPECIFIED: TransferKind
TRANSFER_KIND_TRANSFER: TransferKind
TRANSFER_KIND_REVERSAL: TransferKind
VOID_REASON_UNSPECIFIED: VoidReason
VOID_REASON_REJECTED: VoidReason
VOID_REASON_TIMED_OUT: VoidReason

class RateTerms(_message.Message):
    __slots__ = ("source_units", "destination_units", "minimum_source_points", "increment_source_points", "maximum_source_points", "member_daily_cap_source_points", "bonus_percent", "bonus_start_time", "bonus_end_time", "settlement_currency_code", "price_per_destination_point", "effective_from", "effective_to")
    SOURCE_UNITS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_UNITS_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_SOURCE_POINTS_FIELD_NUMBER: _ClassVar[int]
    INCREMENT_SOURCE_POINTS_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_SOURCE_POINTS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_DAILY_CAP_SOURCE_POINTS_FIELD_NUMBER: _ClassVar[int]
    BONUS_PERCENT_FIELD_NUMBER: _ClassVar[int]
    BONUS_START_TIME_FIELD_NUMBER: _ClassVar[int]
    BONUS_END_TIME_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_DESTINATION_POINT_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_TO_FIELD_NUMBER: _ClassVar[int]
    source_units: int
    destination_units: int
    minimum_source_points: int
    increment_source_points: int
    maximum_source_points: int
    member_daily_cap_source_points: int
    bonus_percent: int
    bonus_start_time: _timestamp_pb2.Timestamp
    bonus_end_time: _timestamp_pb2.Timestamp
    settlement_currency_code: str
    price_per_destination_point: str
    effective_from: _timestamp_pb2.Timestamp
    effective_to: _timestamp_pb2.Timestamp
    def __init__(self, source_units: _Optional[int] = ..., destination_units: _Optional[int] = ..., minimum_source_points: _Optional[int] = ..., increment_source_points: _Optional[int] = ..., maximum_source_points: _Optional[int] = ..., member_daily_cap_source_points: _Optional[int] = ..., bonus_percent: _Optional[int] = ..., bonus_start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bonus_end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settlement_currency_code: _Optional[str] = ..., price_per_destination_point: _Optional[str] = ..., effective_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., effective_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RateAgreement(_message.Message):
    __slots__ = ("agreement_id", "version", "source_partner_id", "destination_partner_id", "terms", "state", "proposed_by_partner_id", "propose_time", "accept_time")
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_BY_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    PROPOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_TIME_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    version: int
    source_partner_id: str
    destination_partner_id: str
    terms: RateTerms
    state: _common_pb2.AgreementState
    proposed_by_partner_id: str
    propose_time: _timestamp_pb2.Timestamp
    accept_time: _timestamp_pb2.Timestamp
    def __init__(self, agreement_id: _Optional[str] = ..., version: _Optional[int] = ..., source_partner_id: _Optional[str] = ..., destination_partner_id: _Optional[str] = ..., terms: _Optional[_Union[RateTerms, _Mapping]] = ..., state: _Optional[_Union[_common_pb2.AgreementState, str]] = ..., proposed_by_partner_id: _Optional[str] = ..., propose_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., accept_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ProposeRateAgreementRequest(_message.Message):
    __slots__ = ("source_partner_id", "destination_partner_id", "terms")
    SOURCE_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    source_partner_id: str
    destination_partner_id: str
    terms: RateTerms
    def __init__(self, source_partner_id: _Optional[str] = ..., destination_partner_id: _Optional[str] = ..., terms: _Optional[_Union[RateTerms, _Mapping]] = ...) -> None: ...

class ProposeRateAgreementResponse(_message.Message):
    __slots__ = ("agreement",)
    AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    agreement: RateAgreement
    def __init__(self, agreement: _Optional[_Union[RateAgreement, _Mapping]] = ...) -> None: ...

class AcceptRateAgreementRequest(_message.Message):
    __slots__ = ("agreement_id", "version")
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    version: int
    def __init__(self, agreement_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class AcceptRateAgreementResponse(_message.Message):
    __slots__ = ("agreement",)
    AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    agreement: RateAgreement
    def __init__(self, agreement: _Optional[_Union[RateAgreement, _Mapping]] = ...) -> None: ...

class ListRateAgreementsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRateAgreementsResponse(_message.Message):
    __slots__ = ("agreements", "next_page_token")
    AGREEMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    agreements: _containers.RepeatedCompositeFieldContainer[RateAgreement]
    next_page_token: str
    def __init__(self, agreements: _Optional[_Iterable[_Union[RateAgreement, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class QuotePayload(_message.Message):
    __slots__ = ("quote_id", "source_partner_id", "destination_partner_id", "ppid", "agreement_id", "agreement_version", "source_points", "destination_points", "bonus_points", "settlement_amount", "fee", "create_time", "expire_time")
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    PPID_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_POINTS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_POINTS_FIELD_NUMBER: _ClassVar[int]
    BONUS_POINTS_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    quote_id: str
    source_partner_id: str
    destination_partner_id: str
    ppid: str
    agreement_id: str
    agreement_version: int
    source_points: int
    destination_points: int
    bonus_points: int
    settlement_amount: _common_pb2.Money
    fee: _common_pb2.Money
    create_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, quote_id: _Optional[str] = ..., source_partner_id: _Optional[str] = ..., destination_partner_id: _Optional[str] = ..., ppid: _Optional[str] = ..., agreement_id: _Optional[str] = ..., agreement_version: _Optional[int] = ..., source_points: _Optional[int] = ..., destination_points: _Optional[int] = ..., bonus_points: _Optional[int] = ..., settlement_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., fee: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Quote(_message.Message):
    __slots__ = ("payload", "signing_key_id", "signature")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNING_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    signing_key_id: str
    signature: bytes
    def __init__(self, payload: _Optional[bytes] = ..., signing_key_id: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class CreateQuoteRequest(_message.Message):
    __slots__ = ("ppid", "destination_partner_id", "source_points")
    PPID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_POINTS_FIELD_NUMBER: _ClassVar[int]
    ppid: str
    destination_partner_id: str
    source_points: int
    def __init__(self, ppid: _Optional[str] = ..., destination_partner_id: _Optional[str] = ..., source_points: _Optional[int] = ...) -> None: ...

class CreateQuoteResponse(_message.Message):
    __slots__ = ("quote",)
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ...) -> None: ...

class Transfer(_message.Message):
    __slots__ = ("transfer_id", "kind", "state", "source_partner_id", "destination_partner_id", "ppid", "source_points", "destination_points", "bonus_points", "settlement_amount", "fee", "agreement_id", "agreement_version", "quote_id", "original_transfer_id", "create_time", "timeout_time", "resolve_time", "void_reason", "reject_reason")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    PPID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_POINTS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_POINTS_FIELD_NUMBER: _ClassVar[int]
    BONUS_POINTS_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    VOID_REASON_FIELD_NUMBER: _ClassVar[int]
    REJECT_REASON_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    kind: TransferKind
    state: TransferState
    source_partner_id: str
    destination_partner_id: str
    ppid: str
    source_points: int
    destination_points: int
    bonus_points: int
    settlement_amount: _common_pb2.Money
    fee: _common_pb2.Money
    agreement_id: str
    agreement_version: int
    quote_id: str
    original_transfer_id: str
    create_time: _timestamp_pb2.Timestamp
    timeout_time: _timestamp_pb2.Timestamp
    resolve_time: _timestamp_pb2.Timestamp
    void_reason: VoidReason
    reject_reason: str
    def __init__(self, transfer_id: _Optional[str] = ..., kind: _Optional[_Union[TransferKind, str]] = ..., state: _Optional[_Union[TransferState, str]] = ..., source_partner_id: _Optional[str] = ..., destination_partner_id: _Optional[str] = ..., ppid: _Optional[str] = ..., source_points: _Optional[int] = ..., destination_points: _Optional[int] = ..., bonus_points: _Optional[int] = ..., settlement_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., fee: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., agreement_id: _Optional[str] = ..., agreement_version: _Optional[int] = ..., quote_id: _Optional[str] = ..., original_transfer_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., timeout_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., void_reason: _Optional[_Union[VoidReason, str]] = ..., reject_reason: _Optional[str] = ...) -> None: ...

class CreateTransferRequest(_message.Message):
    __slots__ = ("quote_id", "ppid", "destination_partner_id", "source_points")
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    PPID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_POINTS_FIELD_NUMBER: _ClassVar[int]
    quote_id: str
    ppid: str
    destination_partner_id: str
    source_points: int
    def __init__(self, quote_id: _Optional[str] = ..., ppid: _Optional[str] = ..., destination_partner_id: _Optional[str] = ..., source_points: _Optional[int] = ...) -> None: ...

class CreateTransferResponse(_message.Message):
    __slots__ = ("transfer",)
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    transfer: Transfer
    def __init__(self, transfer: _Optional[_Union[Transfer, _Mapping]] = ...) -> None: ...

class TransferBatchEntry(_message.Message):
    __slots__ = ("idempotency_key", "transfer")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    transfer: CreateTransferRequest
    def __init__(self, idempotency_key: _Optional[str] = ..., transfer: _Optional[_Union[CreateTransferRequest, _Mapping]] = ...) -> None: ...

class CreateTransferBatchRequest(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[TransferBatchEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[TransferBatchEntry, _Mapping]]] = ...) -> None: ...

class TransferBatchResult(_message.Message):
    __slots__ = ("idempotency_key", "transfer", "error")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    transfer: Transfer
    error: _common_pb2.ItemError
    def __init__(self, idempotency_key: _Optional[str] = ..., transfer: _Optional[_Union[Transfer, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.ItemError, _Mapping]] = ...) -> None: ...

class CreateTransferBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[TransferBatchResult]
    def __init__(self, results: _Optional[_Iterable[_Union[TransferBatchResult, _Mapping]]] = ...) -> None: ...

class GetTransferRequest(_message.Message):
    __slots__ = ("transfer_id",)
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    def __init__(self, transfer_id: _Optional[str] = ...) -> None: ...

class GetTransferResponse(_message.Message):
    __slots__ = ("transfer",)
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    transfer: Transfer
    def __init__(self, transfer: _Optional[_Union[Transfer, _Mapping]] = ...) -> None: ...

class ListTransfersRequest(_message.Message):
    __slots__ = ("state", "start_time", "end_time", "page_size", "page_token")
    STATE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    state: TransferState
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, state: _Optional[_Union[TransferState, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTransfersResponse(_message.Message):
    __slots__ = ("transfers", "next_page_token")
    TRANSFERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    transfers: _containers.RepeatedCompositeFieldContainer[Transfer]
    next_page_token: str
    def __init__(self, transfers: _Optional[_Iterable[_Union[Transfer, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ConfirmCreditRequest(_message.Message):
    __slots__ = ("transfer_id",)
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    def __init__(self, transfer_id: _Optional[str] = ...) -> None: ...

class ConfirmCreditResponse(_message.Message):
    __slots__ = ("transfer",)
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    transfer: Transfer
    def __init__(self, transfer: _Optional[_Union[Transfer, _Mapping]] = ...) -> None: ...

class ConfirmCreditsRequest(_message.Message):
    __slots__ = ("transfer_ids",)
    TRANSFER_IDS_FIELD_NUMBER: _ClassVar[int]
    transfer_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, transfer_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ConfirmCreditResult(_message.Message):
    __slots__ = ("transfer_id", "transfer", "error")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    transfer: Transfer
    error: _common_pb2.ItemError
    def __init__(self, transfer_id: _Optional[str] = ..., transfer: _Optional[_Union[Transfer, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.ItemError, _Mapping]] = ...) -> None: ...

class ConfirmCreditsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ConfirmCreditResult]
    def __init__(self, results: _Optional[_Iterable[_Union[ConfirmCreditResult, _Mapping]]] = ...) -> None: ...

class RejectCreditRequest(_message.Message):
    __slots__ = ("transfer_id", "reason")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    reason: str
    def __init__(self, transfer_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RejectCreditResponse(_message.Message):
    __slots__ = ("transfer",)
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    transfer: Transfer
    def __init__(self, transfer: _Optional[_Union[Transfer, _Mapping]] = ...) -> None: ...

class CreateReversalRequest(_message.Message):
    __slots__ = ("transfer_id",)
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    def __init__(self, transfer_id: _Optional[str] = ...) -> None: ...

class CreateReversalResponse(_message.Message):
    __slots__ = ("reversal",)
    REVERSAL_FIELD_NUMBER: _ClassVar[int]
    reversal: Transfer
    def __init__(self, reversal: _Optional[_Union[Transfer, _Mapping]] = ...) -> None: ...

class ReceiptPayload(_message.Message):
    __slots__ = ("transfer_id", "kind", "source_partner_id", "destination_partner_id", "source_points", "destination_points", "settlement_amount", "fee", "complete_time")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_POINTS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_POINTS_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    kind: TransferKind
    source_partner_id: str
    destination_partner_id: str
    source_points: int
    destination_points: int
    settlement_amount: _common_pb2.Money
    fee: _common_pb2.Money
    complete_time: _timestamp_pb2.Timestamp
    def __init__(self, transfer_id: _Optional[str] = ..., kind: _Optional[_Union[TransferKind, str]] = ..., source_partner_id: _Optional[str] = ..., destination_partner_id: _Optional[str] = ..., source_points: _Optional[int] = ..., destination_points: _Optional[int] = ..., settlement_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., fee: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Receipt(_message.Message):
    __slots__ = ("payload", "signing_key_id", "signature")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNING_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    signing_key_id: str
    signature: bytes
    def __init__(self, payload: _Optional[bytes] = ..., signing_key_id: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...
