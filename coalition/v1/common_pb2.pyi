import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PartnerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARTNER_KIND_UNSPECIFIED: _ClassVar[PartnerKind]
    PARTNER_KIND_AIRLINE: _ClassVar[PartnerKind]
    PARTNER_KIND_HOTEL: _ClassVar[PartnerKind]
    PARTNER_KIND_CARD_ISSUER: _ClassVar[PartnerKind]
    PARTNER_KIND_RETAILER: _ClassVar[PartnerKind]
    PARTNER_KIND_OTHER: _ClassVar[PartnerKind]

class KeyAlgorithm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_ALGORITHM_UNSPECIFIED: _ClassVar[KeyAlgorithm]
    KEY_ALGORITHM_ED25519: _ClassVar[KeyAlgorithm]

class KeyState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_STATE_UNSPECIFIED: _ClassVar[KeyState]
    KEY_STATE_ACTIVE: _ClassVar[KeyState]
    KEY_STATE_REVOKED: _ClassVar[KeyState]

class AgreementState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGREEMENT_STATE_UNSPECIFIED: _ClassVar[AgreementState]
    AGREEMENT_STATE_PROPOSED: _ClassVar[AgreementState]
    AGREEMENT_STATE_ACCEPTED: _ClassVar[AgreementState]
PARTNER_KIND_UNSPECIFIED: PartnerKind
PARTNER_KIND_AIRLINE: PartnerKind
PARTNER_KIND_HOTEL: PartnerKind
PARTNER_KIND_CARD_ISSUER: PartnerKind
PARTNER_KIND_RETAILER: PartnerKind
PARTNER_KIND_OTHER: PartnerKind
KEY_ALGORITHM_UNSPECIFIED: KeyAlgorithm
KEY_ALGORITHM_ED25519: KeyAlgorithm
KEY_STATE_UNSPECIFIED: KeyState
KEY_STATE_ACTIVE: KeyState
KEY_STATE_REVOKED: KeyState
AGREEMENT_STATE_UNSPECIFIED: AgreementState
AGREEMENT_STATE_PROPOSED: AgreementState
AGREEMENT_STATE_ACCEPTED: AgreementState

class PublicKey(_message.Message):
    __slots__ = ("key_id", "algorithm", "public_key", "state", "create_time", "revoke_time")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    REVOKE_TIME_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    algorithm: KeyAlgorithm
    public_key: bytes
    state: KeyState
    create_time: _timestamp_pb2.Timestamp
    revoke_time: _timestamp_pb2.Timestamp
    def __init__(self, key_id: _Optional[str] = ..., algorithm: _Optional[_Union[KeyAlgorithm, str]] = ..., public_key: _Optional[bytes] = ..., state: _Optional[_Union[KeyState, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoke_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Money(_message.Message):
    __slots__ = ("amount_minor", "currency_code")
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    amount_minor: int
    currency_code: str
    def __init__(self, amount_minor: _Optional[int] = ..., currency_code: _Optional[str] = ...) -> None: ...

class ItemError(_message.Message):
    __slots__ = ("code", "reason", "message", "field")
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    code: int
    reason: str
    message: str
    field: str
    def __init__(self, code: _Optional[int] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...
