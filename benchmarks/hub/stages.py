"""The stages of a run, in order; each measures through `Run.measure` (benchmarks.hub.measure).

The raw psycopg transaction loop (its own scratch database); seeding the hub (another scratch
database, the hub in its own process); the bare gRPC echo with messages the size of a signed
CreateQuote; the signed echo (the protocol's own cost of that CreateQuote); signed quotes;
complete single transfers at peak and at half of peak; complete batched transfers; a signed
unary call with no stream open, then with 1,000 streams held by other partners. All of these
are of one hub process. Then the hub again on the same database with two processes sharing the
port: signed quotes and complete single transfers, each client with connections of its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from sqlalchemy.engine import make_url

from benchmarks.hub.measure import Measured, Run
from benchmarks.hub.rawloop import (
    RAW_LOOP_CONNECTIONS,
    RawTransferWorkload,
    create_raw_schema,
    psycopg_conninfo,
)
from benchmarks.hub.seed import (
    AUDIENCE,
    TRANSFER_POINTS_MIN,
    PreparedHub,
    SeededCoalition,
    seed_members,
)
from benchmarks.hub.servers import ServerProcess, echo_process, signed_echo_process
from benchmarks.hub.signed_echo import SignedEcho
from benchmarks.hub.statements import StatementLog, statement_log
from benchmarks.hub.streams import (
    HubKeysWorkload,
    held_streams,
    one_event_each,
    streaming_connections,
)
from benchmarks.hub.workloads import BatchWorkload, EchoWorkload, QuoteWorkload, TransferWorkload
from coalition.keys import SigningKey
from coalition.v1 import exchange_pb2
from partners.sdk import ExchangeClient

HALF_PEAK = 0.5
HUB_PROCESSES_COMPARED = 2
# Calls each client makes through a fresh multi-process hub before it is measured: every worker
# opens its pool and prepares its statements, as the one-process hub did while seeding.
WARM_UP_CALLS = 3
# Past this share of a core per worker process, the raw loop's clients may be its limit.
CLIENT_BOUND_PERCENT = 80


def counted_statements(run: Run, url: str, admin_url: str) -> StatementLog | None:
    """Statement logging on for a fresh scratch database; None (and a note) if not possible."""
    database = str(make_url(url).database)
    found = statement_log(psycopg_conninfo(admin_url), database)
    if isinstance(found, str):
        run.note(f"statements not counted: {found}")
        return None
    return found


def raw_loop_stage(run: Run, conninfo: str, log: StatementLog | None) -> None:
    create_raw_schema(conninfo)
    shape = run.shape(RAW_LOOP_CONNECTIONS)
    workload = RawTransferWorkload(conninfo)
    result = run.measure(
        "raw_transactions", "transactions", workload, shape, Measured(None, conninfo, log)
    )
    busiest_percent = (result.client_cpu_s / result.elapsed_s / shape.processes) * 100
    if busiest_percent > CLIENT_BOUND_PERCENT:
        run.note(
            f"raw loop clients used {busiest_percent:.0f}% of a core per process: the loop may "
            "be bound by its clients rather than the database (too few cores for both)"
        )


@dataclass(frozen=True)
class QuoteProbe:
    """One real signed CreateQuote: the request's size and the hub's response bytes."""

    request_bytes: int
    response: bytes

    def sizes(self) -> dict[str, int]:
        return {"request_bytes": self.request_bytes, "response_bytes": len(self.response)}


def probe_quote(coalition: SeededCoalition) -> QuoteProbe:
    source, destination = coalition.partner_ids[:2]
    request = exchange_pb2.CreateQuoteRequest(
        ppid=coalition.ppids(source)[0],
        destination_partner_id=destination,
        source_points=TRANSFER_POINTS_MIN,
    )
    seen: list[bytes] = []
    connection = coalition.connection(source)
    connection.on_response = lambda _method, body: seen.append(body)
    try:
        ExchangeClient(connection).create_quote(
            request.ppid, request.destination_partner_id, request.source_points
        )
    finally:
        connection.close()
    return QuoteProbe(len(request.SerializeToString()), seen[-1])


def seed_stage(run: Run, hub: ServerProcess, prepared: PreparedHub) -> SeededCoalition:
    options = run.options
    run.progress(f"seeding: {options.members} members linked at {options.partners} partners")
    started_s = time.perf_counter()
    coalition = seed_members(prepared, hub.target, AUDIENCE, options.members)
    run.progress(f"  seeded in {time.perf_counter() - started_s:.1f} s")
    return coalition


def echo_stage(run: Run, probe: QuoteProbe) -> None:
    with echo_process(len(probe.response), run.work / "echo.log") as echo:
        workload = EchoWorkload(echo.target, probe.request_bytes)
        run.measure("echo", "calls", workload, run.shape(run.options.clients), Measured(echo))


def signed_echo_stage(
    run: Run, coalition: SeededCoalition, prepared: PreparedHub, probe: QuoteProbe
) -> None:
    """The quote stage's own clients, against a server that does only the protocol's work."""
    keys = {partner.partner_id: partner.signing_key() for partner in prepared.partners}
    signed = SignedEcho.create(AUDIENCE, probe.response, prepared.hub_key_path, keys)
    with signed_echo_process(signed, run.work / "signed-echo.log") as echo:
        workload = QuoteWorkload(replace(coalition, target=echo.target))
        shape = run.shape(run.options.clients)
        run.measure("signed_echo", "calls", workload, shape, Measured(echo))


def transfer_stages(run: Run, coalition: SeededCoalition, hub: Measured) -> None:
    options = run.options
    peak = run.measure(
        "hub_transfers", "transfers", TransferWorkload(coalition), run.shape(options.clients), hub
    )
    half_rate_per_s = peak.rate_per_s * HALF_PEAK
    if half_rate_per_s > 0:
        shape = run.shape(options.clients, half_rate_per_s)
        run.measure("hub_transfers_half_peak", "transfers", TransferWorkload(coalition), shape, hub)
    else:
        run.note("half-peak stage skipped: no transfer completed at peak")
    batch = BatchWorkload(coalition, options.batch_entries)
    run.measure("hub_batch_transfers", "transfers", batch, run.shape(options.batch_clients), hub)


def streams_stages(
    run: Run, coalition: SeededCoalition, streaming: dict[str, SigningKey], hub: Measured
) -> None:
    """One partner's signed unary calls, one at a time: none open, then 1,000 streams open."""
    caller = HubKeysWorkload(coalition, coalition.partner_ids[0])
    run.measure("hub_unary_no_streams", "calls", caller, run.shape(1), hub)
    with streaming_connections(coalition, streaming) as connections:
        one_event_each(connections)
        with held_streams(connections) as opened:
            run.context["streams_open"] = opened
            run.progress(f"  {opened} streams open, held by {len(connections)} partners")
            run.measure("hub_unary_streams_open", "calls", caller, run.shape(1), hub)


def two_process_stages(run: Run, coalition: SeededCoalition, hub: Measured) -> None:
    """The quote and single-transfer stages against the hub with HUB_PROCESSES_COMPARED processes.

    Each client's channels keep connections of their own, so the kernel spreads them over the
    workers; the stage's sessions say how many workers served (`hub_processes_serving`).
    """
    warm_up(coalition, run.options.clients)
    shape = run.shape(run.options.clients)
    quotes = QuoteWorkload(coalition, own_connections=True)
    transfers = TransferWorkload(coalition, own_connections=True)
    for key, unit, workload in (
        ("hub_quotes_two_processes", "quotes", quotes),
        ("hub_transfers_two_processes", "transfers", transfers),
    ):
        serving = run.measure(key, unit, workload, shape, hub).hub_processes_serving
        if serving is not None and serving < HUB_PROCESSES_COMPARED:
            run.note(f"{key}: {serving} of {HUB_PROCESSES_COMPARED} hub processes served")


def warm_up(coalition: SeededCoalition, clients: int) -> None:
    operations = [
        workload.open(index, clients)
        for index in range(clients)
        for workload in (
            QuoteWorkload(coalition, own_connections=True),
            TransferWorkload(coalition, own_connections=True),
        )
    ]
    try:
        for _ in range(WARM_UP_CALLS):
            for operation in operations:
                operation()
    finally:
        for operation in operations:
            operation.close()
