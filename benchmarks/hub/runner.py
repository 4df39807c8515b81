"""One run on one machine: the bare baselines, then the hub on PostgreSQL, then the report.

The stages (benchmarks.hub.stages) run in order on two scratch databases, one for the raw
loop and one for the hub; both are dropped at the end, also after a failure or Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from benchmarks.hub import report, stages, streams
from benchmarks.hub.load import LoadError
from benchmarks.hub.measure import (
    CLIENT_PROCESSES_MAX,
    RESULTS_PATH_DEFAULT,
    BenchError,
    BenchOptions,
    Measured,
    Run,
)
from benchmarks.hub.rawloop import RAW_LOOP_ACCOUNTS, RAW_LOOP_CONNECTIONS, psycopg_conninfo
from benchmarks.hub.seed import (
    AUDIENCE,
    PreparedHub,
    SeededCoalition,
    postgres_scratch_database,
    prepare_hub,
)
from benchmarks.hub.servers import ServerStartError, hub_process
from benchmarks.hub.statements import StatementLog
from benchmarks.hub.streams import StreamsNotOpen, prepare_streaming_partners
from benchmarks.hub.workloads import QuoteWorkload
from coalition.keys import SigningKey
from exchange.adapters.sql.engine import POSTGRES_POOL_SIZE
from exchange.config import Settings

# Re-exported: the CLI imports these from here.
__all__ = ["RESULTS_PATH_DEFAULT", "BenchError", "BenchOptions", "run_bench"]


# The hub's logs, kept next to the JSON as <stem><suffix>.log, by their context key.
HUB_LOGS = {"hub_log": "-server", "hub_two_processes_log": "-server-two-processes"}


def hub_stages(run: Run) -> None:
    """The hub's logs are kept next to the JSON, also when a stage fails."""
    try:
        _hub_stages(run)
    finally:
        for key, suffix in HUB_LOGS.items():
            log_path = run.work / f"{key}.log"
            if log_path.exists():
                kept = run.options.out.with_name(f"{run.options.out.stem}{suffix}.log")
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(log_path, kept)
                run.context[key] = str(kept)


def _hub_stages(run: Run) -> None:
    with postgres_scratch_database(run.options.database_url) as url:
        log = stages.counted_statements(run, url, run.options.database_url)
        prepared = prepare_hub(url, run.work, run.options.partners)
        streaming = prepare_streaming_partners(url)
        conninfo = psycopg_conninfo(url)
        coalition = one_process_stages(run, prepared, streaming, conninfo, log)
        processes = stages.HUB_PROCESSES_COMPARED
        log_path = run.work / "hub_two_processes_log.log"
        settings = streams.HUB_SETTINGS
        with hub_process(prepared, AUDIENCE, log_path, settings, processes) as hub:
            run.progress(f"hub serving on {hub.target} with {processes} processes (pid {hub.pid})")
            measured = Measured(hub, conninfo, log)
            stages.two_process_stages(run, replace(coalition, target=hub.target), measured)


def one_process_stages(
    run: Run,
    prepared: PreparedHub,
    streaming: dict[str, SigningKey],
    conninfo: str,
    log: StatementLog | None,
) -> SeededCoalition:
    """Seeding and every stage of one hub process; returns the seeded coalition."""
    log_path = run.work / "hub_log.log"
    with hub_process(prepared, AUDIENCE, log_path, streams.HUB_SETTINGS) as hub:
        run.progress(f"hub serving on {hub.target} (pid {hub.pid})")
        coalition = stages.seed_stage(run, hub, prepared)
        probe = stages.probe_quote(coalition)
        run.context["message_sizes"] = probe.sizes()
        stages.echo_stage(run, probe)
        stages.signed_echo_stage(run, coalition, prepared, probe)
        measured = Measured(hub, conninfo, log)
        quotes = QuoteWorkload(coalition)
        run.measure("hub_quotes", "quotes", quotes, run.shape(run.options.clients), measured)
        stages.transfer_stages(run, coalition, measured)
        stages.streams_stages(run, coalition, streaming, measured)
    return coalition


def raw_loop_stages(run: Run) -> None:
    with postgres_scratch_database(run.options.database_url) as url:
        log = stages.counted_statements(run, url, run.options.database_url)
        stages.raw_loop_stage(run, psycopg_conninfo(url), log)


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
            "hub_processes": 1,
            "hub_processes_compared": stages.HUB_PROCESSES_COMPARED,
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
            raw_loop_stages(run)
            hub_stages(run)
        except (LoadError, ServerStartError, StreamsNotOpen) as error:
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
