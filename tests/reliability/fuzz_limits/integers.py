"""Every integer and enum field of every request, and the status each class of value must get."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from tests.reliability.fuzz_limits.baselines import INVALID, NOT_ACCEPTED, OK, Code
from tests.reliability.fuzz_support import (
    EVERY_RPC,
    INT_RANGES,
    FieldPath,
    Rpc,
    field_paths,
    path_name,
)

# --- the integer fields, from the descriptors ----------------------------------------------------


def integer_paths(descriptor: Descriptor) -> list[FieldPath]:
    return field_paths(descriptor, lambda item: item.type in INT_RANGES)


def enum_paths(descriptor: Descriptor) -> list[FieldPath]:
    return field_paths(descriptor, lambda item: item.type == FieldDescriptor.TYPE_ENUM)


def field_cases(finder: Callable[[Descriptor], list[FieldPath]]) -> list[tuple[Rpc, str]]:
    return [(rpc, path_name(path)) for rpc in EVERY_RPC for path in finder(rpc.descriptor)]


INTEGER_FIELDS = field_cases(integer_paths)
ENUM_FIELDS = field_cases(enum_paths)


# --- what each integer field must get ------------------------------------------------------------

NEGATIVE, LOWEST, ZERO, HUGE = "-1", "lowest", "0", "highest"
VALUE_CLASSES = (NEGATIVE, LOWEST, ZERO, HUGE)
# By default a negative, zero or huge value is bad input; these fields are otherwise.
PAGE_SIZE = {ZERO: OK}  # 0 asks for the default page size
TIME_SECONDS: dict[str, frozenset[Code]] = {}
TIME_NANOS = {ZERO: OK}
EXPECTATIONS: dict[str, dict[str, frozenset[Code]]] = {
    "ListPartners.page_size": PAGE_SIZE,
    "Subscribe.after_sequence": {ZERO: OK, HUGE: OK},
    "ListEvents.after_sequence": {ZERO: OK, HUGE: OK},
    "ListEvents.page_size": PAGE_SIZE,
    "AckEvents.up_to_sequence": {ZERO: OK, HUGE: frozenset({Code.FAILED_PRECONDITION})},
    "PublishTierLadder.tiers.rank": {},
    "PublishTierLadder.tiers.canonical_level": {},
    "ProposeRecognition.validity_days": {},
    "ProposeRecognition.min_days_between_grants": {ZERO: OK},
    "AcceptRecognition.version": {NEGATIVE: NOT_ACCEPTED, ZERO: NOT_ACCEPTED, HUGE: NOT_ACCEPTED},
    "ReportMemberTier.expire_time.seconds": TIME_SECONDS,
    "ReportMemberTier.expire_time.nanos": TIME_NANOS,
    "ProposeRateAgreement.terms.source_units": {},
    "ProposeRateAgreement.terms.destination_units": {},
    "ProposeRateAgreement.terms.minimum_source_points": {},
    # A huge increment leaves no amount but 0 transferable; odd terms, but not unsafe ones.
    "ProposeRateAgreement.terms.increment_source_points": {HUGE: INVALID | OK},
    "ProposeRateAgreement.terms.maximum_source_points": {},
    # The daily cap has no upper bound: a partner may allow any amount a day.
    "ProposeRateAgreement.terms.member_daily_cap_source_points": {HUGE: OK},
    "ProposeRateAgreement.terms.bonus_percent": {ZERO: OK},
    "ProposeRateAgreement.terms.bonus_start_time.seconds": TIME_SECONDS,
    "ProposeRateAgreement.terms.bonus_start_time.nanos": TIME_NANOS,
    "ProposeRateAgreement.terms.bonus_end_time.seconds": TIME_SECONDS,
    "ProposeRateAgreement.terms.bonus_end_time.nanos": TIME_NANOS,
    "ProposeRateAgreement.terms.effective_from.seconds": TIME_SECONDS,
    "ProposeRateAgreement.terms.effective_from.nanos": TIME_NANOS,
    "ProposeRateAgreement.terms.effective_to.seconds": TIME_SECONDS,
    "ProposeRateAgreement.terms.effective_to.nanos": TIME_NANOS,
    "AcceptRateAgreement.version": {NEGATIVE: NOT_ACCEPTED, ZERO: NOT_ACCEPTED, HUGE: NOT_ACCEPTED},
    "ListRateAgreements.page_size": PAGE_SIZE,
    "CreateQuote.source_points": {},
    "CreateTransfer.source_points": {},
    "CreateTransferBatch.entries.transfer.source_points": {},
    "ListTransfers.start_time.seconds": {HUGE: INVALID | OK},
    "ListTransfers.start_time.nanos": TIME_NANOS,
    "ListTransfers.end_time.seconds": {HUGE: INVALID | OK},
    "ListTransfers.end_time.nanos": TIME_NANOS,
    "ListTransfers.page_size": PAGE_SIZE,
    # A partner's own record may say 0 or any amount: reconciliation reports the break.
    "SubmitReconciliation.records.points": {ZERO: OK, HUGE: OK},
    "SubmitReconciliation.records.amount.amount_minor": {ZERO: OK, HUGE: OK},
    # A claim may be any non-negative amount; a second claim on the line is refused.
    "OpenDispute.claimed_amount.amount_minor": {
        ZERO: OK | {Code.FAILED_PRECONDITION},
        HUGE: OK | {Code.FAILED_PRECONDITION},
    },
    # A programme total is 0 to 10**15 (docs/metrics.md): 0 is a month with nothing to report.
    "ReportProgrammeTotals.points_issued": {ZERO: OK},
    "ReportProgrammeTotals.points_redeemed": {ZERO: OK},
    "ReportProgrammeTotals.points_expired": {ZERO: OK},
    "ReportProgrammeTotals.active_members": {ZERO: OK},
}

# A batch answers each entry on its own: the call succeeds and the entry carries the refusal.
ITEM_REFUSED_IN_BATCH = "CreateTransferBatch.entries.transfer.source_points"


def expected_status(key: str, value_class: str) -> frozenset[Code]:
    declared = EXPECTATIONS[key]
    if value_class == LOWEST:
        return declared.get(LOWEST, declared.get(NEGATIVE, INVALID))
    return declared.get(value_class, INVALID)


def values_of(rpc: Rpc, path: str) -> dict[str, int]:
    descriptor = rpc.descriptor
    for name in path.split("."):
        item = descriptor.fields_by_name[name]
        descriptor = item.message_type  # type: ignore[assignment]
    low, high = INT_RANGES[item.type]
    return {NEGATIVE: -1, LOWEST: low, ZERO: 0, HUGE: high}


def integer_params() -> list[object]:
    return [
        pytest.param(rpc, path, value_class, id=f"{rpc.name}.{path}={value_class}")
        for rpc, path in INTEGER_FIELDS
        for value_class in VALUE_CLASSES
    ]


UNDEFINED_ENUM_VALUES = (99, -1, 2**31 - 1, -(2**31))
