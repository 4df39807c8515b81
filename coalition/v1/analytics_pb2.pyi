import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Granularity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GRANULARITY_UNSPECIFIED: _ClassVar[Granularity]
    GRANULARITY_DAY: _ClassVar[Granularity]
    GRANULARITY_WEEK: _ClassVar[Granularity]
    GRANULARITY_MONTH: _ClassVar[Granularity]
GRANULARITY_UNSPECIFIED: Granularity
GRANULARITY_DAY: Granularity
GRANULARITY_WEEK: Granularity
GRANULARITY_MONTH: Granularity

class GetMetricSeriesRequest(_message.Message):
    __slots__ = ("metric", "start_date", "end_date", "granularity", "counterpart_partner_id")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    COUNTERPART_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    metric: str
    start_date: str
    end_date: str
    granularity: Granularity
    counterpart_partner_id: str
    def __init__(self, metric: _Optional[str] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., granularity: _Optional[_Union[Granularity, str]] = ..., counterpart_partner_id: _Optional[str] = ...) -> None: ...

class MetricPoint(_message.Message):
    __slots__ = ("start_date", "integer_value", "decimal_value", "suppressed")
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    INTEGER_VALUE_FIELD_NUMBER: _ClassVar[int]
    DECIMAL_VALUE_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    start_date: str
    integer_value: int
    decimal_value: str
    suppressed: bool
    def __init__(self, start_date: _Optional[str] = ..., integer_value: _Optional[int] = ..., decimal_value: _Optional[str] = ..., suppressed: _Optional[bool] = ...) -> None: ...

class MetricSeries(_message.Message):
    __slots__ = ("subject_partner_id", "counterpart_partner_id", "dimension", "points")
    SUBJECT_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTERPART_PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    subject_partner_id: str
    counterpart_partner_id: str
    dimension: str
    points: _containers.RepeatedCompositeFieldContainer[MetricPoint]
    def __init__(self, subject_partner_id: _Optional[str] = ..., counterpart_partner_id: _Optional[str] = ..., dimension: _Optional[str] = ..., points: _Optional[_Iterable[_Union[MetricPoint, _Mapping]]] = ...) -> None: ...

class GetMetricSeriesResponse(_message.Message):
    __slots__ = ("metric", "unit", "series")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    metric: str
    unit: str
    series: _containers.RepeatedCompositeFieldContainer[MetricSeries]
    def __init__(self, metric: _Optional[str] = ..., unit: _Optional[str] = ..., series: _Optional[_Iterable[_Union[MetricSeries, _Mapping]]] = ...) -> None: ...

class ReportProgrammeTotalsRequest(_message.Message):
    __slots__ = ("period", "points_issued", "points_redeemed", "points_expired", "active_members")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    POINTS_ISSUED_FIELD_NUMBER: _ClassVar[int]
    POINTS_REDEEMED_FIELD_NUMBER: _ClassVar[int]
    POINTS_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    period: str
    points_issued: int
    points_redeemed: int
    points_expired: int
    active_members: int
    def __init__(self, period: _Optional[str] = ..., points_issued: _Optional[int] = ..., points_redeemed: _Optional[int] = ..., points_expired: _Optional[int] = ..., active_members: _Optional[int] = ...) -> None: ...

class ReportProgrammeTotalsResponse(_message.Message):
    __slots__ = ("report_time",)
    REPORT_TIME_FIELD_NUMBER: _ClassVar[int]
    report_time: _timestamp_pb2.Timestamp
    def __init__(self, report_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetProgrammeComparisonRequest(_message.Message):
    __slots__ = ("period",)
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    period: str
    def __init__(self, period: _Optional[str] = ...) -> None: ...

class ProgrammeFigure(_message.Message):
    __slots__ = ("name", "own_value", "lower_quartile", "median", "upper_quartile")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWN_VALUE_FIELD_NUMBER: _ClassVar[int]
    LOWER_QUARTILE_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_FIELD_NUMBER: _ClassVar[int]
    UPPER_QUARTILE_FIELD_NUMBER: _ClassVar[int]
    name: str
    own_value: int
    lower_quartile: str
    median: str
    upper_quartile: str
    def __init__(self, name: _Optional[str] = ..., own_value: _Optional[int] = ..., lower_quartile: _Optional[str] = ..., median: _Optional[str] = ..., upper_quartile: _Optional[str] = ...) -> None: ...

class GetProgrammeComparisonResponse(_message.Message):
    __slots__ = ("period", "reporting_partners", "coalition_shown", "figures")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    REPORTING_PARTNERS_FIELD_NUMBER: _ClassVar[int]
    COALITION_SHOWN_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    period: str
    reporting_partners: int
    coalition_shown: bool
    figures: _containers.RepeatedCompositeFieldContainer[ProgrammeFigure]
    def __init__(self, period: _Optional[str] = ..., reporting_partners: _Optional[int] = ..., coalition_shown: _Optional[bool] = ..., figures: _Optional[_Iterable[_Union[ProgrammeFigure, _Mapping]]] = ...) -> None: ...
