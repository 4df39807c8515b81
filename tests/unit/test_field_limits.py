"""Every string, bytes and repeated field of every request is bounded and checked by name.

The cases are generated from the descriptors: each field of each request message (nested
messages and repeated fields too) gets an oversize, an empty (where empty is wrong), a NUL
and an invalid UTF-8 value, and each must be refused naming exactly that field, while a
request holding only in-limit values passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from exchange.api import field_limits, field_limits_document, message_checks
from exchange.api.field_limits import LIMITS, Binary, Repeated, Text
from exchange.domain.errors import InvalidArgument, invalid

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "field-limits.md"
MARKER = "\u2603limit-marker\u2603"


def parse_like_the_pipeline(request_type: type[Message], body: bytes) -> Message:
    """What the request pipeline does before any handler: parse, then check the limits."""
    try:
        request = request_type.FromString(body)
    except DecodeError:
        field = message_checks.invalid_utf8_field(request_type, body)
        if field is None:
            raise
        raise invalid(field, "must be valid UTF-8") from None
    findings = message_checks.inspect(request)
    if findings.nul_field is not None:
        raise invalid(findings.nul_field, "must not contain NUL characters")
    violations = message_checks.field_violations(request)
    if violations:
        raise InvalidArgument(violations)
    return request


def rpc_inputs() -> list[Descriptor]:
    return [
        method.input_type
        for module in field_limits.SERVICE_MODULES
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    ]


# --- the table covers every field ----------------------------------------------------------------


def test_every_string_bytes_and_repeated_field_of_every_request_has_a_limit() -> None:
    missing = [
        field.full_name
        for descriptor in field_limits.request_messages()
        for field in descriptor.fields
        if field_limits.bounded_kind(field)
        and field.name not in LIMITS.get(descriptor.full_name, {})
    ]
    assert missing == [], "give these fields a limit in exchange/api/field_limits.py"


def test_every_generated_service_is_walked() -> None:
    import pkgutil

    import coalition.v1

    with_services = {
        module.name
        for module in pkgutil.iter_modules(coalition.v1.__path__)
        if module.name.endswith("_pb2")
        and __import__(
            f"coalition.v1.{module.name}", fromlist=["DESCRIPTOR"]
        ).DESCRIPTOR.services_by_name
    }
    walked = {module.__name__.rsplit(".", 1)[1] for module in field_limits.SERVICE_MODULES}
    assert with_services == walked, "add the service's module to field_limits.SERVICE_MODULES"


def test_the_table_names_only_fields_of_request_messages() -> None:
    requests = {descriptor.full_name for descriptor in field_limits.request_messages()}
    assert set(LIMITS) <= requests


def test_the_document_is_the_table() -> None:
    assert DOCUMENT.read_text(encoding="utf-8") == field_limits_document.document(), (
        "regenerate: python -m exchange.api.field_limits_document > docs/field-limits.md"
    )


def every_scalar_limit() -> list[Text | Binary]:
    found: list[Text | Binary] = []
    for entries in LIMITS.values():
        for limit in entries.values():
            scalar = limit.item if isinstance(limit, Repeated) else limit
            if scalar is not None:
                found.append(scalar)
    return found


def test_each_example_is_within_its_own_limit() -> None:
    for limit in every_scalar_limit():
        if isinstance(limit, Text):
            assert 0 < len(limit.example) <= limit.chars_max, limit
            assert limit.pattern is None or limit.pattern.fullmatch(limit.example), limit
        else:
            assert limit.bytes_min <= len(limit.example) <= limit.bytes_max, limit


# --- a valid request of every type, and one bad field at a time ---------------------------------


# In-range values for the integer and time fields the request rules check.
VALID_NUMBERS: dict[str, dict[str, Any]] = {
    "coalition.v1.CreateQuoteRequest": {"source_points": 1000},
    "coalition.v1.RateTerms": {
        "source_units": 1000,
        "destination_units": 750,
        "minimum_source_points": 1000,
        "increment_source_points": 1000,
        "maximum_source_points": 100_000,
        "member_daily_cap_source_points": 1_000_000,
        "effective_from": {"seconds": 1_767_225_600},
    },
    "coalition.v1.Tier": {"rank": 1, "canonical_level": 1},
    "coalition.v1.ProposeRecognitionRequest": {"validity_days": 365},
    "coalition.v1.ReportMemberTierRequest": {"expire_time": {"seconds": 1_767_225_600}},
}


def build_valid(descriptor: Descriptor) -> Message:
    """A message holding an in-limit value in every limited field, one item per list."""
    message = GetMessageClass(descriptor)()
    for name, value in VALID_NUMBERS.get(descriptor.full_name, {}).items():
        if isinstance(value, dict):
            getattr(message, name).CopyFrom(type(getattr(message, name))(**value))
        else:
            setattr(message, name, value)
    entries = LIMITS.get(descriptor.full_name, {})
    for field in descriptor.fields:
        limit = entries.get(field.name)
        if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None:
            if field.message_type.full_name.startswith("google.protobuf."):
                continue
            item = build_valid(field.message_type)
            if field.is_repeated:
                for _ in range(max(1, limit.items_min if isinstance(limit, Repeated) else 1)):
                    getattr(message, field.name).add().CopyFrom(item)
            else:
                getattr(message, field.name).CopyFrom(item)
        elif isinstance(limit, Repeated) and limit.item is not None:
            getattr(message, field.name).append(limit.item.example)
        elif isinstance(limit, Text | Binary):
            setattr(message, field.name, limit.example)
    if descriptor.name == "ProposeRecognitionRequest":
        message.target_partner_id = "harbor"  # type: ignore[attr-defined]
    return message


@dataclass(frozen=True)
class Case:
    request: Descriptor
    # Steps from the request to the field: (field name, item index or None).
    steps: tuple[tuple[str, int | None], ...]
    limit: Text | Binary | Repeated

    @property
    def path(self) -> str:
        return ".".join(f"{name}[{i}]" if i is not None else name for name, i in self.steps)

    def __str__(self) -> str:
        return f"{self.request.name}.{self.path}"


def cases_in(
    request: Descriptor, descriptor: Descriptor, steps: tuple[tuple[str, int | None], ...]
) -> list[Case]:
    found: list[Case] = []
    entries = LIMITS.get(descriptor.full_name, {})
    for field in descriptor.fields:
        limit = entries.get(field.name)
        if limit is not None:
            found.append(Case(request, (*steps, (field.name, None)), limit))
            if isinstance(limit, Repeated) and limit.item is not None:
                found.append(Case(request, (*steps, (field.name, 0)), limit.item))
        if field.message_type is not None and field.message_type.full_name.startswith("coalition."):
            index = 0 if field.is_repeated else None
            found.extend(cases_in(request, field.message_type, (*steps, (field.name, index))))
    return found


CASES = [case for request in rpc_inputs() for case in cases_in(request, request, ())]


def container_of(message: Message, case: Case) -> tuple[Any, str, int | None]:
    """The message holding the case's field, the field's name and the item index."""
    *outer, (name, index) = case.steps
    for step_name, step_index in outer:
        message = getattr(message, step_name)
        if step_index is not None:
            message = message[step_index]
    return message, name, index


def with_value(case: Case, value: str | bytes) -> Message:
    message = build_valid(case.request)
    holder, name, index = container_of(message, case)
    if index is None:
        setattr(holder, name, value)
    else:
        getattr(holder, name)[index] = value
    return message


def refused_fields(request: Message) -> list[str]:
    body = request.SerializeToString()
    with pytest.raises(InvalidArgument) as refusal:
        parse_like_the_pipeline(type(request), body)
    return [violation.field for violation in refusal.value.field_violations]


@pytest.mark.parametrize("request_type", rpc_inputs(), ids=lambda d: d.name)
def test_a_request_within_every_limit_passes(request_type: Descriptor) -> None:
    request = build_valid(request_type)

    assert message_checks.field_violations(request) == ()
    assert parse_like_the_pipeline(type(request), request.SerializeToString()) == request


SCALAR_CASES = [c for c in CASES if not isinstance(c.limit, Repeated)]
TEXT_CASES = [c for c in SCALAR_CASES if isinstance(c.limit, Text)]


@pytest.mark.parametrize("case", SCALAR_CASES, ids=str)
def test_an_oversize_value_is_refused_naming_its_field(case: Case) -> None:
    if isinstance(case.limit, Text):
        value: str | bytes = case.limit.example + "A" * case.limit.chars_max
    else:
        assert isinstance(case.limit, Binary)
        value = case.limit.example + b"\x00" * case.limit.bytes_max

    assert refused_fields(with_value(case, value)) == [case.path]


@pytest.mark.parametrize("case", SCALAR_CASES, ids=str)
def test_an_empty_value_is_refused_only_where_it_is_required(case: Case) -> None:
    request = with_value(case, "" if isinstance(case.limit, Text) else b"")

    if isinstance(case.limit, Text) and case.limit.required:
        assert refused_fields(request) == [case.path]
    else:
        assert message_checks.field_violations(request) == ()


@pytest.mark.parametrize("case", TEXT_CASES, ids=str)
def test_a_nul_character_is_refused_naming_its_field(case: Case) -> None:
    assert isinstance(case.limit, Text)
    request = with_value(case, case.limit.example[:1] + "\x00")

    assert refused_fields(request) == [case.path]
    violations = message_checks.field_violations(request)
    assert [v.field for v in violations] == [case.path]


@pytest.mark.parametrize("case", TEXT_CASES, ids=str)
def test_invalid_utf8_is_refused_naming_its_field(case: Case) -> None:
    encoded = MARKER.encode()
    body = with_value(case, MARKER).SerializeToString()
    assert body.count(encoded) == 1
    broken = body.replace(encoded, b"\xff" * len(encoded))

    with pytest.raises(DecodeError):
        GetMessageClass(case.request).FromString(broken)
    request_type = GetMessageClass(case.request)
    assert message_checks.invalid_utf8_field(request_type, broken) == case.path
    with pytest.raises(InvalidArgument) as refusal:
        parse_like_the_pipeline(request_type, broken)
    assert [v.field for v in refusal.value.field_violations] == [case.path]


REPEATED_CASES = [c for c in CASES if isinstance(c.limit, Repeated)]


def with_items(case: Case, count: int) -> Message:
    message = build_valid(case.request)
    holder, name, _ = container_of(message, case)
    items = getattr(holder, name)
    first = items[0]
    del items[:]
    for _ in range(count):
        if isinstance(first, Message):
            items.add().CopyFrom(first)
        else:
            items.append(first)
    return message


@pytest.mark.parametrize("case", REPEATED_CASES, ids=str)
def test_a_list_past_its_count_is_refused_naming_the_list(case: Case) -> None:
    assert isinstance(case.limit, Repeated)
    request = with_items(case, case.limit.items_max + 1)

    # Copies of one item may break other rules too (a ladder's codes must be unique).
    assert refused_fields(request)[0] == case.path


@pytest.mark.parametrize("case", REPEATED_CASES, ids=str)
def test_an_empty_list_is_refused_only_where_items_are_required(case: Case) -> None:
    assert isinstance(case.limit, Repeated)
    request = with_items(case, 0)

    if case.limit.items_min > 0:
        assert refused_fields(request) == [case.path]
    else:
        assert message_checks.field_violations(request) == ()


# Lists longer than this (reconciliation's records) are checked by their count alone, which the
# oversize case above covers; building a full one per case would only slow the suite.
FULL_LIST_ITEMS_MAX = 1_000


@pytest.mark.parametrize(
    "case",
    [
        c
        for c in REPEATED_CASES
        if isinstance(c.limit, Repeated) and c.limit.items_max <= FULL_LIST_ITEMS_MAX
    ],
    ids=str,
)
def test_a_full_list_passes(case: Case) -> None:
    assert isinstance(case.limit, Repeated)
    violations = message_checks.field_violations(with_items(case, case.limit.items_max))
    assert case.path not in [violation.field for violation in violations]


# --- what the issue found ------------------------------------------------------------------------


def test_a_five_thousand_character_currency_code_is_refused() -> None:
    from coalition.v1 import settlement_pb2

    request = settlement_pb2.GetStatementRequest(
        business_day="2026-11-23", currency_code="U" * 5000
    )

    assert refused_fields(request) == ["currency_code"]


def test_every_bad_item_of_a_batch_is_named_with_its_index() -> None:
    from coalition.v1 import exchange_pb2

    good = build_valid(exchange_pb2.CreateTransferBatchRequest.DESCRIPTOR)
    assert isinstance(good, exchange_pb2.CreateTransferBatchRequest)
    entry = good.entries[0]
    request = exchange_pb2.CreateTransferBatchRequest(entries=[entry, entry, entry, entry])
    request.entries[3].transfer.ppid = "SKY-1234"
    request.entries[1].idempotency_key = "x" * 5000

    assert refused_fields(request) == ["entries[1].idempotency_key", "entries[3].transfer.ppid"]


def test_invalid_utf8_elsewhere_than_a_string_is_just_malformed() -> None:
    from coalition.v1 import partner_pb2

    body = partner_pb2.RegisterKeyRequest(public_key=b"\xff" * 32).SerializeToString()
    assert message_checks.invalid_utf8_field(partner_pb2.RegisterKeyRequest, body) is None
    assert message_checks.invalid_utf8_field(partner_pb2.RegisterKeyRequest, b"\x0a\xff") is None
