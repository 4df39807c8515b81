"""What the database's sessions do during a stage, and what CPU they use, from pg_stat_activity.

The average number of the stage's sessions in each state tells where a transaction's time goes:
`Lock:*` is a queue on a row or transaction (hot rows), `IO:WALSync`/`IO:WALWrite` is commit
durability, `Client:ClientRead` while idle in a transaction is the database waiting for the
client (the hub's Python), `CPU` is a session running with no wait event.

The same samples name the backend processes serving the stage's database (idle ones too); with
the server on this machine, their CPU (utime + stime from /proc) is read at the start, every
`CPU_READ_EVERY` samples and at the end. A backend that starts during the stage counts from
zero; one that ends counts up to its last reading. Shared processes (WAL writer,
checkpointer) and other databases' sessions are not counted.

The samples also say which hub processes served the stage: each names its connections
`coalition-hub-<pid>` (exchange.adapters.sql.engine), so the distinct such names seen busy
(in a transaction or running a statement) are the processes that did work.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import psycopg

from benchmarks.hub.proc import is_postgres_process, process_cpu_s

SAMPLE_INTERVAL_S = 0.02
CPU_READ_EVERY = 10
SAMPLER_JOIN_S_MAX = 5.0
SESSIONS_QUERY = """
SELECT pid, coalesce(wait_event_type || ':' || wait_event, 'CPU'), coalesce(state, ''),
    application_name
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
"""
# The application_name prefix of a hub process's pool connections (hub_connection_name).
HUB_CONNECTION_PREFIX = "coalition-hub-"
Session = tuple[int, str, str, str]
Connection = psycopg.Connection[Session]


@dataclass
class BackendCpu:
    """CPU seconds of each backend: when first seen (0 if born during the stage), and last.

    A pid counts only if this machine's process of that pid is a postgres one: a server
    elsewhere has no CPU to read here (total None).
    """

    first_s: dict[int, float] = field(default_factory=dict)
    last_s: dict[int, float] = field(default_factory=dict)
    foreign: set[int] = field(default_factory=set)

    def read(self, pids: set[int], at_start: bool) -> None:
        for pid in pids - self.foreign:
            if pid not in self.first_s and not is_postgres_process(pid):
                self.foreign.add(pid)
                continue
            cpu_s = process_cpu_s(pid)
            if cpu_s is not None:  # None: it ended since; its last reading stands
                self.first_s.setdefault(pid, cpu_s if at_start else 0.0)
                self.last_s[pid] = cpu_s

    def total_s(self) -> float | None:
        if not self.last_s:
            return None
        return sum(self.last_s[pid] - self.first_s[pid] for pid in self.last_s)


@dataclass
class DatabaseWaits:
    """Sessions per state, summed over samples; `average()` divides by the sample count."""

    samples: int = 0
    sessions: Counter[str] = field(default_factory=Counter)
    pids: set[int] = field(default_factory=set)
    # Samples in which each application had a session busy (not idle).
    busy_applications: Counter[str] = field(default_factory=Counter)
    cpu: BackendCpu = field(default_factory=BackendCpu)
    error: str = ""

    def add(self, rows: list[Session]) -> None:
        self.samples += 1
        busy: set[str] = set()
        for pid, wait, state, application in rows:
            self.pids.add(pid)
            if state == "idle":
                continue
            label = wait if state == "active" else f"{state} ({wait})"
            self.sessions[label] += 1
            busy.add(application)
        self.busy_applications.update(busy)

    def hub_processes_serving(self) -> int | None:
        """How many hub processes had a session busy in some sample; None if none did (the
        raw loop's stage) or nothing was sampled."""
        names = self.busy_applications
        serving = sum(1 for name in names if name.startswith(HUB_CONNECTION_PREFIX))
        return None if self.error or not serving else serving

    def average(self) -> dict[str, float]:
        if not self.samples:
            return {}
        return {
            label: round(count / self.samples, 2) for label, count in self.sessions.most_common()
        }

    def cpu_s(self) -> float | None:
        """CPU the stage's backends used, or None (not sampled, or not on this machine)."""
        return None if self.error else self.cpu.total_s()

    def text(self, count: int = 4) -> str:
        if self.error:
            return f"database sessions: not sampled ({self.error})"
        top = list(self.average().items())[:count]
        return "database sessions (avg): " + ", ".join(f"{label} {n:g}" for label, n in top)


def _snapshot(connection: Connection, waits: DatabaseWaits) -> set[int]:
    rows = connection.execute(SESSIONS_QUERY).fetchall()
    waits.add(rows)
    return {row[0] for row in rows}


def _sample(connection: Connection, waits: DatabaseWaits, stop: threading.Event) -> None:
    try:
        while not stop.wait(SAMPLE_INTERVAL_S):
            pids = _snapshot(connection, waits)
            if waits.samples % CPU_READ_EVERY == 0:
                waits.cpu.read(pids, at_start=False)
    except psycopg.Error as error:
        waits.error = str(error).strip().splitlines()[0]


def _quiet(connection: Connection) -> None:
    """The sampler's own queries stay out of the statement log (superusers only may say so)."""
    with suppress(psycopg.Error):
        connection.execute("SET log_statement = 'none'")


@contextmanager
def sampled_waits(conninfo: str) -> Iterator[DatabaseWaits]:
    """Samples the database's sessions on a thread for the duration of the block."""
    waits, stop = DatabaseWaits(), threading.Event()
    try:
        connection: Connection = psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as error:
        waits.error = str(error).strip().splitlines()[0]
        yield waits
        return
    with connection:
        _quiet(connection)
        waits.cpu.read(_snapshot(connection, waits), at_start=True)
        sampler = threading.Thread(
            target=_sample, args=(connection, waits, stop), name="db-waits", daemon=True
        )
        sampler.start()
        try:
            yield waits
        finally:
            stop.set()
            sampler.join(SAMPLER_JOIN_S_MAX)
            if not waits.error:
                waits.cpu.read(_snapshot(connection, waits), at_start=False)
