"""The bench's own measuring: statement counting, backend CPU, the signed echo, the report."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from benchmarks.hub import report
from benchmarks.hub.dbwaits import BackendCpu, sampled_waits
from benchmarks.hub.load import Outcome, StageResult
from benchmarks.hub.proc import process_tree_cpu_s
from benchmarks.hub.rawloop import psycopg_conninfo
from benchmarks.hub.seed import postgres_scratch_database, prepare_hub, seed_members
from benchmarks.hub.servers import echo_process, hub_process, signed_echo_process
from benchmarks.hub.signed_echo import CREATE_QUOTE_METHOD, NonceMemory, SignedEcho
from benchmarks.hub.statements import count_statements, line_pattern, statement_log
from benchmarks.hub.workloads import EchoWorkload, QuoteWorkload, TransferWorkload
from coalition import wire
from coalition.keys import SigningKey, load_signing_key, verify_signature, write_key_pair
from coalition.v1 import exchange_pb2
from exchange.api.authentication import AuthenticationFailure
from partners.sdk import ExchangeClient, HubConnection, connect
from tests.support.databases import postgres_admin_url, require_or_skip_postgres

AUDIENCE = "coalition-bench"
DEBIAN_PREFIX = "%m [%p] %q%u@%d "
KEY = str(uuid.uuid4())


# --- statements from the server's log ------------------------------------------------------------


def test_a_statement_line_is_matched_with_its_pid() -> None:
    pattern = line_pattern(DEBIAN_PREFIX)
    lines = "\n".join(
        [
            "2026-12-03 13:20:01.123 UTC [41] postgres@db LOG:  statement: BEGIN",
            "2026-12-03 13:20:01.124 UTC [41] postgres@db LOG:  execute _pg3_2: SELECT 1",
            "2026-12-03 13:20:01.124 UTC [41] postgres@db DETAIL:  parameters: $1 = 'x'",
            "2026-12-03 13:20:01.125 UTC [42] postgres@db LOG:  execute <unnamed>: SELECT 2",
            "\tFROM continuation LOG:  statement: not a line of its own",
            "2026-12-03 13:20:01.126 UTC [41] postgres@db LOG:  duration: 1.0 ms",
        ]
    )
    assert count_statements(lines, pattern, {41}) == 2
    assert count_statements(lines, pattern, {41, 42}) == 3


def test_without_the_pid_in_the_prefix_every_statement_line_counts() -> None:
    pattern = line_pattern("%t ")
    assert "pid" not in pattern.groupindex
    text = "2026-12-03 13:20:01 UTC LOG:  statement: COMMIT\n"
    assert count_statements(text, pattern, set()) == 1
    assert line_pattern("%%%-6p ").match("% 41     LOG:  statement: BEGIN") is not None


@pytest.fixture
def scratch_url() -> Iterator[str]:
    require_or_skip_postgres()
    with postgres_scratch_database(postgres_admin_url(), "coalition_test_bench_") as url:
        yield url


@pytest.fixture
def scratch_conninfo(scratch_url: str) -> str:
    return psycopg_conninfo(scratch_url)


def test_the_log_counts_one_sessions_statements_and_its_cpu_is_read(scratch_conninfo: str) -> None:
    database = scratch_conninfo.rsplit("/", 1)[1]
    found = statement_log(psycopg_conninfo(postgres_admin_url()), database)
    if isinstance(found, str):
        if os.environ.get("COALITION_REQUIRE_POSTGRES"):
            pytest.fail(f"the server's statement log cannot be read: {found}")
        pytest.skip(f"the server's statement log cannot be read here: {found}")
    with psycopg.connect(scratch_conninfo, autocommit=True) as session:
        pid = session.info.backend_pid
        with sampled_waits(scratch_conninfo) as waits:
            start = found.size()
            for value in range(3):
                session.execute("SELECT %s::int", (value,))
            end = found.size()
    assert pid in waits.pids
    assert found.count(start, end, waits.pids) == 3
    assert found.count(start, end, {pid + 1_000_000}) == (0 if found.by_pid else 3)
    cpu_s = waits.cpu_s()
    assert cpu_s is None or cpu_s >= 0


def test_backends_not_of_this_machine_have_no_cpu() -> None:
    cpu = BackendCpu()
    cpu.read({os.getpid()}, at_start=True)  # a Python process, not a postgres one
    assert cpu.total_s() is None
    assert cpu.foreign == {os.getpid()}


def test_a_process_cpu_includes_its_children() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        found = process_tree_cpu_s(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert {os.getpid(), child.pid} <= set(found)
    assert process_tree_cpu_s(child.pid) == {}


# --- the hub with two processes ------------------------------------------------------------------

HUB_NAMES_QUERY = """
SELECT count(DISTINCT application_name) FROM pg_stat_activity
WHERE datname = current_database() AND application_name LIKE 'coalition-hub-%'
"""


def test_the_two_process_hub_serves_the_benchs_clients_from_both_workers(
    scratch_url: str, tmp_path: Path
) -> None:
    prepared = prepare_hub(scratch_url, tmp_path, 2)
    clients = 8  # 16 connections: all on one worker by chance once in 2^15 runs
    with hub_process(prepared, AUDIENCE, tmp_path / "hub.log", processes=2) as hub:
        assert len(hub.cpu_by_process_s()) == 3  # the supervisor and its two workers
        coalition = seed_members(prepared, hub.target, AUDIENCE, clients, threads=4)
        operations = [
            workload.open(index, clients)
            for index in range(clients)
            for workload in (
                QuoteWorkload(coalition, own_connections=True),
                TransferWorkload(coalition, own_connections=True),
            )
        ]
        try:
            outcomes = [operation() for operation in operations]
        finally:
            for operation in operations:
                operation.close()
        with psycopg.connect(psycopg_conninfo(scratch_url), autocommit=True) as session:
            row = session.execute(HUB_NAMES_QUERY).fetchone()
    assert outcomes == [Outcome()] * len(operations)
    assert row is not None and row[0] == 2


# --- the signed echo -----------------------------------------------------------------------------


def test_a_nonce_is_refused_the_second_time_and_forgotten_after_retention() -> None:
    nonces = NonceMemory(retention_s=10)
    assert nonces.record("alpha", "n1", created_s=100, now_s=100)
    assert not nonces.record("alpha", "n1", created_s=100, now_s=101)
    assert nonces.record("bravo", "n1", created_s=100, now_s=101)
    assert nonces.record("alpha", "n1", created_s=200, now_s=200)


@pytest.fixture
def hub_key_path(tmp_path: Path) -> Path:
    path, _ = write_key_pair(tmp_path / "hub", SigningKey.generate())
    return path


def signed_quote_response(hub_key: SigningKey) -> bytes:
    payload = exchange_pb2.QuotePayload(quote_id="q1", source_points=1000).SerializeToString()
    signature = hub_key.sign(wire.payload_signing_bytes(kind="quote", payload=payload))
    quote = exchange_pb2.Quote(payload=payload, signing_key_id=hub_key.key_id, signature=signature)
    return exchange_pb2.CreateQuoteResponse(quote=quote).SerializeToString()


def sdk_connection(partner_key: SigningKey, echo: SignedEcho, target: str) -> HubConnection:
    hub_keys = {echo.hub_key.key_id: echo.hub_key.public_key_bytes}
    return connect(target, "alpha", partner_key, AUDIENCE, hub_keys)


def test_the_signed_echo_checks_a_request_as_the_hub_does_and_signs_its_answer(
    hub_key_path: Path,
) -> None:
    partner_key = SigningKey.generate()
    response = b"response bytes"
    echo = SignedEcho.create(AUDIENCE, response, hub_key_path, {"alpha": partner_key})
    echo = SignedEcho.from_json(echo.to_json())
    connection = sdk_connection(partner_key, echo, "127.0.0.1:1")
    body = exchange_pb2.CreateQuoteRequest(ppid="p", source_points=1000).SerializeToString()
    nonce = wire.new_nonce()
    metadata = connection.signed_metadata(CREATE_QUOTE_METHOD, nonce, KEY, body)
    trailers = dict(echo.answer(body, metadata))
    signed = wire.response_signing_bytes(
        method=CREATE_QUOTE_METHOD,
        audience=AUDIENCE,
        nonce=nonce,
        body=response,
    )
    signature = trailers[wire.HEADER_SIGNATURE]
    assert isinstance(signature, bytes)
    assert verify_signature(echo.hub_key.public_key_bytes, signature, signed)
    with pytest.raises(AuthenticationFailure, match="nonce"):
        echo.answer(body, metadata)
    with pytest.raises(AuthenticationFailure, match="signature"):
        echo.answer(
            body + b"\x00",
            connection.signed_metadata(CREATE_QUOTE_METHOD, wire.new_nonce(), KEY, body),
        )
    connection.close()


def test_the_sdk_quotes_against_the_signed_echo_server(hub_key_path: Path, tmp_path: Path) -> None:
    partner_key = SigningKey.generate()
    response = signed_quote_response(load_signing_key(hub_key_path))
    echo = SignedEcho.create(AUDIENCE, response, hub_key_path, {"alpha": partner_key})
    with signed_echo_process(echo, tmp_path / "signed-echo.log") as server:
        connection = sdk_connection(partner_key, echo, server.target)
        try:
            payload = ExchangeClient(connection).create_quote("p", "bravo", 1000)
        finally:
            connection.close()
    assert payload.quote_id == "q1"


def test_the_bare_echo_answers_signed_shaped_calls(tmp_path: Path) -> None:
    with echo_process(200, tmp_path / "echo.log") as server:
        operation = EchoWorkload(server.target, 40).open(0, 1)
        try:
            assert operation() == Outcome()
        finally:
            operation.close()


# --- figures and the report ----------------------------------------------------------------------


def stage(
    name: str,
    items: int,
    server_cpu_s: float | None = None,
    database_cpu_s: float | None = None,
    statements: int | None = None,
) -> StageResult:
    """`items` calls of 1 ms each in 2 s, by 4 clients using 1 s of CPU."""
    return StageResult(
        name,
        "calls",
        items,
        items,
        {},
        2.0,
        [0.001] * items,
        4,
        1.0,
        server_cpu_s=server_cpu_s,
        database_cpu_s=database_cpu_s,
        statements=statements,
    )


def test_costs_are_per_successful_item_and_unknown_stays_unknown() -> None:
    result = stage("hub_quotes", 400, server_cpu_s=2.0, database_cpu_s=None, statements=5600)
    assert result.cost_per_op() == {
        "server_cpu_ms_per_op": 5.0,
        "database_cpu_ms_per_op": None,
        "client_cpu_ms_per_op": 2.5,
        "statements_per_op": 14.0,
    }
    assert stage("echo", 0, server_cpu_s=1.0).cost_per_op()["server_cpu_ms_per_op"] is None


def test_the_report_compares_quotes_with_the_signed_echo_and_streams_with_none() -> None:
    stages = {
        "echo": stage("echo", 4000, server_cpu_s=1.0),
        "signed_echo": stage("signed_echo", 2000, server_cpu_s=1.0),
        "hub_quotes": stage("hub_quotes", 400, server_cpu_s=2.0),
        "hub_unary_no_streams": stage("hub_unary_no_streams", 100),
        "hub_unary_streams_open": StageResult(
            "hub_unary_streams_open", "calls", 100, 100, {}, 2.0, [0.002] * 100, 1, 0.1
        ),
    }
    document = report.document(stages, {}, {})
    assert document["ratios"]["quotes_per_signed_echo_call"] == 0.2
    assert document["ratios"]["signed_echo_calls_per_echo_call"] == 0.5
    assert document["ratios"]["quote_server_cpu_per_signed_echo_call"] == 10.0
    assert document["ratios"]["unary_p99_streams_open_per_none"] == 2.0
    assert document["ratios"]["transfers_per_raw_transaction"] is None
    assert document["ratios"]["transfers_two_processes_per_one"] is None
    assert document["stages"]["signed_echo"]["server_cpu_ms_per_op"] == 0.5
    table = report.table(document, stages)
    assert "baseline: signed echo (CreateQuote)" in table
    assert "quotes_per_signed_echo_call" in table
    assert "stmts" in table.splitlines()[0]


def test_the_report_sets_two_hub_processes_beside_one() -> None:
    stages = {
        "hub_transfers": stage("hub_transfers", 100, server_cpu_s=2.0),
        "hub_transfers_two_processes": stage("hub_transfers_two_processes", 150, server_cpu_s=3.3),
    }
    document = report.document(stages, {}, {})
    assert document["ratios"]["transfers_two_processes_per_one"] == 1.5
    assert document["ratios"]["quotes_two_processes_per_one"] is None
    rows = report.table(document, stages).splitlines()
    assert rows[1].startswith("hub: complete single transfers")
    assert rows[2].startswith("hub x2: complete single transfers")
