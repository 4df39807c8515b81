"""Hostile input against the running hub (issue 7 item 4), for every RPC of every coalition.v1
service: requests drawn from the schema, byte-level garbage and over-size messages, all signed
correctly so they reach validation. Only intended statuses come back, never INTERNAL or
UNKNOWN, and a refusal leaves every table as it was but for the nonce it spent.

One hub per backend serves the module (a module-scoped fixture, so Hypothesis examples share
it); each example snapshots every table right before and after its own call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coalition.v1 import partner_pb2
from exchange.domain import limits
from tests.conftest import BACKENDS
from tests.reliability.conftest import ReliabilityTally
from tests.reliability.fuzz_support import (
    ANY_OUTCOME,
    EVERY_RPC,
    PARTNER_IDS,
    RPC_BY_NAME,
    SIGNED_OUTCOME,
    FieldPath,
    FuzzHub,
    Observation,
    RequestStrategies,
    Rpc,
    assert_contained,
    body_at_size,
    embedded,
    hostile_bodies,
    module_database,
    over_size_body,
    path_name,
    running_fuzz_hub,
    string_field_paths,
)

Code = grpc.StatusCode

# Bounded so the module runs in about a minute per backend on two shared cores.
SCHEMA_EXAMPLES_PER_RPC = 20
HOSTILE_EXAMPLES_PER_RPC = 12
FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzHub]:
    directory = tmp_path_factory.mktemp("fuzz-rpcs")
    with module_database(request, directory) as url, running_fuzz_hub(url) as hub:
        yield hub


@pytest.fixture(scope="module")
def strategies(fuzz_hub: FuzzHub) -> RequestStrategies:
    return RequestStrategies(fuzz_hub.world)


def allowed_for(fuzz_hub: FuzzHub, rpc: Rpc, allowed: frozenset[Code]) -> frozenset[Code]:
    """An RPC the hub does not declare yet is refused as UNIMPLEMENTED, whatever it is sent."""
    return allowed if fuzz_hub.implemented(rpc) else frozenset({Code.UNIMPLEMENTED})


PROTO_DIRECTORY = Path(__file__).parents[2] / "proto" / "coalition" / "v1"


def test_every_rpc_is_fuzzed(fuzz_hub: FuzzHub, reliability_tally: ReliabilityTally) -> None:
    """The list comes from the descriptors, so a new RPC is fuzzed without anyone adding it;
    a new service needs its module in SERVICE_MODULES, which this compares with proto/."""
    protos = [path.read_text() for path in sorted(PROTO_DIRECTORY.glob("*.proto"))]
    services = {name for text in protos for name in re.findall(r"^service (\w+)", text, re.M)}
    methods = [name for text in protos for name in re.findall(r"^\s*rpc (\w+)\(", text, re.M)]
    assert {rpc.path.split("/")[1] for rpc in EVERY_RPC} == {f"coalition.v1.{s}" for s in services}
    assert sorted(rpc.name for rpc in EVERY_RPC) == sorted(methods)
    reliability_tally.add("fuzz: RPCs under fuzz, summed over backends", len(EVERY_RPC))
    reliability_tally.add(
        "fuzz: RPCs UNIMPLEMENTED, summed over backends", len(fuzz_hub.undeclared)
    )


@pytest.mark.parametrize("rpc", EVERY_RPC, ids=str)
@settings(FUZZ, max_examples=SCHEMA_EXAMPLES_PER_RPC)
@given(data=st.data())
def test_schema_drawn_requests_get_only_intended_statuses(
    fuzz_hub: FuzzHub,
    strategies: RequestStrategies,
    reliability_tally: ReliabilityTally,
    rpc: Rpc,
    data: st.DataObject,
) -> None:
    """Negative, zero and huge numbers, undefined enum values, odd Unicode, long strings,
    repeated fields past their limits, the world's live ids and other partners' ids."""
    message = data.draw(strategies.message(rpc.descriptor), label="request")
    caller = data.draw(st.sampled_from(PARTNER_IDS), label="caller")
    observation = fuzz_hub.send(rpc, message.SerializeToString(), caller)
    reliability_tally.add("fuzz cases run", 1)
    reliability_tally.add(f"fuzz: schema-drawn requests {observation.code.name}", 1)
    assert_contained(observation, allowed_for(fuzz_hub, rpc, SIGNED_OUTCOME))


@pytest.mark.parametrize("rpc", EVERY_RPC, ids=str)
@settings(FUZZ, max_examples=HOSTILE_EXAMPLES_PER_RPC)
@given(data=st.data())
def test_hostile_bytes_get_only_intended_statuses(
    fuzz_hub: FuzzHub,
    strategies: RequestStrategies,
    reliability_tally: ReliabilityTally,
    rpc: Rpc,
    data: st.DataObject,
) -> None:
    """Random and truncated bytes, malformed wire format, unknown fields and invalid UTF-8 in
    every string field (protobuf refuses to parse it: INVALID_ARGUMENT, never INTERNAL)."""
    kind, body, allowed = data.draw(hostile_bodies(rpc, strategies), label="body")
    observation = fuzz_hub.send(rpc, body, note=f"({kind})")
    reliability_tally.add("fuzz cases run", 1)
    reliability_tally.add(f"fuzz: hostile bodies {observation.code.name}", 1)
    assert_contained(observation, allowed_for(fuzz_hub, rpc, allowed))


STRING_PATHS = [(rpc, path) for rpc in EVERY_RPC for path in string_field_paths(rpc.descriptor)]


@pytest.mark.parametrize(
    ("rpc", "path"), STRING_PATHS, ids=[f"{rpc}.{path_name(path)}" for rpc, path in STRING_PATHS]
)
def test_invalid_utf8_in_each_string_field_is_bad_input(
    fuzz_hub: FuzzHub, reliability_tally: ReliabilityTally, rpc: Rpc, path: FieldPath
) -> None:
    """b"\\xff\\xfe" as the string's bytes: protobuf refuses to parse it, and the hub must
    say INVALID_ARGUMENT, not INTERNAL."""
    observation = fuzz_hub.send(rpc, embedded(path, b"\xff\xfe"), note=f"({path_name(path)})")
    reliability_tally.add("fuzz cases run", 1)
    assert_contained(observation, allowed_for(fuzz_hub, rpc, frozenset({Code.INVALID_ARGUMENT})))


@pytest.mark.parametrize("rpc", EVERY_RPC, ids=str)
def test_a_message_over_the_size_limit_is_refused_unread(
    fuzz_hub: FuzzHub, reliability_tally: ReliabilityTally, rpc: Rpc
) -> None:
    observation = fuzz_hub.send(rpc, over_size_body())
    reliability_tally.add("fuzz cases run", 1)
    assert_contained(observation, frozenset({Code.RESOURCE_EXHAUSTED}))
    assert not observation.changes, "gRPC refuses the message before the hub sees it"


AT_LIMIT_RPCS = [rpc for rpc in EVERY_RPC if body_at_size(rpc, 64) is not None]


@pytest.mark.parametrize("rpc", AT_LIMIT_RPCS, ids=str)
def test_a_message_of_exactly_the_size_limit_reaches_the_hub(
    request: pytest.FixtureRequest,
    fuzz_hub: FuzzHub,
    reliability_tally: ReliabilityTally,
    rpc: Rpc,
) -> None:
    """MESSAGE_BYTES_MAX bytes in one string or bytes field: the hub answers it, and with
    no more than a refusal (an answer that echoed the input would not fit in a status)."""
    body = body_at_size(rpc, limits.MESSAGE_BYTES_MAX)
    assert body is not None
    observation = fuzz_hub.send(rpc, body)
    reliability_tally.add("fuzz cases run", 1)
    assert_contained(observation, allowed_for(fuzz_hub, rpc, SIGNED_OUTCOME))
    assert observation.code is Code.OK or observation.reason, "the hub itself answered"


HEADER_EXAMPLES = 60
# Values gRPC will send: printable ASCII for text headers, any bytes for binary ones.
header_text = st.one_of(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40),
    st.sampled_from(["0", "-1", "99999999999999", "harbor", "AAAAAAAAAAAAAAAAAAAAAA"]),
)
HEADER_EDITS = ("keep", "keep", "keep", "replace", "drop", "duplicate")


def edited_headers(
    data: st.DataObject, headers: list[tuple[str, str | bytes]]
) -> list[tuple[str, str | bytes]]:
    edited: list[tuple[str, str | bytes]] = []
    for name, value in headers:
        edit = data.draw(st.sampled_from(HEADER_EDITS), label=name)
        if edit == "replace":
            values: st.SearchStrategy[str | bytes] = (
                st.binary(max_size=80) if name.endswith("-bin") else header_text
            )
            edited.append((name, data.draw(values, label=f"{name} value")))
        elif edit != "drop":
            edited.extend([(name, value)] * (2 if edit == "duplicate" else 1))
    if data.draw(st.booleans(), label="an unsigned extra header"):
        edited.append(("x-extra", data.draw(header_text, label="x-extra value")))
    return edited


@settings(FUZZ, max_examples=HEADER_EXAMPLES)
@given(data=st.data())
def test_headers_changed_on_the_wire_pass_only_as_signed(
    fuzz_hub: FuzzHub, reliability_tally: ReliabilityTally, data: st.DataObject
) -> None:
    """Dropped, duplicated or replaced signed headers: UNAUTHENTICATED, and not even the
    nonce is written; headers the signature does not cover change nothing."""
    rpc = RPC_BY_NAME["GetPartner"]
    body = partner_pb2.GetPartnerRequest(partner_id="harbor").SerializeToString()
    request = fuzz_hub.signed(rpc, body)
    signed = request.metadata()
    sent = edited_headers(data, signed)
    observation = fuzz_hub.observe(rpc, request, sent, note="(headers edited)")
    reliability_tally.add("fuzz cases run", 1)
    untouched = sorted(map(repr, signed)) == sorted(repr(h) for h in sent if h[0] != "x-extra")
    assert_contained(observation, frozenset({Code.OK if untouched else Code.UNAUTHENTICATED}))
    assert untouched or not observation.changes


METADATA_MAX = limits.METADATA_BYTES_MAX
# gRPC treats max_metadata_size as a soft limit: past it, it refuses at random, more often the
# larger the headers, and always only past its hard limit, by default a quarter higher.
METADATA_HARD_MAX = METADATA_MAX * 5 // 4
# Header sets gRPC refuses, always, before the hub reads them.
OVER_SIZE_METADATA: dict[str, list[tuple[str, str | bytes]]] = {
    "one text header past the hard limit": [("x-padding", "a" * (METADATA_HARD_MAX + 1))],
    "one binary header of 200 KiB": [("x-padding-bin", b"\xff" * 200 * 1024)],
    "600 small headers": [(f"x-padding-{i}", "a" * 40) for i in range(600)],
    "cx-partner past the hard limit": [("cx-partner", "s" * (METADATA_HARD_MAX + 1))],
    "cx-signature-bin past the hard limit": [
        ("cx-signature-bin", b"\x00" * (METADATA_HARD_MAX + 1))
    ],
}
# Large but within the limit: they reach the hub, which refuses them as one authentication
# failure (a value that is not what the header means).
LARGE_METADATA: dict[str, list[tuple[str, str | bytes]]] = {
    "cx-partner of 8 KiB": [("cx-partner", "s" * 8192)],
    "cx-nonce of 8 KiB": [("cx-nonce", "A" * 8192)],
    "cx-created of 8 KiB digits": [("cx-created", "9" * 8192)],
    "cx-key-id of 8 KiB": [("cx-key-id", "ed25519:" + "f" * 8184)],
    "cx-idempotency-key of 8 KiB": [("cx-idempotency-key", "0" * 8192)],
    "cx-signature-bin of 8 KiB": [("cx-signature-bin", b"\x00" * 8192)],
}
METADATA_RPCS = ("GetPartner", "EnrollMember", "Subscribe", "CreateTransferBatch")


def with_headers(
    fuzz_hub: FuzzHub, rpc: Rpc, headers: list[tuple[str, str | bytes]], note: str
) -> Observation:
    """A correctly signed call whose headers are replaced by, or joined with, `headers`."""
    request = fuzz_hub.signed(rpc, b"")
    replaced = {key for key, _ in headers}
    metadata = [(k, v) for k, v in request.metadata() if k not in replaced] + headers
    return fuzz_hub.observe(rpc, request, metadata, note=f"({note})")


@pytest.mark.parametrize("rpc_name", METADATA_RPCS)
@pytest.mark.parametrize("case", list(OVER_SIZE_METADATA) + list(LARGE_METADATA))
def test_over_size_and_large_metadata_are_refused_and_write_nothing(
    fuzz_hub: FuzzHub, reliability_tally: ReliabilityTally, rpc_name: str, case: str
) -> None:
    headers = OVER_SIZE_METADATA.get(case) or LARGE_METADATA[case]
    observation = with_headers(fuzz_hub, RPC_BY_NAME[rpc_name], headers, case)
    reliability_tally.add("fuzz cases run", 1)
    expected = Code.RESOURCE_EXHAUSTED if case in OVER_SIZE_METADATA else Code.UNAUTHENTICATED
    assert_contained(observation, frozenset({expected}))
    assert not observation.changes, "an unauthenticated call writes nothing, not even a nonce"


METADATA_ATTEMPTS = 10


def test_metadata_just_past_the_limit_is_always_refused(
    fuzz_hub: FuzzHub, reliability_tally: ReliabilityTally
) -> None:
    rpc = RPC_BY_NAME["GetPartner"]
    padding: list[tuple[str, str | bytes]] = [("x-padding", "a" * (METADATA_MAX + 1))]
    codes = set()
    for _ in range(METADATA_ATTEMPTS):
        observation = with_headers(fuzz_hub, rpc, padding, "just past METADATA_BYTES_MAX")
        reliability_tally.add("fuzz cases run", 1)
        assert_contained(observation, ANY_OUTCOME)
        codes.add(observation.code)
    assert codes == {Code.RESOURCE_EXHAUSTED}
