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

class MappingBasis(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MAPPING_BASIS_UNSPECIFIED: _ClassVar[MappingBasis]
    MAPPING_BASIS_AGREEMENT: _ClassVar[MappingBasis]
    MAPPING_BASIS_CANONICAL: _ClassVar[MappingBasis]
MAPPING_BASIS_UNSPECIFIED: MappingBasis
MAPPING_BASIS_AGREEMENT: MappingBasis
MAPPING_BASIS_CANONICAL: MappingBasis

class Tier(_message.Message):
    __slots__ = ("code", "display_name", "rank", "canonical_level")
    CODE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    CANONICAL_LEVEL_FIELD_NUMBER: _ClassVar[int]
    code: str
    display_name: str
    rank: int
    canonical_level: int
    def __init__(self, code: _Optional[str] = ..., display_name: _Optional[str] = ..., rank: _Optional[int] = ..., canonical_level: _Optional[int] = ...) -> None: ...

class PublishTierLadderRequest(_message.Message):
    __slots__ = ("tiers", "canonical_matching")
    TIERS_FIELD_NUMBER: _ClassVar[int]
    CANONICAL_MATCHING_FIELD_NUMBER: _ClassVar[int]
    tiers: _containers.RepeatedCompositeFieldContainer[Tier]
    canonical_matching: bool
    def __init__(self, tiers: _Optional[_Iterable[_Union[Tier, _Mapping]]] = ..., canonical_matching: _Optional[bool] = ...) -> None: ...

class PublishTierLadderResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class RecognitionRule(_message.Message):
    __slots__ = ("source_tier_code", "target_tier_code")
    SOURCE_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    source_tier_code: str
    target_tier_code: str
    def __init__(self, source_tier_code: _Optional[str] = ..., target_tier_code: _Optional[str] = ...) -> None: ...

class RecognitionAgreement(_message.Message):
    __slots__ = ("agreement_id", "version", "source_partner_id", "target_partner_id", "rules", "validity_days", "min_days_between_grants", "state", "proposed_by_partner_id", "propose_time", "accept_time")
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_DAYS_FIELD_NUMBER: _ClassVar[int]
    MIN_DAYS_BETWEEN_GRANTS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_BY_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    PROPOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_TIME_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    version: int
    source_partner_id: str
    target_partner_id: str
    rules: _containers.RepeatedCompositeFieldContainer[RecognitionRule]
    validity_days: int
    min_days_between_grants: int
    state: _common_pb2.AgreementState
    proposed_by_partner_id: str
    propose_time: _timestamp_pb2.Timestamp
    accept_time: _timestamp_pb2.Timestamp
    def __init__(self, agreement_id: _Optional[str] = ..., version: _Optional[int] = ..., source_partner_id: _Optional[str] = ..., target_partner_id: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[RecognitionRule, _Mapping]]] = ..., validity_days: _Optional[int] = ..., min_days_between_grants: _Optional[int] = ..., state: _Optional[_Union[_common_pb2.AgreementState, str]] = ..., proposed_by_partner_id: _Optional[str] = ..., propose_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., accept_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ProposeRecognitionRequest(_message.Message):
    __slots__ = ("source_partner_id", "target_partner_id", "rules", "validity_days", "min_days_between_grants")
    SOURCE_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_DAYS_FIELD_NUMBER: _ClassVar[int]
    MIN_DAYS_BETWEEN_GRANTS_FIELD_NUMBER: _ClassVar[int]
    source_partner_id: str
    target_partner_id: str
    rules: _containers.RepeatedCompositeFieldContainer[RecognitionRule]
    validity_days: int
    min_days_between_grants: int
    def __init__(self, source_partner_id: _Optional[str] = ..., target_partner_id: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[RecognitionRule, _Mapping]]] = ..., validity_days: _Optional[int] = ..., min_days_between_grants: _Optional[int] = ...) -> None: ...

class ProposeRecognitionResponse(_message.Message):
    __slots__ = ("agreement",)
    AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    agreement: RecognitionAgreement
    def __init__(self, agreement: _Optional[_Union[RecognitionAgreement, _Mapping]] = ...) -> None: ...

class AcceptRecognitionRequest(_message.Message):
    __slots__ = ("agreement_id", "version")
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    version: int
    def __init__(self, agreement_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class AcceptRecognitionResponse(_message.Message):
    __slots__ = ("agreement",)
    AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    agreement: RecognitionAgreement
    def __init__(self, agreement: _Optional[_Union[RecognitionAgreement, _Mapping]] = ...) -> None: ...

class ReportMemberTierRequest(_message.Message):
    __slots__ = ("ppid", "tier_code", "expire_time")
    PPID_FIELD_NUMBER: _ClassVar[int]
    TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    ppid: str
    tier_code: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, ppid: _Optional[str] = ..., tier_code: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReportMemberTierResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RequestStatusMatchRequest(_message.Message):
    __slots__ = ("ppid", "target_partner_id")
    PPID_FIELD_NUMBER: _ClassVar[int]
    TARGET_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    ppid: str
    target_partner_id: str
    def __init__(self, ppid: _Optional[str] = ..., target_partner_id: _Optional[str] = ...) -> None: ...

class RequestStatusMatchResponse(_message.Message):
    __slots__ = ("grant_id", "target_partner_id")
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    target_partner_id: str
    def __init__(self, grant_id: _Optional[str] = ..., target_partner_id: _Optional[str] = ...) -> None: ...

class GetTierMappingRequest(_message.Message):
    __slots__ = ("source_partner_id", "target_partner_id")
    SOURCE_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    source_partner_id: str
    target_partner_id: str
    def __init__(self, source_partner_id: _Optional[str] = ..., target_partner_id: _Optional[str] = ...) -> None: ...

class GetTierMappingResponse(_message.Message):
    __slots__ = ("basis", "rules", "agreement")
    BASIS_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    basis: MappingBasis
    rules: _containers.RepeatedCompositeFieldContainer[RecognitionRule]
    agreement: RecognitionAgreement
    def __init__(self, basis: _Optional[_Union[MappingBasis, str]] = ..., rules: _Optional[_Iterable[_Union[RecognitionRule, _Mapping]]] = ..., agreement: _Optional[_Union[RecognitionAgreement, _Mapping]] = ...) -> None: ...
