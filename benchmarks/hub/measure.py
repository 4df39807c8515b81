"""A run's options and its measuring of one stage: load, server CPU, database CPU and statements."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.exc import ArgumentError

from benchmarks.hub import report
from benchmarks.hub.dbwaits import DatabaseWaits, sampled_waits
from benchmarks.hub.load import LoadShape, StageResult, Workload, run_stage, shape_for
from benchmarks.hub.profile import Profile, sampled
from benchmarks.hub.seed import MEMBERS_DEFAULT, PARTNERS_DEFAULT, is_postgres
from benchmarks.hub.servers import ServerProcess
from benchmarks.hub.statements import StatementLog
from partners.sdk import TRANSFER_BATCH_ENTRIES_MAX

RESULTS_PATH_DEFAULT = Path("bench-results/hub.json")
CLIENTS_DEFAULT = 16
# A batch is a partner's file: a few in flight at once, not one per client thread.
BATCH_CLIENTS_DEFAULT = 4
CLIENT_PROCESSES_MAX = max(2, os.cpu_count() or 2)
PROFILED_STAGES = ("hub_transfers", "hub_batch_transfers")


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
    """What a stage loads: a server process (its CPU, its profile) and/or a database (its
    sessions' waits and CPU, and, when the statement log can be read, its statements)."""

    server: ServerProcess | None = None
    conninfo: str | None = None
    log: StatementLog | None = None

    def cpu_by_process_s(self) -> dict[int, float]:
        return self.server.cpu_by_process_s() if self.server is not None else {}

    def waits(self) -> AbstractContextManager[DatabaseWaits]:
        return (
            nullcontext(DatabaseWaits()) if self.conninfo is None else sampled_waits(self.conninfo)
        )

    def log_offset(self) -> int | None:
        return self.log.size() if self.log is not None else None


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

    def note(self, text: str) -> None:
        self.context.setdefault("notes", []).append(text)
        self.progress(f"  note: {text}")

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
            cpu_before_s, log_start = measured.cpu_by_process_s(), measured.log_offset()
            result = run_stage(key, unit, workload, shape)
            cpu_after_s, log_end = measured.cpu_by_process_s(), measured.log_offset()
        server_cpu_s = _cpu_used_s(cpu_before_s, cpu_after_s)
        result = replace(
            result,
            server_cpu_s=sum(server_cpu_s.values()) if server_cpu_s else None,
            server_processes=len(server_cpu_s) or None,
            database_sessions=waits.average(),
            database_cpu_s=waits.cpu_s(),
            statements=_statements(measured.log, log_start, log_end, waits.pids),
            hub_processes_serving=waits.hub_processes_serving(),
        )
        self.stages[key] = result
        self.progress(f"  {report.stage_line(label, result)}")
        if len(server_cpu_s) > 1 and result.elapsed_s > 0:
            self.progress(f"  {_cpu_text(server_cpu_s, result.elapsed_s)}")
            self.progress(f"  hub processes serving: {result.hub_processes_serving}")
        if measured.conninfo is not None:
            self.progress(f"  {waits.text()}")
        return result

    def _profiled(self, key: str, server: ServerProcess | None) -> AbstractContextManager[None]:
        if not self.options.profile or server is None or key not in PROFILED_STAGES:
            return nullcontext()
        raw_path = self.options.out.with_name(f"{self.options.out.stem}-profile-{key}.txt")
        raw_path.parent.mkdir(parents=True, exist_ok=True)
        return _keep(self.profiles, key, sampled(server.pid, key, raw_path))


def _cpu_used_s(before_s: dict[int, float], after_s: dict[int, float]) -> dict[int, float]:
    """CPU each process used between the readings; one born since counts from zero."""
    return {pid: cpu_s - before_s.get(pid, 0.0) for pid, cpu_s in after_s.items()}


def _cpu_text(used_s: dict[int, float], elapsed_s: float) -> str:
    shares = ", ".join(
        f"{pid} {100 * cpu_s / elapsed_s:.0f}%" for pid, cpu_s in sorted(used_s.items())
    )
    return f"server CPU by process (% of one core): {shares}"


def _statements(
    log: StatementLog | None, start: int | None, end: int | None, pids: set[int]
) -> int | None:
    if log is None or start is None or end is None:
        return None
    return log.count(start, end, pids)


@contextmanager
def _keep(
    profiles: dict[str, Profile], key: str, sampling: AbstractContextManager[Profile]
) -> Iterator[None]:
    with sampling as profile:
        profiles[key] = profile
        yield
