"""Load from worker processes, each with threads: closed loop or paced, latencies and errors.

Every stage of a run (echo, raw transactions, hub) is driven by the same arrangement, so the
ratios compare servers, not clients. Workers are spawned, not forked: gRPC does not survive a
fork of a process that has used it.
"""

from __future__ import annotations

import math
import multiprocessing
import queue
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any, Protocol

WORKER_READY_S_MAX = 120.0
# After the stage's own duration, how long a worker may take to finish its last operation
# (bounded by the operations' own deadlines), and how much longer the parent waits for it.
WORKER_FINISH_S_MAX = 150.0
WORKER_REPORT_S_MARGIN = 30.0


class LoadError(Exception):
    """A worker could not set up or did not report; the message says which and why."""


@dataclass(frozen=True)
class Outcome:
    """What one operation achieved: items done (calls, transfers) and refusals by label."""

    items_ok: int = 1
    errors: Mapping[str, int] = field(default_factory=dict)


def failed(label: str, count: int = 1) -> Outcome:
    return Outcome(0, {label: count})


class Operation(Protocol):
    """One client's unit of work, run again and again on one thread."""

    def __call__(self) -> Outcome: ...

    def close(self) -> None: ...


class Workload(Protocol):
    """Picklable: sent to every worker process, which opens one Operation per client thread."""

    def open(self, client_index: int, client_count: int) -> Operation: ...


@dataclass(frozen=True)
class LoadShape:
    processes: int
    threads_per_process: int
    duration_s: float
    # None: closed loop, each client sends again as soon as it has an answer. Otherwise the
    # total rate the clients pace themselves to (open loop).
    rate_per_s: float | None = None

    @property
    def clients(self) -> int:
        return self.processes * self.threads_per_process


def shape_for(clients: int, processes_max: int, duration_s: float) -> LoadShape:
    """`clients` threads spread evenly over at most `processes_max` processes."""
    processes = max(1, min(clients, processes_max))
    while clients % processes:
        processes -= 1
    return LoadShape(processes, clients // processes, duration_s)


@dataclass
class ClientRecord:
    """What one client thread saw; latencies only of operations that fully succeeded."""

    latencies_s: list[float] = field(default_factory=list)
    items_ok: int = 0
    operations: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: Outcome, latency_s: float) -> None:
        self.operations += 1
        self.items_ok += outcome.items_ok
        self.errors.update(outcome.errors)
        if not outcome.errors:
            self.latencies_s.append(latency_s)


@dataclass(frozen=True)
class WorkerReport:
    latencies_s: list[float]
    items_ok: int
    operations: int
    errors: dict[str, int]
    start_s: float
    end_s: float
    cpu_s: float
    failure: str = ""


def _run_once(operation: Operation, record: ClientRecord, started_s: float) -> None:
    try:
        outcome = operation()
    except Exception as error:  # an operation's unexpected failure is data, like a refusal
        outcome = failed(type(error).__name__)
    record.add(outcome, time.perf_counter() - started_s)


def closed_loop(operation: Operation, record: ClientRecord, end_s: float) -> None:
    while time.perf_counter() < end_s:
        _run_once(operation, record, time.perf_counter())


def paced_loop(
    operation: Operation, record: ClientRecord, start_s: float, end_s: float, interval_s: float
) -> None:
    """Open loop: latency counts from the scheduled send time, so falling behind shows."""
    scheduled_s = start_s
    while scheduled_s < end_s:
        wait_s = scheduled_s - time.perf_counter()
        if wait_s > 0:
            time.sleep(wait_s)
        _run_once(operation, record, scheduled_s)
        scheduled_s += interval_s


def _client_thread(
    shape: LoadShape, operation: Operation, record: ClientRecord, client_index: int
) -> Callable[[], None]:
    start_s = time.perf_counter()
    end_s = start_s + shape.duration_s
    if shape.rate_per_s is None:
        return lambda: closed_loop(operation, record, end_s)
    interval_s = shape.clients / shape.rate_per_s
    offset_s = interval_s * client_index / shape.clients  # clients spread over one interval
    return lambda: paced_loop(operation, record, start_s + offset_s, end_s, interval_s)


def _drive(shape: LoadShape, operations: list[Operation], first_client: int) -> WorkerReport:
    records = [ClientRecord() for _ in operations]
    start_wall_s, start_cpu_s = time.time(), time.process_time()
    threads = [
        threading.Thread(
            target=_client_thread(shape, operation, record, first_client + index),
            name=f"client-{first_client + index}",
            daemon=True,
        )
        for index, (operation, record) in enumerate(zip(operations, records, strict=True))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(shape.duration_s + WORKER_FINISH_S_MAX)
    errors: Counter[str] = Counter()
    for record in records:
        errors.update(record.errors)
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        errors["client still running at the stage's deadline"] += stuck
    return WorkerReport(
        [latency for record in records for latency in record.latencies_s],
        sum(record.items_ok for record in records),
        sum(record.operations for record in records),
        dict(errors),
        start_wall_s,
        time.time(),
        time.process_time() - start_cpu_s,
    )


def _failure_report(message: str) -> WorkerReport:
    return WorkerReport([], 0, 0, {}, 0.0, 0.0, 0.0, message)


def worker_main(
    workload: Workload,
    shape: LoadShape,
    process_index: int,
    ready: Barrier,
    reports: Queue[WorkerReport],
) -> None:
    """One worker process: open its clients, wait for every worker, drive, report."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it ends the workers
    first_client = process_index * shape.threads_per_process
    try:
        operations = [
            workload.open(first_client + index, shape.clients)
            for index in range(shape.threads_per_process)
        ]
    except Exception as error:
        reports.put(_failure_report(f"worker {process_index}: {type(error).__name__}: {error}"))
        ready.abort()
        return
    try:
        ready.wait(WORKER_READY_S_MAX)
        reports.put(_drive(shape, operations, first_client))
    finally:
        for operation in operations:
            operation.close()


@dataclass(frozen=True)
class StageResult:
    """One stage's figures: throughput of items, latency of operations, every error."""

    name: str
    unit: str
    items_ok: int
    operations: int
    errors: dict[str, int]
    elapsed_s: float
    latencies_s: list[float]
    clients: int
    client_cpu_s: float
    target_rate_per_s: float | None = None
    # CPU the measured server used during the stage, when it is known: its process and its
    # children (a supervisor's workers) together, `server_processes` of them.
    server_cpu_s: float | None = None
    server_processes: int | None = None
    # Average number of database sessions in each wait state (benchmarks.hub.dbwaits).
    database_sessions: dict[str, float] = field(default_factory=dict)
    # CPU of the database backends serving the stage, and the statements they were sent.
    database_cpu_s: float | None = None
    statements: int | None = None
    # Hub processes seen with a busy database session during the stage (pg_stat_activity).
    hub_processes_serving: int | None = None

    @property
    def rate_per_s(self) -> float:
        return self.items_ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def server_cpu_percent(self) -> float | None:
        """The server's CPU over the stage, in percent of one core (100: one core busy)."""
        if self.server_cpu_s is None or self.elapsed_s <= 0:
            return None
        return 100 * self.server_cpu_s / self.elapsed_s

    def per_op(self, total: float | None, scale: float = 1000.0) -> float | None:
        """`total` per successful item of the stage's unit (x1000: seconds to milliseconds)."""
        if total is None or self.items_ok == 0:
            return None
        return scale * total / self.items_ok

    def cost_per_op(self) -> dict[str, float | None]:
        """CPU milliseconds of each party, and statements, per item of the stage's unit."""
        return {
            "server_cpu_ms_per_op": _rounded(self.per_op(self.server_cpu_s), 3),
            "database_cpu_ms_per_op": _rounded(self.per_op(self.database_cpu_s), 3),
            "client_cpu_ms_per_op": _rounded(self.per_op(self.client_cpu_s), 3),
            "statements_per_op": _rounded(self.per_op(self.statements, 1.0)),
        }

    def latency_ms(self, quantile: float) -> float | None:
        """Nearest-rank quantile of successful operations' latencies, in milliseconds."""
        if not self.latencies_s:
            return None
        ordered = sorted(self.latencies_s)
        rank = max(1, math.ceil(quantile * len(ordered)))
        return ordered[rank - 1] * 1000

    def summary(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "rate_per_s": round(self.rate_per_s, 1),
            "items_ok": self.items_ok,
            "operations": self.operations,
            "error_count": self.error_count,
            "errors": self.errors,
            "elapsed_s": round(self.elapsed_s, 3),
            "latency_ms": {
                name: _rounded(self.latency_ms(quantile))
                for name, quantile in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
            },
            "clients": self.clients,
            "client_cpu_percent_of_one_core": round(
                100 * self.client_cpu_s / self.elapsed_s if self.elapsed_s else 0.0, 1
            ),
            "server_cpu_percent_of_one_core": _rounded(self.server_cpu_percent()),
            "server_processes": self.server_processes,
            "hub_processes_serving": self.hub_processes_serving,
            "target_rate_per_s": _rounded(self.target_rate_per_s),
            "database_sessions_avg": self.database_sessions,
            **self.cost_per_op(),
        }


def _rounded(value: float | None, places: int = 2) -> float | None:
    return None if value is None else round(value, places)


def _collect(reports: Queue[WorkerReport], count: int, wait_s: float) -> list[WorkerReport]:
    collected: list[WorkerReport] = []
    deadline_s = time.monotonic() + wait_s
    while len(collected) < count:
        try:
            collected.append(reports.get(timeout=max(0.1, deadline_s - time.monotonic())))
        except queue.Empty:
            raise LoadError(f"{count - len(collected)} worker(s) did not report") from None
    return collected


def run_stage(name: str, unit: str, workload: Workload, shape: LoadShape) -> StageResult:
    """Spawns the workers, releases them together, and merges what they report."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(shape.processes + 1)
    reports: Queue[WorkerReport] = context.Queue()
    workers = [
        context.Process(
            target=worker_main, args=(workload, shape, index, ready, reports), daemon=True
        )
        for index in range(shape.processes)
    ]
    for worker in workers:
        worker.start()
    try:
        collected = _released(name, shape, ready, reports, len(workers))
    except BaseException:  # Ctrl-C or a failed worker: nothing is left running
        for worker in workers:
            worker.kill()
        raise
    for worker in workers:
        worker.join(WORKER_REPORT_S_MARGIN)
    return merge(name, unit, shape, collected)


def _released(
    name: str, shape: LoadShape, ready: Barrier, reports: Queue[WorkerReport], count: int
) -> list[WorkerReport]:
    try:
        ready.wait(WORKER_READY_S_MAX)
    except threading.BrokenBarrierError:
        failures = [r.failure for r in _collect(reports, 1, WORKER_REPORT_S_MARGIN)]
        raise LoadError(f"{name}: {'; '.join(failures)}") from None
    wait_s = shape.duration_s + WORKER_FINISH_S_MAX + WORKER_REPORT_S_MARGIN
    return _collect(reports, count, wait_s)


def merge(name: str, unit: str, shape: LoadShape, reports: list[WorkerReport]) -> StageResult:
    failures = [report.failure for report in reports if report.failure]
    if failures:
        raise LoadError(f"{name}: {'; '.join(failures)}")
    errors: Counter[str] = Counter()
    for report in reports:
        errors.update(report.errors)
    return StageResult(
        name,
        unit,
        sum(report.items_ok for report in reports),
        sum(report.operations for report in reports),
        dict(errors),
        max(report.end_s for report in reports) - min(report.start_s for report in reports),
        [latency for report in reports for latency in report.latencies_s],
        shape.clients,
        sum(report.cpu_s for report in reports),
        shape.rate_per_s,
    )
