"""Explicit hostile values (issue 7 item 4): negative, zero and huge numbers in every integer
field of every request, undefined enum values, repeated fields past their limits, NUL bytes
in every string field, and a signing key no one possesses.

Each case starts from a request that is valid in the prepared world, changes one thing, and
checks the exact refusal (or acceptance), never INTERNAL or UNKNOWN, and that a refusal
writes nothing. The integer and enum fields are found in the descriptors, so a new field
fails `test_every_integer_field_has_an_expectation` until someone says what it must get.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from coalition.v1 import (
    analytics_pb2,
    event_pb2,
    exchange_pb2,
    partner_pb2,
    settlement_pb2,
    tier_pb2,
)
from exchange.domain import limits
from partners.sdk import HubError
from tests.conftest import BACKENDS
from tests.reliability.conftest import ReliabilityTally
from tests.reliability.fuzz_support import (
    EVERY_RPC,
    INT_RANGES,
    RPC_BY_NAME,
    SIGNED_OUTCOME,
    FieldPath,
    FuzzHub,
    Observation,
    Rpc,
    World,
    assert_contained,
    field_paths,
    module_database,
    path_name,
    running_fuzz_hub,
    set_field,
    string_field_paths,
)
from tests.support.coalition import TestCoalition

Code = grpc.StatusCode
INVALID = frozenset({Code.INVALID_ARGUMENT})
OK = frozenset({Code.OK})
NOT_ACCEPTED = frozenset({Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.FAILED_PRECONDITION})
DAY_S = 86_400


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzHub]:
    directory = tmp_path_factory.mktemp("fuzz-limits")
    with module_database(request, directory) as url, running_fuzz_hub(url) as hub:
        yield hub


# --- a valid request per RPC with integer or enum fields -----------------------------------------


def _in_days(days: int) -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(days)


def _rate_terms() -> exchange_pb2.RateTerms:
    terms = exchange_pb2.RateTerms(
        source_units=1000,
        destination_units=750,
        minimum_source_points=1000,
        increment_source_points=1000,
        maximum_source_points=100_000,
        member_daily_cap_source_points=1_000_000,
        bonus_percent=10,
        settlement_currency_code="USD",
        price_per_destination_point="0.0040",
    )
    terms.bonus_start_time.FromDatetime(_in_days(-1))
    terms.bonus_end_time.FromDatetime(_in_days(30))
    terms.effective_from.FromDatetime(datetime.datetime(2020, 1, 1))
    terms.effective_to.FromDatetime(_in_days(365))
    return terms


def _inline_transfer(world: World) -> exchange_pb2.CreateTransferRequest:
    return exchange_pb2.CreateTransferRequest(
        ppid=world.source_ppid, destination_partner_id="harbor", source_points=1000
    )


def _member_tier(world: World) -> tier_pb2.ReportMemberTierRequest:
    request = tier_pb2.ReportMemberTierRequest(ppid=world.source_ppid, tier_code="GOLD")
    request.expire_time.FromDatetime(_in_days(30))
    return request


def _list_transfers(world: World) -> exchange_pb2.ListTransfersRequest:
    request = exchange_pb2.ListTransfersRequest(page_size=10)
    request.start_time.FromDatetime(datetime.datetime(2020, 1, 1))
    request.end_time.FromDatetime(_in_days(1))
    return request


def _reconciliation(world: World) -> settlement_pb2.SubmitReconciliationRequest:
    record = settlement_pb2.ReconciliationRecord(
        transfer_id=world.completed_transfer_id,
        direction="outgoing",
        points=3000,
        amount={"amount_minor": 900, "currency_code": "USD"},
    )
    return settlement_pb2.SubmitReconciliationRequest(
        business_day=world.settled_day, records=[record]
    )


def _metric_series(world: World) -> analytics_pb2.GetMetricSeriesRequest:
    return analytics_pb2.GetMetricSeriesRequest(
        metric="transfer_count",
        start_date=world.settled_day,
        end_date=world.settled_day,
        granularity=analytics_pb2.GRANULARITY_DAY,
    )


def _programme_totals(world: World) -> analytics_pb2.ReportProgrammeTotalsRequest:
    return analytics_pb2.ReportProgrammeTotalsRequest(
        period=world.settled_day[:7],
        points_issued=120_000,
        points_redeemed=80_000,
        points_expired=5_000,
        active_members=400,
    )


@dataclass(frozen=True)
class Baseline:
    """A request valid in the prepared world, and who sends it."""

    caller: str
    build: Callable[[World], Message]


BASELINES: dict[str, Baseline] = {
    "ListPartners": Baseline("skyway", lambda w: partner_pb2.ListPartnersRequest(page_size=10)),
    "Subscribe": Baseline("skyway", lambda w: event_pb2.SubscribeRequest(after_sequence=0)),
    "ListEvents": Baseline(
        "skyway", lambda w: event_pb2.ListEventsRequest(after_sequence=0, page_size=10)
    ),
    "AckEvents": Baseline("skyway", lambda w: event_pb2.AckEventsRequest(up_to_sequence=0)),
    "PublishTierLadder": Baseline(
        "orbit",
        lambda w: tier_pb2.PublishTierLadderRequest(
            tiers=[tier_pb2.Tier(code="GOLD", display_name="Gold", rank=1, canonical_level=1)]
        ),
    ),
    "ProposeRecognition": Baseline(
        "skyway",
        lambda w: tier_pb2.ProposeRecognitionRequest(
            source_partner_id="skyway",
            target_partner_id="harbor",
            rules=[tier_pb2.RecognitionRule(source_tier_code="GOLD", target_tier_code="GOLD")],
            validity_days=365,
            min_days_between_grants=30,
        ),
    ),
    "AcceptRecognition": Baseline(
        "harbor",
        lambda w: tier_pb2.AcceptRecognitionRequest(
            agreement_id=w.recognition_agreement_id, version=1
        ),
    ),
    "ReportMemberTier": Baseline("skyway", _member_tier),
    "ProposeRateAgreement": Baseline(
        "skyway",
        lambda w: exchange_pb2.ProposeRateAgreementRequest(
            source_partner_id="skyway", destination_partner_id="orbit", terms=_rate_terms()
        ),
    ),
    "AcceptRateAgreement": Baseline(
        "skyway",
        lambda w: exchange_pb2.AcceptRateAgreementRequest(
            agreement_id=w.proposed_rate_agreement_id, version=1
        ),
    ),
    "ListRateAgreements": Baseline(
        "skyway", lambda w: exchange_pb2.ListRateAgreementsRequest(page_size=10)
    ),
    "CreateQuote": Baseline(
        "skyway",
        lambda w: exchange_pb2.CreateQuoteRequest(
            ppid=w.source_ppid, destination_partner_id="harbor", source_points=1000
        ),
    ),
    "CreateTransfer": Baseline("skyway", _inline_transfer),
    "CreateTransferBatch": Baseline(
        "skyway",
        lambda w: exchange_pb2.CreateTransferBatchRequest(
            entries=[
                exchange_pb2.TransferBatchEntry(
                    idempotency_key=str(uuid.uuid4()), transfer=_inline_transfer(w)
                )
            ]
        ),
    ),
    "ListTransfers": Baseline("skyway", _list_transfers),
    "SubmitReconciliation": Baseline("skyway", _reconciliation),
    "OpenDispute": Baseline(
        "harbor",
        lambda w: settlement_pb2.OpenDisputeRequest(
            business_day=w.settled_day,
            transfer_id=w.completed_transfer_id,
            claimed_amount={"amount_minor": 1, "currency_code": "USD"},
            reason="amount differs",
        ),
    ),
    "GetMetricSeries": Baseline("skyway", _metric_series),
    "ReportProgrammeTotals": Baseline("skyway", _programme_totals),
    "GetProgrammeComparison": Baseline(
        "skyway", lambda w: analytics_pb2.GetProgrammeComparisonRequest(period=w.settled_day[:7])
    ),
}

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


def test_every_integer_field_has_an_expectation() -> None:
    found = {f"{rpc.name}.{path}" for rpc, path in INTEGER_FIELDS}
    assert found == set(EXPECTATIONS), "declare what each integer field must get"
    assert {key.split(".")[0] for key in found} <= set(BASELINES)


def send_changed(
    fuzz_hub: FuzzHub, rpc_name: str, change: Callable[[Message], None], note: str
) -> Observation:
    baseline = BASELINES[rpc_name]
    request = baseline.build(fuzz_hub.world)
    change(request)
    rpc = RPC_BY_NAME[rpc_name]
    return fuzz_hub.send(rpc, request.SerializeToString(), baseline.caller, note=note)


def item_error_code(observation: Observation) -> int:
    response = exchange_pb2.CreateTransferBatchResponse.FromString(observation.response or b"")
    assert len(response.results) == 1
    return response.results[0].error.code


@pytest.mark.parametrize("rpc_name", sorted(BASELINES))
def test_each_baseline_is_accepted(
    fuzz_hub: FuzzHub, reliability_tally: ReliabilityTally, rpc_name: str
) -> None:
    """So that each refusal below is the changed field's doing."""
    observation = send_changed(fuzz_hub, rpc_name, lambda m: None, "(baseline)")
    reliability_tally.add("fuzz cases run", 1)
    assert_contained(observation, OK)


@pytest.mark.parametrize(("rpc", "path", "value_class"), integer_params())
def test_negative_zero_and_huge_integers_get_the_intended_status(
    request: pytest.FixtureRequest,
    fuzz_hub: FuzzHub,
    reliability_tally: ReliabilityTally,
    rpc: Rpc,
    path: str,
    value_class: str,
) -> None:
    key = f"{rpc.name}.{path}"
    value = values_of(rpc, path)[value_class]
    observation = send_changed(
        fuzz_hub, rpc.name, lambda m: set_field(m, path, value), f"({path} = {value})"
    )
    reliability_tally.add("fuzz cases run", 1)
    expected = expected_status(key, value_class)
    if key == ITEM_REFUSED_IN_BATCH and expected == INVALID:
        assert_contained(observation, OK)
        assert item_error_code(observation) == Code.INVALID_ARGUMENT.value[0]
        assert not any(change.table == "transfers" for change in observation.changes)
        return
    assert_contained(observation, expected)


UNDEFINED_ENUM_VALUES = (99, -1, 2**31 - 1, -(2**31))


@pytest.mark.parametrize(("rpc", "path"), ENUM_FIELDS, ids=lambda x: str(x))
@pytest.mark.parametrize("value", UNDEFINED_ENUM_VALUES)
def test_an_undefined_enum_value_is_bad_input(
    fuzz_hub: FuzzHub, reliability_tally: ReliabilityTally, rpc: Rpc, path: str, value: int
) -> None:
    observation = send_changed(
        fuzz_hub, rpc.name, lambda m: set_field(m, path, value), f"({path} = {value})"
    )
    reliability_tally.add("fuzz cases run", 1)
    assert_contained(observation, INVALID)


def test_the_enum_fields_of_requests_are_known() -> None:
    assert [f"{rpc.name}.{path}" for rpc, path in ENUM_FIELDS] == [
        "ListTransfers.state",
        "GetMetricSeries.granularity",
    ]


# --- repeated fields past their limits -----------------------------------------------------------


def _ids(count: int) -> list[str]:
    return [f"tr_{index:024x}" for index in range(count)]


def _entries(
    world: World, count: int, *, same_key: bool = False
) -> list[exchange_pb2.TransferBatchEntry]:
    key = str(uuid.uuid4())
    return [
        exchange_pb2.TransferBatchEntry(
            idempotency_key=key if same_key else str(uuid.uuid4()),
            transfer=_inline_transfer(world),
        )
        for _ in range(count)
    ]


def _tiers(count: int) -> list[tier_pb2.Tier]:
    return [
        tier_pb2.Tier(code=f"T{rank}", display_name=f"Tier {rank}", rank=rank, canonical_level=1)
        for rank in range(1, count + 1)
    ]


def _rules(count: int) -> list[tier_pb2.RecognitionRule]:
    return [
        tier_pb2.RecognitionRule(source_tier_code="GOLD", target_tier_code="GOLD")
        for _ in range(count)
    ]


REPEATED_CASES: dict[str, tuple[str, str, Callable[[World], Message]]] = {
    "ConfirmCredits with 1001 ids": (
        "ConfirmCredits",
        "harbor",
        lambda w: exchange_pb2.ConfirmCreditsRequest(transfer_ids=_ids(1001)),
    ),
    "ConfirmCredits with no ids": (
        "ConfirmCredits",
        "harbor",
        lambda w: exchange_pb2.ConfirmCreditsRequest(),
    ),
    "ConfirmCredits with one id twice": (
        "ConfirmCredits",
        "harbor",
        lambda w: exchange_pb2.ConfirmCreditsRequest(transfer_ids=_ids(1) * 2),
    ),
    "CreateTransferBatch with 1001 entries": (
        "CreateTransferBatch",
        "skyway",
        lambda w: exchange_pb2.CreateTransferBatchRequest(entries=_entries(w, 1001)),
    ),
    "CreateTransferBatch with no entries": (
        "CreateTransferBatch",
        "skyway",
        lambda w: exchange_pb2.CreateTransferBatchRequest(),
    ),
    "CreateTransferBatch with one key twice": (
        "CreateTransferBatch",
        "skyway",
        lambda w: exchange_pb2.CreateTransferBatchRequest(entries=_entries(w, 2, same_key=True)),
    ),
    "PublishTierLadder with 21 tiers": (
        "PublishTierLadder",
        "orbit",
        lambda w: tier_pb2.PublishTierLadderRequest(tiers=_tiers(21)),
    ),
    "PublishTierLadder with no tiers": (
        "PublishTierLadder",
        "orbit",
        lambda w: tier_pb2.PublishTierLadderRequest(),
    ),
    "ProposeRecognition with 51 rules": (
        "ProposeRecognition",
        "skyway",
        lambda w: tier_pb2.ProposeRecognitionRequest(
            source_partner_id="skyway",
            target_partner_id="harbor",
            rules=_rules(51),
            validity_days=365,
        ),
    ),
    "ProposeRecognition with no rules": (
        "ProposeRecognition",
        "skyway",
        lambda w: tier_pb2.ProposeRecognitionRequest(
            source_partner_id="skyway", target_partner_id="harbor", validity_days=365
        ),
    ),
}


@pytest.mark.parametrize("case", list(REPEATED_CASES))
def test_repeated_fields_past_their_limits_are_bad_input(
    fuzz_hub: FuzzHub, reliability_tally: ReliabilityTally, case: str
) -> None:
    rpc_name, caller, build = REPEATED_CASES[case]
    request = build(fuzz_hub.world)
    observation = fuzz_hub.send(
        RPC_BY_NAME[rpc_name], request.SerializeToString(), caller, note=f"({case})"
    )
    reliability_tally.add("fuzz cases run", 1)
    allowed = INVALID if fuzz_hub.implemented(RPC_BY_NAME[rpc_name]) else {Code.UNIMPLEMENTED}
    assert_contained(observation, frozenset(allowed))


# --- NUL and other odd text in every string field ------------------------------------------------

ODD_STRINGS = {
    "NUL inside": "tr_\x00",
    "NUL alone": "\x00",
    "right-to-left override": "\u202epp_",
    "10,000 characters": "x" * 10_000,
}
STRING_FIELDS = [
    (rpc, path_name(path)) for rpc in EVERY_RPC for path in string_field_paths(rpc.descriptor)
]


def string_params() -> list[object]:
    return [
        pytest.param(rpc, path, label, id=f"{rpc.name}.{path}={label}")
        for rpc, path in STRING_FIELDS
        for label in ODD_STRINGS
    ]


@pytest.mark.parametrize(("rpc", "path", "label"), string_params())
def test_odd_text_in_any_string_field_is_never_an_internal_error(
    request: pytest.FixtureRequest,
    fuzz_hub: FuzzHub,
    reliability_tally: ReliabilityTally,
    rpc: Rpc,
    path: str,
    label: str,
) -> None:
    """NUL, which PostgreSQL text cannot hold, must be refused as bad input or not found."""
    baseline = BASELINES.get(rpc.name)
    message = baseline.build(fuzz_hub.world) if baseline else rpc.request_type()
    set_field(message, path, ODD_STRINGS[label])
    caller = baseline.caller if baseline else "skyway"
    observation = fuzz_hub.send(rpc, message.SerializeToString(), caller, note=f"({label})")
    reliability_tally.add("fuzz cases run", 1)
    assert_contained(observation, SIGNED_OUTCOME)


# --- times and echoes past what the hub can hold or send -----------------------------------------

# Past 9.2e12 seconds a time's microseconds no longer fit the int64 columns.
SECONDS_PAST_INT64_MICROS = 2**44


def _forever_terms(world: World) -> Message:
    request = BASELINES["ProposeRateAgreement"].build(world)
    request.terms.ClearField("effective_to")  # type: ignore[attr-defined]
    request.terms.effective_from.seconds = SECONDS_PAST_INT64_MICROS  # type: ignore[attr-defined]
    return request


def _tier_expiring_never(world: World) -> Message:
    request = _member_tier(world)
    request.expire_time.seconds = SECONDS_PAST_INT64_MICROS
    return request


def _transfers_since_never(world: World) -> Message:
    request = _list_transfers(world)
    request.ClearField("end_time")
    request.start_time.seconds = SECONDS_PAST_INT64_MICROS
    return request


TIME_CASES: dict[str, tuple[str, Callable[[World], Message]]] = {
    "agreement effective from year 557,000": (
        "ProposeRateAgreement",
        _forever_terms,
    ),
    "tier expiring in year 557,000": ("ReportMemberTier", _tier_expiring_never),
    "transfers since year 557,000": ("ListTransfers", _transfers_since_never),
}


@pytest.mark.parametrize("case", list(TIME_CASES))
def test_a_time_past_what_the_hub_can_store_is_bad_input(
    request: pytest.FixtureRequest,
    fuzz_hub: FuzzHub,
    reliability_tally: ReliabilityTally,
    case: str,
) -> None:
    rpc_name, build = TIME_CASES[case]
    message = build(fuzz_hub.world)
    caller = BASELINES[rpc_name].caller
    observation = fuzz_hub.send(
        RPC_BY_NAME[rpc_name], message.SerializeToString(), caller, note=f"({case})"
    )
    reliability_tally.add("fuzz cases run", 1)
    assert_contained(observation, INVALID)


def filled_to_the_limit(build: Callable[[int], Message]) -> Message:
    """The message `build(n)` makes with the n that brings it to exactly MESSAGE_BYTES_MAX."""
    guess = limits.MESSAGE_BYTES_MAX - 256
    message = build(guess + limits.MESSAGE_BYTES_MAX - build(guess).ByteSize())
    assert message.ByteSize() == limits.MESSAGE_BYTES_MAX
    return message


ECHO_CASES: dict[str, tuple[str, str, Callable[[World], Message]]] = {
    "ConfirmCredits with a 4 MiB transfer id": (
        "ConfirmCredits",
        "harbor",
        lambda w: filled_to_the_limit(
            lambda n: exchange_pb2.ConfirmCreditsRequest(transfer_ids=["t" * n])
        ),
    ),
    "CreateTransferBatch with a 4 MiB idempotency key": (
        "CreateTransferBatch",
        "skyway",
        lambda w: filled_to_the_limit(
            lambda n: exchange_pb2.CreateTransferBatchRequest(
                entries=[
                    exchange_pb2.TransferBatchEntry(
                        idempotency_key="k" * n, transfer=_inline_transfer(w)
                    )
                ]
            )
        ),
    ),
}


@pytest.mark.parametrize("case", list(ECHO_CASES))
def test_an_answer_never_outgrows_the_message_limit_by_echoing_input(
    request: pytest.FixtureRequest,
    fuzz_hub: FuzzHub,
    reliability_tally: ReliabilityTally,
    case: str,
) -> None:
    """A batch answers each item; an item's answer must not carry an unchecked 4 MiB value
    back, or the committed call's response cannot be sent."""
    rpc_name, caller, build = ECHO_CASES[case]
    message = build(fuzz_hub.world)
    observation = fuzz_hub.send(
        RPC_BY_NAME[rpc_name], message.SerializeToString(), caller, note=f"({case})"
    )
    reliability_tally.add("fuzz cases run", 1)
    assert_contained(observation, INVALID | OK)
    assert observation.code is Code.OK or observation.reason == "INVALID_ARGUMENT"


# --- a key no one possesses ----------------------------------------------------------------------

# The neutral point of Ed25519, encoded: [S]B = R + [k]A holds for R = A = identity and S = 0
# whatever the message, so this "signature" verifies everything under this "key".
IDENTITY_POINT = (1).to_bytes(32, "little")
FORGED_SIGNATURE = IDENTITY_POINT + bytes(32)


def test_a_key_no_one_possesses_cannot_be_registered(
    coalition: TestCoalition, reliability_tally: ReliabilityTally
) -> None:
    request = partner_pb2.RegisterKeyRequest(
        public_key=IDENTITY_POINT, proof_of_possession=FORGED_SIGNATURE
    )
    connection = coalition.connection("skyway")
    reliability_tally.add("fuzz cases run", 1)
    with pytest.raises(HubError) as refusal:
        connection.call(
            "/coalition.v1.PartnerService/RegisterKey",
            request,
            partner_pb2.RegisterKeyResponse,
            changes_state=True,
        )
    assert refusal.value.code is Code.INVALID_ARGUMENT
