import datetime

from coalition.v1 import exchange_pb2 as _exchange_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_TIER_GRANTED: _ClassVar[EventType]
    EVENT_TYPE_MEMBER_ERASED: _ClassVar[EventType]
    EVENT_TYPE_MEMBER_UNLINKED: _ClassVar[EventType]
    EVENT_TYPE_CREDIT_REQUESTED: _ClassVar[EventType]
    EVENT_TYPE_DEBIT_REQUESTED: _ClassVar[EventType]
    EVENT_TYPE_TRANSFER_COMPLETED: _ClassVar[EventType]
    EVENT_TYPE_TRANSFER_VOIDED: _ClassVar[EventType]
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_TIER_GRANTED: EventType
EVENT_TYPE_MEMBER_ERASED: EventType
EVENT_TYPE_MEMBER_UNLINKED: EventType
EVENT_TYPE_CREDIT_REQUESTED: EventType
EVENT_TYPE_DEBIT_REQUESTED: EventType
EVENT_TYPE_TRANSFER_COMPLETED: EventType
EVENT_TYPE_TRANSFER_VOIDED: EventType

class Event(_message.Message):
    __slots__ = ("event_id", "sequence", "type", "create_time", "payload", "signing_key_id", "signature")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNING_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    sequence: int
    type: EventType
    create_time: _timestamp_pb2.Timestamp
    payload: bytes
    signing_key_id: str
    signature: bytes
    def __init__(self, event_id: _Optional[str] = ..., sequence: _Optional[int] = ..., type: _Optional[_Union[EventType, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., payload: _Optional[bytes] = ..., signing_key_id: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class EventPayload(_message.Message):
    __slots__ = ("event_id", "sequence", "partner_id", "create_time", "tier_granted", "member_erased", "member_unlinked", "credit_requested", "debit_requested", "transfer_completed", "transfer_voided")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    TIER_GRANTED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ERASED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_UNLINKED_FIELD_NUMBER: _ClassVar[int]
    CREDIT_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    DEBIT_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_VOIDED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    sequence: int
    partner_id: str
    create_time: _timestamp_pb2.Timestamp
    tier_granted: TierGranted
    member_erased: MemberErased
    member_unlinked: MemberUnlinked
    credit_requested: CreditRequested
    debit_requested: DebitRequested
    transfer_completed: TransferCompleted
    transfer_voided: TransferVoided
    def __init__(self, event_id: _Optional[str] = ..., sequence: _Optional[int] = ..., partner_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tier_granted: _Optional[_Union[TierGranted, _Mapping]] = ..., member_erased: _Optional[_Union[MemberErased, _Mapping]] = ..., member_unlinked: _Optional[_Union[MemberUnlinked, _Mapping]] = ..., credit_requested: _Optional[_Union[CreditRequested, _Mapping]] = ..., debit_requested: _Optional[_Union[DebitRequested, _Mapping]] = ..., transfer_completed: _Optional[_Union[TransferCompleted, _Mapping]] = ..., transfer_voided: _Optional[_Union[TransferVoided, _Mapping]] = ...) -> None: ...

class CreditRequested(_message.Message):
    __slots__ = ("transfer_id", "ppid", "destination_points", "bonus_points", "timeout_time")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    PPID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_POINTS_FIELD_NUMBER: _ClassVar[int]
    BONUS_POINTS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_TIME_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    ppid: str
    destination_points: int
    bonus_points: int
    timeout_time: _timestamp_pb2.Timestamp
    def __init__(self, transfer_id: _Optional[str] = ..., ppid: _Optional[str] = ..., destination_points: _Optional[int] = ..., bonus_points: _Optional[int] = ..., timeout_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DebitRequested(_message.Message):
    __slots__ = ("transfer_id", "original_transfer_id", "ppid", "points", "timeout_time")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    PPID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_TIME_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    original_transfer_id: str
    ppid: str
    points: int
    timeout_time: _timestamp_pb2.Timestamp
    def __init__(self, transfer_id: _Optional[str] = ..., original_transfer_id: _Optional[str] = ..., ppid: _Optional[str] = ..., points: _Optional[int] = ..., timeout_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TransferCompleted(_message.Message):
    __slots__ = ("transfer_id", "kind", "ppid", "points", "receipt")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PPID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    kind: _exchange_pb2.TransferKind
    ppid: str
    points: int
    receipt: _exchange_pb2.Receipt
    def __init__(self, transfer_id: _Optional[str] = ..., kind: _Optional[_Union[_exchange_pb2.TransferKind, str]] = ..., ppid: _Optional[str] = ..., points: _Optional[int] = ..., receipt: _Optional[_Union[_exchange_pb2.Receipt, _Mapping]] = ...) -> None: ...

class TransferVoided(_message.Message):
    __slots__ = ("transfer_id", "kind", "ppid", "points", "reason")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PPID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    kind: _exchange_pb2.TransferKind
    ppid: str
    points: int
    reason: _exchange_pb2.VoidReason
    def __init__(self, transfer_id: _Optional[str] = ..., kind: _Optional[_Union[_exchange_pb2.TransferKind, str]] = ..., ppid: _Optional[str] = ..., points: _Optional[int] = ..., reason: _Optional[_Union[_exchange_pb2.VoidReason, str]] = ...) -> None: ...

class TierGranted(_message.Message):
    __slots__ = ("ppid", "grant_id", "tier_code", "expire_time")
    PPID_FIELD_NUMBER: _ClassVar[int]
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    ppid: str
    grant_id: str
    tier_code: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, ppid: _Optional[str] = ..., grant_id: _Optional[str] = ..., tier_code: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MemberErased(_message.Message):
    __slots__ = ("ppid",)
    PPID_FIELD_NUMBER: _ClassVar[int]
    ppid: str
    def __init__(self, ppid: _Optional[str] = ...) -> None: ...

class MemberUnlinked(_message.Message):
    __slots__ = ("ppid",)
    PPID_FIELD_NUMBER: _ClassVar[int]
    ppid: str
    def __init__(self, ppid: _Optional[str] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("after_sequence",)
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    after_sequence: int
    def __init__(self, after_sequence: _Optional[int] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: Event
    def __init__(self, event: _Optional[_Union[Event, _Mapping]] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("after_sequence", "page_size")
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    after_sequence: int
    page_size: int
    def __init__(self, after_sequence: _Optional[int] = ..., page_size: _Optional[int] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events", "last_sequence", "acked_sequence")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ACKED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    last_sequence: int
    acked_sequence: int
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., last_sequence: _Optional[int] = ..., acked_sequence: _Optional[int] = ...) -> None: ...

class AckEventsRequest(_message.Message):
    __slots__ = ("up_to_sequence",)
    UP_TO_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    up_to_sequence: int
    def __init__(self, up_to_sequence: _Optional[int] = ...) -> None: ...

class AckEventsResponse(_message.Message):
    __slots__ = ("acked_sequence",)
    ACKED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    acked_sequence: int
    def __init__(self, acked_sequence: _Optional[int] = ...) -> None: ...
