import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnrollMemberRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EnrollMemberResponse(_message.Message):
    __slots__ = ("ppid",)
    PPID_FIELD_NUMBER: _ClassVar[int]
    ppid: str
    def __init__(self, ppid: _Optional[str] = ...) -> None: ...

class CreateLinkCodeRequest(_message.Message):
    __slots__ = ("ppid",)
    PPID_FIELD_NUMBER: _ClassVar[int]
    ppid: str
    def __init__(self, ppid: _Optional[str] = ...) -> None: ...

class CreateLinkCodeResponse(_message.Message):
    __slots__ = ("link_code", "expire_time")
    LINK_CODE_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    link_code: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, link_code: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RedeemLinkCodeRequest(_message.Message):
    __slots__ = ("link_code", "ppid")
    LINK_CODE_FIELD_NUMBER: _ClassVar[int]
    PPID_FIELD_NUMBER: _ClassVar[int]
    link_code: str
    ppid: str
    def __init__(self, link_code: _Optional[str] = ..., ppid: _Optional[str] = ...) -> None: ...

class RedeemLinkCodeResponse(_message.Message):
    __slots__ = ("linked_partner_ids",)
    LINKED_PARTNER_IDS_FIELD_NUMBER: _ClassVar[int]
    linked_partner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, linked_partner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListLinksRequest(_message.Message):
    __slots__ = ("ppid",)
    PPID_FIELD_NUMBER: _ClassVar[int]
    ppid: str
    def __init__(self, ppid: _Optional[str] = ...) -> None: ...

class ListLinksResponse(_message.Message):
    __slots__ = ("partner_ids",)
    PARTNER_IDS_FIELD_NUMBER: _ClassVar[int]
    partner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, partner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class UnlinkRequest(_message.Message):
    __slots__ = ("ppid", "partner_id")
    PPID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    ppid: str
    partner_id: str
    def __init__(self, ppid: _Optional[str] = ..., partner_id: _Optional[str] = ...) -> None: ...

class UnlinkResponse(_message.Message):
    __slots__ = ("partner_ids",)
    PARTNER_IDS_FIELD_NUMBER: _ClassVar[int]
    partner_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, partner_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class EraseMemberRequest(_message.Message):
    __slots__ = ("ppid",)
    PPID_FIELD_NUMBER: _ClassVar[int]
    ppid: str
    def __init__(self, ppid: _Optional[str] = ...) -> None: ...

class EraseMemberResponse(_message.Message):
    __slots__ = ("notified_partner_count",)
    NOTIFIED_PARTNER_COUNT_FIELD_NUMBER: _ClassVar[int]
    notified_partner_count: int
    def __init__(self, notified_partner_count: _Optional[int] = ...) -> None: ...
