"""Each baseline is accepted; every changed field gets its intended status, never INTERNAL. The
fuzzed hub is prepared once per backend for this module."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from google.protobuf.message import Message

from coalition.v1 import exchange_pb2, partner_pb2
from partners.sdk import HubError
from tests.conftest import BACKENDS
from tests.reliability.conftest import ReliabilityTally
from tests.reliability.fuzz_limits.baselines import BASELINES, INVALID, OK, Code
from tests.reliability.fuzz_limits.cases import (
    ECHO_CASES,
    FORGED_SIGNATURE,
    IDENTITY_POINT,
    ODD_STRINGS,
    REPEATED_CASES,
    TIME_CASES,
    string_params,
)
from tests.reliability.fuzz_limits.integers import (
    ENUM_FIELDS,
    EXPECTATIONS,
    INTEGER_FIELDS,
    ITEM_REFUSED_IN_BATCH,
    UNDEFINED_ENUM_VALUES,
    expected_status,
    integer_params,
    values_of,
)
from tests.reliability.fuzz_support import (
    RPC_BY_NAME,
    SIGNED_OUTCOME,
    FuzzHub,
    Observation,
    Rpc,
    assert_contained,
    module_database,
    running_fuzz_hub,
    set_field,
)
from tests.support.coalition import TestCoalition


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzHub]:
    directory = tmp_path_factory.mktemp("fuzz-limits")
    with module_database(request, directory) as url, running_fuzz_hub(url) as hub:
        yield hub


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
