"""Checks every request passes before any handler sees it, whatever its type: one walk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf import unknown_fields
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from coalition.v1 import event_pb2, exchange_pb2, partner_pb2, settlement_pb2, tier_pb2
from exchange.api import convert, field_limits
from exchange.domain import limits
from exchange.domain.errors import FieldChecks, FieldViolation, InvalidArgument
from exchange.domain.tiers import Tier, check_agreement_terms, check_ladder

NUL = "\x00"


@dataclass
class Findings:
    # Fields the schema lacks anywhere in the message: the signer and the hub disagree on
    # what was signed, so the request is refused as unauthenticated.
    unknown_fields: bool = False
    # The path of the first string holding a NUL character. No id, name or reason of the hub
    # contains one, and PostgreSQL text cannot store one: bad input, refused up front.
    nul_field: str | None = None


def inspect(message: Message) -> Findings:
    findings = Findings()
    _walk(message, "", findings)
    return findings


def _walk(message: Message, prefix: str, findings: Findings) -> None:
    if len(unknown_fields.UnknownFieldSet(message)) > 0:
        findings.unknown_fields = True
    for descriptor, value in message.ListFields():
        path = prefix + descriptor.name
        if descriptor.type == FieldDescriptor.TYPE_STRING and findings.nul_field is None:
            findings.nul_field = _nul_in(path, descriptor, value)
        elif descriptor.type == FieldDescriptor.TYPE_MESSAGE:
            for item_path, item in _messages(path, descriptor, value):
                _walk(item, item_path, findings)


def _nul_in(path: str, descriptor: FieldDescriptor, value: Any) -> str | None:
    if not descriptor.is_repeated:
        return path if NUL in value else None
    return next((f"{path}[{i}]" for i, text in enumerate(value) if NUL in text), None)


def _messages(path: str, descriptor: FieldDescriptor, value: Any) -> list[tuple[str, Message]]:
    entry_type = descriptor.message_type
    if entry_type is not None and entry_type.GetOptions().map_entry:
        if entry_type.fields_by_name["value"].type != FieldDescriptor.TYPE_MESSAGE:
            return []
        return [(f"{path}[{key!r}].", item) for key, item in value.items()]
    if descriptor.is_repeated:
        return [(f"{path}[{index}].", item) for index, item in enumerate(value)]
    return [(path + ".", value)]


# --- limits ------------------------------------------------------------------------------------


def field_violations(request: Message) -> tuple[FieldViolation, ...]:
    """Every string, bytes and repeated field of `request` outside its limit, one per field.

    The limits are the table in exchange/api/field_limits.py (docs/field-limits.md). A
    repeated field past its count is named once and only its first items_max items are
    looked into, so the work is bounded by the limits, not by what was sent.
    """
    found: dict[str, FieldViolation] = {}
    for violation in _limit_walk(request, ""):
        found.setdefault(violation.field, violation)
    rule = REQUEST_RULES.get(type(request))
    if rule is not None:
        for violation in rule(request):
            found.setdefault(violation.field, violation)
    return tuple(found.values())


def _limit_walk(message: Message, prefix: str) -> Iterator[FieldViolation]:
    entries = field_limits.LIMITS.get(message.DESCRIPTOR.full_name, {})
    for descriptor in message.DESCRIPTOR.fields:
        path = prefix + descriptor.name
        limit = entries.get(descriptor.name)
        value = getattr(message, descriptor.name)
        if isinstance(limit, field_limits.Repeated):
            yield from _repeated(path, descriptor, value, limit)
        elif limit is not None:
            yield from _scalar(path, value, limit)
        elif (
            descriptor.type == FieldDescriptor.TYPE_MESSAGE
            and not descriptor.is_repeated
            and message.HasField(descriptor.name)
        ):
            yield from _limit_walk(value, path + ".")


def _repeated(
    path: str, descriptor: Any, items: Any, limit: field_limits.Repeated
) -> Iterator[FieldViolation]:
    if not limit.items_min <= len(items) <= limit.items_max:
        yield FieldViolation(
            path, f"must hold {limit.items_min} to {limit.items_max:,} items, not {len(items):,}"
        )
    for index, item in enumerate(items[: limit.items_max]):
        if limit.item is not None:
            yield from _scalar(f"{path}[{index}]", item, limit.item)
        elif descriptor.type == FieldDescriptor.TYPE_MESSAGE:
            yield from _limit_walk(item, f"{path}[{index}].")


def _scalar(
    path: str, value: str | bytes, limit: field_limits.Text | field_limits.Binary
) -> Iterator[FieldViolation]:
    problem = (
        _bytes_problem(value, limit)
        if isinstance(limit, field_limits.Binary) and isinstance(value, bytes)
        else _text_problem(value, limit)
        if isinstance(limit, field_limits.Text) and isinstance(value, str)
        else None
    )
    if problem is not None:
        yield FieldViolation(path, problem)


def _text_problem(value: str, limit: field_limits.Text) -> str | None:
    if not value:
        return "is required" if limit.required else None
    if NUL in value:
        return "must not contain NUL characters"
    if len(value) > limit.chars_max:
        return f"must be at most {limit.chars_max} characters"
    if limit.printable and not value.isprintable():
        return "must hold printable characters only (no line breaks or control characters)"
    if limit.pattern is not None and not limit.pattern.fullmatch(value):
        return "must be " + limit.meaning.replace("`", "")
    return None


def _bytes_problem(value: bytes, limit: field_limits.Binary) -> str | None:
    if value and not limit.bytes_min <= len(value) <= limit.bytes_max:
        if limit.bytes_min == limit.bytes_max:
            return f"must be {limit.bytes_max} bytes ({limit.meaning})"
        return f"must be at most {limit.bytes_max} bytes ({limit.meaning})"
    return None


# --- rules that need nothing but the request ---------------------------------------------------
# Checked with the limits so that a request's every bad field is named in one answer: the
# handlers check the same again (they are also called without this walk), but a request
# that reaches them has none of these faults left. Batch entries are not here: each entry of
# a batch gets its own outcome, as it would alone.


def _refusals(check: Callable[[], object]) -> tuple[FieldViolation, ...]:
    try:
        check()
    except InvalidArgument as refusal:
        return refusal.field_violations
    return ()


def _page_size(size: int, size_max: int = limits.PAGE_SIZE_MAX) -> tuple[FieldViolation, ...]:
    checks = FieldChecks()
    checks.require(0 <= size <= size_max, "page_size", f"must be 0-{size_max} (0: the default)")
    return tuple(checks.violations)


def _quote(request: Any) -> tuple[FieldViolation, ...]:
    checks = FieldChecks()
    checks.require(
        0 < request.source_points <= limits.TRANSFER_POINTS_MAX,
        "source_points",
        "must be a positive number of points",
    )
    return tuple(checks.violations)


def _rate_proposal(request: Any) -> tuple[FieldViolation, ...]:
    return _refusals(lambda: convert.terms_from_message(request.terms))


def _ladder(request: Any) -> tuple[FieldViolation, ...]:
    ladder = [Tier(t.code, t.display_name, t.rank, t.canonical_level) for t in request.tiers]
    return _refusals(lambda: check_ladder(ladder))


def _recognition(request: Any) -> tuple[FieldViolation, ...]:
    checks = FieldChecks()
    checks.require(
        request.source_partner_id != request.target_partner_id,
        "target_partner_id",
        "must differ from source_partner_id",
    )
    days = (request.validity_days, request.min_days_between_grants)
    return (*checks.violations, *_refusals(lambda: check_agreement_terms(*days)))


def _times(request: Any, *fields: str, required: bool = False) -> list[FieldViolation]:
    checks = FieldChecks()
    for field in fields:
        if request.HasField(field):
            valid = convert.valid_timestamp(getattr(request, field))
            checks.require(valid, field, convert.TIMESTAMP_RULE)
        else:
            checks.require(not required, field, "is required")
    return checks.violations


def _transfer_list(request: Any) -> tuple[FieldViolation, ...]:
    checks = FieldChecks()
    known = exchange_pb2.TransferState.values()
    checks.require(request.state in known, "state", "is not a transfer state")
    found = _times(request, "start_time", "end_time")
    return (*checks.violations, *found, *_page_size(request.page_size))


def _reconciliation(request: Any) -> tuple[FieldViolation, ...]:
    checks = FieldChecks()
    for index, record in enumerate(request.records[: field_limits.RECONCILIATION_RECORDS_MAX]):
        field = f"records[{index}]"
        checks.require(record.points >= 0, f"{field}.points", "must not be negative")
        checks.require(record.amount.amount_minor >= 0, f"{field}.amount", "must not be negative")
    return tuple(checks.violations)


def _dispute(request: Any) -> tuple[FieldViolation, ...]:
    checks = FieldChecks()
    amount = request.claimed_amount.amount_minor
    checks.require(amount >= 0, "claimed_amount", "must not be negative")
    return tuple(checks.violations)


REQUEST_RULES: dict[type[Message], Callable[[Any], tuple[FieldViolation, ...]]] = {
    partner_pb2.ListPartnersRequest: lambda r: _page_size(r.page_size),
    event_pb2.ListEventsRequest: lambda r: _page_size(r.page_size, limits.EVENT_PAGE_SIZE_MAX),
    tier_pb2.PublishTierLadderRequest: _ladder,
    tier_pb2.ProposeRecognitionRequest: _recognition,
    tier_pb2.ReportMemberTierRequest: lambda r: tuple(_times(r, "expire_time", required=True)),
    exchange_pb2.ProposeRateAgreementRequest: _rate_proposal,
    exchange_pb2.ListRateAgreementsRequest: lambda r: _page_size(r.page_size),
    exchange_pb2.CreateQuoteRequest: _quote,
    exchange_pb2.ListTransfersRequest: _transfer_list,
    settlement_pb2.SubmitReconciliationRequest: _reconciliation,
    settlement_pb2.OpenDisputeRequest: _dispute,
}


# --- invalid UTF-8 -----------------------------------------------------------------------------

WIRE_VARINT, WIRE_FIXED64, WIRE_LENGTH, WIRE_FIXED32 = 0, 1, 2, 5
MESSAGE_DEPTH_MAX = 32


def invalid_utf8_field(request_type: type[Message], body: bytes) -> str | None:
    """The path of the first string field in `body` whose bytes are not valid UTF-8.

    For a body protobuf refused to parse: proto3 strings must be UTF-8, and naming the field
    lets the caller fix its request. None when no string is at fault (or the bytes are not
    a message of this type at all): then the body is just malformed.
    """
    try:
        return _utf8_walk(request_type.DESCRIPTOR, body, "", 0)
    except (IndexError, ValueError):
        return None


def _utf8_walk(descriptor: Any, body: bytes, prefix: str, depth: int) -> str | None:
    if depth > MESSAGE_DEPTH_MAX:
        return None
    seen: dict[int, int] = {}
    position = 0
    while position < len(body):
        tag, position = _varint(body, position)
        number, wire_type = tag >> 3, tag & 7
        value, position = _wire_value(body, position, wire_type)
        field = descriptor.fields_by_number.get(number)
        if field is None or wire_type != WIRE_LENGTH:
            continue
        index = seen.get(number, 0)
        seen[number] = index + 1
        path = prefix + field.name + (f"[{index}]" if field.is_repeated else "")
        found = _utf8_in(field, value, path, depth)
        if found is not None:
            return found
    return None


def _utf8_in(field: FieldDescriptor, value: bytes, path: str, depth: int) -> str | None:
    if field.type == FieldDescriptor.TYPE_STRING:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            return path
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        return _utf8_walk(field.message_type, value, path + ".", depth + 1)
    return None


def _varint(body: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = body[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift >= 64:
            raise ValueError("varint too long")


def _wire_value(body: bytes, position: int, wire_type: int) -> tuple[bytes, int]:
    if wire_type == WIRE_VARINT:
        return b"", _varint(body, position)[1]
    if wire_type in (WIRE_FIXED64, WIRE_FIXED32):
        end = position + (8 if wire_type == WIRE_FIXED64 else 4)
    elif wire_type == WIRE_LENGTH:
        length, position = _varint(body, position)
        end = position + length
    else:
        raise ValueError("unsupported wire type")
    if end > len(body):
        raise ValueError("truncated")
    return body[position:end], end
