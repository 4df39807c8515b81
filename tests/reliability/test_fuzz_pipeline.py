"""Hostile calls by the hundred thousand, in process (issue 18 item 6): the hub's own request
pipeline, as bootstrap wires it, called directly with schema-drawn and mangled bodies and
correctly signed or tampered headers, on a hub with a prepared world.

The network is not what is under test here (test_fuzz_rpcs.py sends its cases over gRPC);
what is: whatever the bytes and headers, the answer is never INTERNAL or UNKNOWN, it is
always hub-signed over what the caller receives, and tampered headers never pass.
COALITION_FUZZ_SEED replays a run's cases.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from coalition import wire
from coalition.keys import verify_signature
from exchange.api.authentication import request_nonce
from exchange.api.calls import IncomingCall, OpenedStream, Outcome
from exchange.api.pipeline import RequestPipeline
from tests.conftest import BACKENDS
from tests.reliability.conftest import ReliabilityTally
from tests.reliability.fuzz_support import (
    EVERY_RPC,
    FuzzHub,
    module_database,
    running_fuzz_hub,
)
from tests.reliability.pipeline_fuzz import Case, CaseMaker
from tests.support import databases
from tests.support.coalition import AUDIENCE

Code = grpc.StatusCode
# Cases per backend: SQLite is the cheaper of the two, so it takes the larger share.
# (signed calls that reach validation, calls with mangled headers) per backend, sized to run
# in about half a minute each on two shared cores.
CASES = {"sqlite": (10_000, 42_000), "postgresql": (8_000, 32_000)}
NEVER = frozenset({Code.INTERNAL, Code.UNKNOWN})
FAILURES_SHOWN = 5


# A RAM disk, where there is one: the SQLite file's own I/O is not under test, and on a disk
# it costs most of each case.
RAM_DISK = Path("/dev/shm")


@contextmanager
def fast_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if not RAM_DISK.is_dir():
        yield tmp_path_factory.mktemp("fuzz-pipeline")
        return
    directory = Path(tempfile.mkdtemp(prefix="coalition-fuzz-", dir=RAM_DISK))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def without_commit_flush(url: str) -> None:
    """This database alone commits without waiting for its WAL flush: durability is not
    under test here, and the wait would cost most of each case."""
    if not url.startswith("postgresql"):
        return
    admin = create_engine(databases.postgres_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            name = make_url(url).database
            connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    finally:
        admin.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzHub]:
    with fast_directory(tmp_path_factory) as directory, module_database(request, directory) as url:
        without_commit_flush(url)
        with running_fuzz_hub(url) as hub:
            yield hub


def unlimited(pipeline: RequestPipeline) -> RequestPipeline:
    """The same pipeline without the per-partner rate limit, which would otherwise refuse
    most of a hundred thousand calls before they reach validation."""
    return RequestPipeline(
        pipeline.settings,
        pipeline.uow_factory,
        pipeline.clock,
        pipeline.hub_key,
        pipeline.telemetry,
        None,
    )


def problems(case: Case, outcome: Outcome, hub_key_bytes: bytes) -> list[str]:
    found = []
    if outcome.status in NEVER:
        found.append(f"status {outcome.status.name}: {outcome.details[:200]!r}")
    if not case.headers_intact and not outcome.refused:
        found.append("tampered headers were accepted")
    trailers = dict(outcome.trailers)
    signature = trailers.get(wire.HEADER_SIGNATURE)
    if not isinstance(signature, bytes):
        return [*found, "the answer is not signed"]
    if outcome.refused:
        details = trailers.get(wire.HEADER_STATUS_DETAILS, b"")
        signed = wire.refusal_signing_bytes(
            method=case.rpc.path,
            audience=AUDIENCE,
            nonce=request_nonce(case.metadata),
            status_code=outcome.status.value[0],
            status_details=details if isinstance(details, bytes) else b"",
        )
    else:
        signed = wire.response_signing_bytes(
            method=case.rpc.path,
            audience=AUDIENCE,
            nonce=request_nonce(case.metadata),
            body=outcome.response,
        )
    if not verify_signature(hub_key_bytes, signature, signed):
        found.append("the hub's signature does not verify over what the caller receives")
    return found


def test_hostile_calls_through_the_pipeline_are_contained(
    fuzz_hub: FuzzHub, reliability_tally: ReliabilityTally
) -> None:
    assert fuzz_hub.pipeline is not None, "bootstrap handed its server no pipeline"
    pipeline = unlimited(fuzz_hub.pipeline)
    seed = int(os.environ.get("COALITION_FUZZ_SEED") or random.randrange(2**31))
    maker = CaseMaker(random.Random(seed), fuzz_hub.world, fuzz_hub.keys, AUDIENCE)
    rpcs = [rpc for rpc in EVERY_RPC if rpc.path in fuzz_hub.methods]
    hub_key_bytes = fuzz_hub.hub.hub_key.public_key_bytes
    codes: Counter[str] = Counter()
    failures: list[str] = []
    signed_cases, header_cases = CASES[fuzz_hub.backend]
    cases = signed_cases + header_cases
    began = time.monotonic()
    exchange_log = logging.getLogger("exchange")
    level = exchange_log.level
    # Refusals are logged one line each; at this volume the logging would cost more than
    # the calls. Tracebacks (ERROR) are still collected by the fuzz hub's exception log.
    exchange_log.setLevel(logging.ERROR)
    try:
        for number in range(cases):
            rpc = maker.rng.choice(rpcs)
            case = maker.case(rpc) if number < signed_cases else maker.header_case(rpc)
            method = fuzz_hub.methods[rpc.path]
            incoming = IncomingCall(tuple(case.metadata))
            if method.streaming:
                opened = pipeline.open_stream(method, case.body, incoming)
                if isinstance(opened, OpenedStream):
                    codes["OK (stream opened)"] += 1
                    continue
                outcome = opened
            else:
                outcome = pipeline.handle(method, case.body, incoming)
            codes[outcome.status.name] += 1
            found = problems(case, outcome, hub_key_bytes)
            if found and len(failures) < FAILURES_SHOWN:
                failures.append(f"{case.describe()}\n  " + "\n  ".join(found))
            elif found:
                failures.append("")
    finally:
        exchange_log.setLevel(level)
    tracebacks = fuzz_hub.exceptions.take()
    seconds = time.monotonic() - began
    print(f"\npipeline fuzz on {fuzz_hub.backend}: seed {seed}, {cases} cases in {seconds:.1f} s")
    reliability_tally.add("fuzz cases run", cases)
    reliability_tally.add("INTERNAL answers", codes[Code.INTERNAL.name] + codes[Code.UNKNOWN.name])
    for code, count in codes.items():
        reliability_tally.add(f"fuzz: in-process pipeline {code}", count)
    assert not failures, f"{len(failures)} cases failed (seed {seed}):\n" + "\n".join(
        failure for failure in failures if failure
    )
    assert not tracebacks, "the hub logged failures:\n" + "\n".join(tracebacks[:3])
