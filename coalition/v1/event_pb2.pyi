import datetime

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
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_TIER_GRANTED: EventType
EVENT_TYPE_MEMBER_ERASED: EventType
EVENT_TYPE_MEMBER_UNLINKED: EventType

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
    __slots__ = ("event_id", "sequence", "partner_id", "create_time", "tier_granted", "member_erased", "member_unlinked")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    TIER_GRANTED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ERASED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_UNLINKED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    sequence: int
    partner_id: str
    create_time: _timestamp_pb2.Timestamp
    tier_granted: TierGranted
    member_erased: MemberErased
    member_unlinked: MemberUnlinked
    def __init__(self, event_id: _Optional[str] = ..., sequence: _Optional[int] = ..., partner_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tier_granted: _Optional[_Union[TierGranted, _Mapping]] = ..., member_erased: _Optional[_Union[MemberErased, _Mapping]] = ..., member_unlinked: _Optional[_Union[MemberUnlinked, _Mapping]] = ...) -> None: ...

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
