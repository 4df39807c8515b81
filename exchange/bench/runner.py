"""One run on one machine: the bare baselines, then the hub on PostgreSQL, then the report.

Stages, in order: the raw psycopg transaction loop (its own scratch database), seeding the hub
(another scratch database, the hub in its own process), the bare gRPC echo with messages the
size of a signed CreateQuote, signed quotes, complete single transfers at peak and at half of
peak, complete batched transfers. Both scratch databases are dropped at the end, also after a
failure or Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from coalition.v1 import exchange_pb2
from exchange.adapters.sql.engine import POSTGRES_POOL_SIZE
from exchange.bench import report
from exchange.bench.dbwaits import DatabaseWaits, sampled_waits
from exchange.bench.load import LoadError, LoadShape, StageResult, Workload, run_stage, shape_for
from exchange.bench.profile import Profile, sampled
from exchange.bench.rawloop import (
    RAW_LOOP_ACCOUNTS,
    RAW_LOOP_CONNECTIONS,
    RawTransferWorkload,
    create_raw_schema,
    psycopg_conninfo,
)
from exchange.bench.seed import (
    AUDIENCE,
    MEMBERS_DEFAULT,
    PARTNERS_DEFAULT,
    TRANSFER_POINTS_MIN,
    PreparedHub,
    SeededCoalition,
    is_postgres,
    postgres_scratch_database,
    prepare_hub,
    seed_members,
)
from exchange.bench.servers import ServerProcess, ServerStartError, echo_process, hub_process
from exchange.bench.workloads import (
    BatchWorkload,
    EchoWorkload,
    QuoteWorkload,
    TransferWorkload,
)
from exchange.config import Settings
from partners.sdk import TRANSFER_BATCH_ENTRIES_MAX, ExchangeClient

RESULTS_PATH_DEFAULT = Path("bench-results/hub.json")
CLIENTS_DEFAULT = 16
# A batch is a partner's file: a few in flight at once, not one per client thread.
BATCH_CLIENTS_DEFAULT = 4
CLIENT_PROCESSES_MAX = max(2, os.cpu_count() or 2)
HALF_PEAK = 0.5
# Past this share of a core per worker process, the raw loop's clients may be its limit.
CLIENT_BOUND_PERCENT = 80


class BenchError(Exception):
    """A run that cannot start or cannot finish; one line for the operator."""


@dataclass(frozen=True)
class BenchOptions:
    database_url: str
    seconds: float
    out: Path = RESULTS_PATH_DEFAULT
    profile: bool = False
    clients: int = CLIENTS_DEFAULT
    batch_clients: int = BATCH_CLIENTS_DEFAULT
    batch_entries: int = TRANSFER_BATCH_ENTRIES_MAX
    members: int = MEMBERS_DEFAULT
    partners: int = PARTNERS_DEFAULT

    def check(self) -> None:
        try:
            postgres = is_postgres(self.database_url)
        except ArgumentError:
            raise BenchError(f"cannot parse --database-url {self.database_url!r}") from None
        if not postgres:
            raise BenchError(
                "coalition bench needs a PostgreSQL --database-url (postgresql+psycopg://...)"
            )
        if self.seconds <= 0:
            raise BenchError("--seconds must be positive")
        if not 1 <= self.batch_entries <= TRANSFER_BATCH_ENTRIES_MAX:
            raise BenchError(f"batch entries must be 1-{TRANSFER_BATCH_ENTRIES_MAX}")
        if min(self.clients, self.batch_clients) < 1:
            raise BenchError("--clients must be at least 1")
        if self.members < max(self.clients, self.batch_clients):
            raise BenchError("every client needs members of its own: raise --members")


@dataclass(frozen=True)
class Measured:
    """What a stage loads: a server process (its CPU, its profile) and/or a database."""

    server: ServerProcess | None = None
    conninfo: str | None = None

    def cpu_s(self) -> float | None:
        return self.server.cpu_s() if self.server is not None else None

    def waits(self) -> AbstractContextManager[DatabaseWaits]:
        return (
            nullcontext(DatabaseWaits()) if self.conninfo is None else sampled_waits(self.conninfo)
        )


@dataclass
class Run:
    """A run in progress: where its files go, and what it has measured so far."""

    options: BenchOptions
    work: Path
    progress: Callable[[str], None]
    stages: dict[str, StageResult] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    def shape(self, clients: int, rate_per_s: float | None = None) -> LoadShape:
        shape = shape_for(clients, CLIENT_PROCESSES_MAX, self.options.seconds)
        return replace(shape, rate_per_s=rate_per_s)

    def measure(
        self,
        key: str,
        unit: str,
        workload: Workload,
        shape: LoadShape,
        measured: Measured,
    ) -> StageResult:
        label = report.STAGE_LABELS[key]
        pacing = "" if shape.rate_per_s is None else f", paced to {shape.rate_per_s:.0f}/s"
        self.progress(
            f"stage {label}: {shape.clients} clients in {shape.processes} processes, "
            f"{shape.duration_s:g} s{pacing}"
        )
        with self._profiled(key, measured.server), measured.waits() as waits:
            cpu_before_s = measured.cpu_s()
            result = run_stage(key, unit, workload, shape)
            cpu_after_s = measured.cpu_s()
        if cpu_before_s is not None and cpu_after_s is not None:
            result = replace(result, server_cpu_s=cpu_after_s - cpu_before_s)
        result = replace(result, database_sessions=waits.average())
        self.stages[key] = result
        self.progress(f"  {report.stage_line(label, result)}")
        if measured.conninfo is not None:
            self.progress(f"  {waits.text()}")
        return result

    def _profiled(self, key: str, server: ServerProcess | None) -> AbstractContextManager[None]:
        if not self.options.profile or server is None or key not in PROFILED_STAGES:
            return nullcontext()
        raw_path = self.options.out.with_name(f"{self.options.out.stem}-profile-{key}.txt")
        raw_path.parent.mkdir(parents=True, exist_ok=True)
        return _keep(self.profiles, key, sampled(server.pid, key, raw_path))


PROFILED_STAGES = ("hub_transfers", "hub_batch_transfers")


@contextmanager
def _keep(
    profiles: dict[str, Profile], key: str, sampling: AbstractContextManager[Profile]
) -> Iterator[None]:
    with sampling as profile:
        profiles[key] = profile
        yield


def raw_loop_stage(run: Run) -> None:
    with postgres_scratch_database(run.options.database_url) as url:
        conninfo = psycopg_conninfo(url)
        create_raw_schema(conninfo)
        shape = run.shape(RAW_LOOP_CONNECTIONS)
        workload = RawTransferWorkload(conninfo)
        result = run.measure(
            "raw_transactions", "transactions", workload, shape, Measured(None, conninfo)
        )
    busiest_percent = (result.client_cpu_s / result.elapsed_s / shape.processes) * 100
    if busiest_percent > CLIENT_BOUND_PERCENT:
        note = (
            f"raw loop clients used {busiest_percent:.0f}% of a core per process: the loop may "
            "be bound by its clients rather than the database (too few cores for both)"
        )
        run.context.setdefault("notes", []).append(note)
        run.progress(f"  note: {note}")


@dataclass(frozen=True)
class MessageSizes:
    request_bytes: int
    response_bytes: int


def probe_quote_sizes(coalition: SeededCoalition) -> MessageSizes:
    """One real signed CreateQuote: the bytes the echo's request and response must match."""
    source, destination = coalition.partner_ids[:2]
    request = exchange_pb2.CreateQuoteRequest(
        ppid=coalition.ppids(source)[0],
        destination_partner_id=destination,
        source_points=TRANSFER_POINTS_MIN,
    )
    seen: list[int] = []
    connection = coalition.connection(source)
    connection.on_response = lambda _method, body: seen.append(len(body))
    try:
        ExchangeClient(connection).create_quote(
            request.ppid, request.destination_partner_id, request.source_points
        )
    finally:
        connection.close()
    return MessageSizes(len(request.SerializeToString()), seen[-1])


def seed_stage(run: Run, hub: ServerProcess, prepared: PreparedHub) -> SeededCoalition:
    options = run.options
    run.progress(f"seeding: {options.members} members linked at {options.partners} partners")
    started_s = time.perf_counter()
    coalition = seed_members(prepared, hub.target, AUDIENCE, options.members)
    run.progress(f"  seeded in {time.perf_counter() - started_s:.1f} s")
    return coalition


def echo_stage(run: Run, sizes: MessageSizes) -> None:
    with echo_process(sizes.response_bytes, run.work / "echo.log") as echo:
        workload = EchoWorkload(echo.target, sizes.request_bytes)
        run.measure("echo", "calls", workload, run.shape(run.options.clients), Measured(echo))


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
        note = "half-peak stage skipped: no transfer completed at peak"
        run.context.setdefault("notes", []).append(note)
        run.progress(f"  {note}")
    batch = BatchWorkload(coalition, options.batch_entries)
    run.measure("hub_batch_transfers", "transfers", batch, run.shape(options.batch_clients), hub)


def hub_stages(run: Run) -> None:
    """The hub's log is kept next to the JSON, also when a stage fails."""
    log_path = run.work / "hub.log"
    try:
        _hub_stages(run, log_path)
    finally:
        if log_path.exists():
            kept = run.options.out.with_name(f"{run.options.out.stem}-server.log")
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log_path, kept)
            run.context["hub_log"] = str(kept)


def _hub_stages(run: Run, log_path: Path) -> None:
    options = run.options
    with postgres_scratch_database(options.database_url) as url:
        prepared = prepare_hub(url, run.work, options.partners)
        with hub_process(prepared, AUDIENCE, log_path) as hub:
            run.progress(f"hub serving on {hub.target} (pid {hub.pid})")
            coalition = seed_stage(run, hub, prepared)
            sizes = probe_quote_sizes(coalition)
            run.context["message_sizes"] = vars(sizes)
            echo_stage(run, sizes)
            measured = Measured(hub, psycopg_conninfo(url))
            quotes = QuoteWorkload(coalition)
            run.measure("hub_quotes", "quotes", quotes, run.shape(options.clients), measured)
            transfer_stages(run, coalition, measured)


def server_version(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SHOW server_version")).scalar())
    finally:
        engine.dispose()


def run_context(options: BenchOptions, version: str) -> dict[str, Any]:
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "postgresql": version,
        },
        "settings": {
            "seconds_per_stage": options.seconds,
            "clients": options.clients,
            "client_processes_max": CLIENT_PROCESSES_MAX,
            "batch_clients": options.batch_clients,
            "batch_entries": options.batch_entries,
            "members": options.members,
            "partners": options.partners,
            "raw_loop_connections": RAW_LOOP_CONNECTIONS,
            "raw_loop_accounts": RAW_LOOP_ACCOUNTS,
            "hub_worker_threads": Settings.load().worker_threads,
            "hub_database_pool_size": POSTGRES_POOL_SIZE,
        },
    }


def print_now(line: str) -> None:
    print(line, flush=True)  # progress shows as it happens, also when piped to a file


def run_bench(options: BenchOptions, progress: Callable[[str], None] = print_now) -> dict[str, Any]:
    """Runs every stage, writes the JSON, prints the table; returns the report."""
    options.check()
    logging.getLogger("alembic").setLevel(logging.WARNING)  # two migrations: no news
    try:
        version = server_version(options.database_url)
    except DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0]
        raise BenchError(f"cannot reach {_shown(options.database_url)}: {reason}") from None
    with _terminate_unwinds(), tempfile.TemporaryDirectory(prefix="coalition-bench-") as work:
        run = Run(options, Path(work), progress, context=run_context(options, version))
        try:
            raw_loop_stage(run)
            hub_stages(run)
        except (LoadError, ServerStartError) as error:
            raise BenchError(str(error)) from None
    profiles = {key: profile.summary() for key, profile in run.profiles.items()}
    document = report.document(run.stages, run.context, profiles)
    report.write_json(options.out, document)
    progress("\n" + report.table(document, run.stages))
    for profile in run.profiles.values():
        progress("\n" + profile.text())
    progress(f"\nwrote {options.out}")
    return document


@contextmanager
def _terminate_unwinds() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C: servers stopped, workers ended, scratch databases dropped."""

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
