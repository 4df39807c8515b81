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

class LineDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LINE_DIRECTION_UNSPECIFIED: _ClassVar[LineDirection]
    LINE_DIRECTION_PAYABLE: _ClassVar[LineDirection]
    LINE_DIRECTION_RECEIVABLE: _ClassVar[LineDirection]

class PaymentDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_DIRECTION_UNSPECIFIED: _ClassVar[PaymentDirection]
    PAYMENT_DIRECTION_PAY_IN: _ClassVar[PaymentDirection]
    PAYMENT_DIRECTION_PAY_OUT: _ClassVar[PaymentDirection]

class BreakKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BREAK_KIND_UNSPECIFIED: _ClassVar[BreakKind]
    BREAK_KIND_MISSING_AT_HUB: _ClassVar[BreakKind]
    BREAK_KIND_MISSING_AT_PARTNER: _ClassVar[BreakKind]
    BREAK_KIND_AMOUNT_MISMATCH: _ClassVar[BreakKind]
    BREAK_KIND_DUPLICATE: _ClassVar[BreakKind]
    BREAK_KIND_TIMING: _ClassVar[BreakKind]
    BREAK_KIND_NO_DATA: _ClassVar[BreakKind]

class DisputeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISPUTE_STATE_UNSPECIFIED: _ClassVar[DisputeState]
    DISPUTE_STATE_OPEN: _ClassVar[DisputeState]
    DISPUTE_STATE_ACCEPTED: _ClassVar[DisputeState]
    DISPUTE_STATE_REJECTED: _ClassVar[DisputeState]
LINE_DIRECTION_UNSPECIFIED: LineDirection
LINE_DIRECTION_PAYABLE: LineDirection
LINE_DIRECTION_RECEIVABLE: LineDirection
PAYMENT_DIRECTION_UNSPECIFIED: PaymentDirection
PAYMENT_DIRECTION_PAY_IN: PaymentDirection
PAYMENT_DIRECTION_PAY_OUT: PaymentDirection
BREAK_KIND_UNSPECIFIED: BreakKind
BREAK_KIND_MISSING_AT_HUB: BreakKind
BREAK_KIND_MISSING_AT_PARTNER: BreakKind
BREAK_KIND_AMOUNT_MISMATCH: BreakKind
BREAK_KIND_DUPLICATE: BreakKind
BREAK_KIND_TIMING: BreakKind
BREAK_KIND_NO_DATA: BreakKind
DISPUTE_STATE_UNSPECIFIED: DisputeState
DISPUTE_STATE_OPEN: DisputeState
DISPUTE_STATE_ACCEPTED: DisputeState
DISPUTE_STATE_REJECTED: DisputeState

class NetPosition(_message.Message):
    __slots__ = ("participant", "receivable", "payable", "net")
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    RECEIVABLE_FIELD_NUMBER: _ClassVar[int]
    PAYABLE_FIELD_NUMBER: _ClassVar[int]
    NET_FIELD_NUMBER: _ClassVar[int]
    participant: str
    receivable: _common_pb2.Money
    payable: _common_pb2.Money
    net: _common_pb2.Money
    def __init__(self, participant: _Optional[str] = ..., receivable: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., payable: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., net: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class SettlementRun(_message.Message):
    __slots__ = ("business_day", "currency_code", "positions", "merkle_root", "tree_size", "create_time")
    BUSINESS_DAY_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    MERKLE_ROOT_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    business_day: str
    currency_code: str
    positions: _containers.RepeatedCompositeFieldContainer[NetPosition]
    merkle_root: bytes
    tree_size: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, business_day: _Optional[str] = ..., currency_code: _Optional[str] = ..., positions: _Optional[_Iterable[_Union[NetPosition, _Mapping]]] = ..., merkle_root: _Optional[bytes] = ..., tree_size: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetSettlementRunRequest(_message.Message):
    __slots__ = ("business_day", "currency_code")
    BUSINESS_DAY_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    business_day: str
    currency_code: str
    def __init__(self, business_day: _Optional[str] = ..., currency_code: _Optional[str] = ...) -> None: ...

class GetSettlementRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: SettlementRun
    def __init__(self, run: _Optional[_Union[SettlementRun, _Mapping]] = ...) -> None: ...

class StatementLine(_message.Message):
    __slots__ = ("transfer_id", "record", "leaf_index", "direction", "counterparty_id", "amount", "fee")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    record: bytes
    leaf_index: int
    direction: LineDirection
    counterparty_id: str
    amount: _common_pb2.Money
    fee: _common_pb2.Money
    def __init__(self, transfer_id: _Optional[str] = ..., record: _Optional[bytes] = ..., leaf_index: _Optional[int] = ..., direction: _Optional[_Union[LineDirection, str]] = ..., counterparty_id: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., fee: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class StatementPayload(_message.Message):
    __slots__ = ("partner_id", "business_day", "currency_code", "lines", "total_receivable", "total_payable", "total_fees", "net", "merkle_root", "tree_size")
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_DAY_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_RECEIVABLE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PAYABLE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FEES_FIELD_NUMBER: _ClassVar[int]
    NET_FIELD_NUMBER: _ClassVar[int]
    MERKLE_ROOT_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    partner_id: str
    business_day: str
    currency_code: str
    lines: _containers.RepeatedCompositeFieldContainer[StatementLine]
    total_receivable: _common_pb2.Money
    total_payable: _common_pb2.Money
    total_fees: _common_pb2.Money
    net: _common_pb2.Money
    merkle_root: bytes
    tree_size: int
    def __init__(self, partner_id: _Optional[str] = ..., business_day: _Optional[str] = ..., currency_code: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[StatementLine, _Mapping]]] = ..., total_receivable: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., total_payable: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., total_fees: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., net: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., merkle_root: _Optional[bytes] = ..., tree_size: _Optional[int] = ...) -> None: ...

class Statement(_message.Message):
    __slots__ = ("payload", "signing_key_id", "signature")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNING_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    signing_key_id: str
    signature: bytes
    def __init__(self, payload: _Optional[bytes] = ..., signing_key_id: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class GetStatementRequest(_message.Message):
    __slots__ = ("business_day", "currency_code")
    BUSINESS_DAY_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    business_day: str
    currency_code: str
    def __init__(self, business_day: _Optional[str] = ..., currency_code: _Optional[str] = ...) -> None: ...

class GetStatementResponse(_message.Message):
    __slots__ = ("statement",)
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    statement: Statement
    def __init__(self, statement: _Optional[_Union[Statement, _Mapping]] = ...) -> None: ...

class GetInclusionProofRequest(_message.Message):
    __slots__ = ("business_day", "transfer_id")
    BUSINESS_DAY_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    business_day: str
    transfer_id: str
    def __init__(self, business_day: _Optional[str] = ..., transfer_id: _Optional[str] = ...) -> None: ...

class GetInclusionProofResponse(_message.Message):
    __slots__ = ("leaf_index", "tree_size", "audit_path", "record")
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    AUDIT_PATH_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    leaf_index: int
    tree_size: int
    audit_path: _containers.RepeatedScalarFieldContainer[bytes]
    record: bytes
    def __init__(self, leaf_index: _Optional[int] = ..., tree_size: _Optional[int] = ..., audit_path: _Optional[_Iterable[bytes]] = ..., record: _Optional[bytes] = ...) -> None: ...

class PaymentInstruction(_message.Message):
    __slots__ = ("clearing_reference", "business_day", "participant", "direction", "amount")
    CLEARING_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_DAY_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    clearing_reference: str
    business_day: str
    participant: str
    direction: PaymentDirection
    amount: _common_pb2.Money
    def __init__(self, clearing_reference: _Optional[str] = ..., business_day: _Optional[str] = ..., participant: _Optional[str] = ..., direction: _Optional[_Union[PaymentDirection, str]] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class ListPaymentInstructionsRequest(_message.Message):
    __slots__ = ("business_day",)
    BUSINESS_DAY_FIELD_NUMBER: _ClassVar[int]
    business_day: str
    def __init__(self, business_day: _Optional[str] = ...) -> None: ...

class ListPaymentInstructionsResponse(_message.Message):
    __slots__ = ("instructions",)
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    instructions: _containers.RepeatedCompositeFieldContainer[PaymentInstruction]
    def __init__(self, instructions: _Optional[_Iterable[_Union[PaymentInstruction, _Mapping]]] = ...) -> None: ...

class ReconciliationRecord(_message.Message):
    __slots__ = ("transfer_id", "direction", "points", "amount")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    direction: str
    points: int
    amount: _common_pb2.Money
    def __init__(self, transfer_id: _Optional[str] = ..., direction: _Optional[str] = ..., points: _Optional[int] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class ReconciliationBreak(_message.Message):
    __slots__ = ("kind", "transfer_id", "detail")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    kind: BreakKind
    transfer_id: str
    detail: str
    def __init__(self, kind: _Optional[_Union[BreakKind, str]] = ..., transfer_id: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class SubmitReconciliationRequest(_message.Message):
    __slots__ = ("business_day", "records")
    BUSINESS_DAY_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    business_day: str
    records: _containers.RepeatedCompositeFieldContainer[ReconciliationRecord]
    def __init__(self, business_day: _Optional[str] = ..., records: _Optional[_Iterable[_Union[ReconciliationRecord, _Mapping]]] = ...) -> None: ...

class SubmitReconciliationResponse(_message.Message):
    __slots__ = ("reconciliation_id", "breaks")
    RECONCILIATION_ID_FIELD_NUMBER: _ClassVar[int]
    BREAKS_FIELD_NUMBER: _ClassVar[int]
    reconciliation_id: str
    breaks: _containers.RepeatedCompositeFieldContainer[ReconciliationBreak]
    def __init__(self, reconciliation_id: _Optional[str] = ..., breaks: _Optional[_Iterable[_Union[ReconciliationBreak, _Mapping]]] = ...) -> None: ...

class Dispute(_message.Message):
    __slots__ = ("dispute_id", "business_day", "transfer_id", "opened_by_partner_id", "counterparty_id", "claimed_amount", "recorded_amount", "reason", "state", "resolution_reason", "adjustment_business_day", "open_time", "resolve_time")
    DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_DAY_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    OPENED_BY_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_REASON_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENT_BUSINESS_DAY_FIELD_NUMBER: _ClassVar[int]
    OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    dispute_id: str
    business_day: str
    transfer_id: str
    opened_by_partner_id: str
    counterparty_id: str
    claimed_amount: _common_pb2.Money
    recorded_amount: _common_pb2.Money
    reason: str
    state: DisputeState
    resolution_reason: str
    adjustment_business_day: str
    open_time: _timestamp_pb2.Timestamp
    resolve_time: _timestamp_pb2.Timestamp
    def __init__(self, dispute_id: _Optional[str] = ..., business_day: _Optional[str] = ..., transfer_id: _Optional[str] = ..., opened_by_partner_id: _Optional[str] = ..., counterparty_id: _Optional[str] = ..., claimed_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., recorded_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ..., state: _Optional[_Union[DisputeState, str]] = ..., resolution_reason: _Optional[str] = ..., adjustment_business_day: _Optional[str] = ..., open_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OpenDisputeRequest(_message.Message):
    __slots__ = ("business_day", "transfer_id", "claimed_amount", "reason")
    BUSINESS_DAY_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    business_day: str
    transfer_id: str
    claimed_amount: _common_pb2.Money
    reason: str
    def __init__(self, business_day: _Optional[str] = ..., transfer_id: _Optional[str] = ..., claimed_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class OpenDisputeResponse(_message.Message):
    __slots__ = ("dispute",)
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    dispute: Dispute
    def __init__(self, dispute: _Optional[_Union[Dispute, _Mapping]] = ...) -> None: ...

class ResolveDisputeRequest(_message.Message):
    __slots__ = ("dispute_id", "accept", "reason")
    DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    dispute_id: str
    accept: bool
    reason: str
    def __init__(self, dispute_id: _Optional[str] = ..., accept: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class ResolveDisputeResponse(_message.Message):
    __slots__ = ("dispute",)
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    dispute: Dispute
    def __init__(self, dispute: _Optional[_Union[Dispute, _Mapping]] = ...) -> None: ...

class ListDisputesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListDisputesResponse(_message.Message):
    __slots__ = ("disputes",)
    DISPUTES_FIELD_NUMBER: _ClassVar[int]
    disputes: _containers.RepeatedCompositeFieldContainer[Dispute]
    def __init__(self, disputes: _Optional[_Iterable[_Union[Dispute, _Mapping]]] = ...) -> None: ...
