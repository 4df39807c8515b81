"""`coalition serve --processes N`: N hub processes sharing one listening port.

The parent forks the workers before any gRPC object exists (gRPC does not survive a fork),
and each worker builds its own hub: engine, pool, server bound with SO_REUSEPORT, so the kernel
spreads new connections across them. Background work runs in whichever worker holds the
scheduler lease (exchange.background). The parent only supervises: SIGTERM or SIGINT drains
every worker; a worker that dies is replaced, even one SIGKILLed a moment after it started;
a worker that exits with an error right after starting (a bad key, a port taken) stops them
all. A worker asks the kernel to kill it if the parent dies, so no worker outlives a SIGKILLed
supervisor. PostgreSQL only: SQLite serves one process.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import FrameType

from exchange.adapters.sql.engine import is_sqlite
from exchange.config import Settings

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
# A worker that exits sooner than this after its start failed to start: restarting won't help.
STARTUP_S_MIN = 3.0
RESTART_DELAY_S = 0.5


class ProcessesError(Exception):
    """The processes cannot be run as asked; the message says why."""


def process_count(settings: Settings) -> int:
    """How many processes to run: as set, else one per core (PostgreSQL) or one (SQLite)."""
    if settings.processes:
        if settings.processes > 1 and is_sqlite(settings.database_url):
            raise ProcessesError(
                "SQLite serves one hub process; use PostgreSQL for --processes above 1"
            )
        return settings.processes
    return 1 if is_sqlite(settings.database_url) else (os.cpu_count() or 1)


def shared_listen_address(address: str) -> tuple[str, socket.socket]:
    """The address with a concrete port, and a socket holding that port with SO_REUSEPORT
    until the workers have bound it too (port 0 is chosen here, once, for all of them)."""
    host, _, port = address.rpartition(":")
    family = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
    reserved = socket.socket(family, socket.SOCK_STREAM)
    reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        reserved.bind((host.strip("[]"), int(port)))
    except OSError as error:
        reserved.close()
        raise ProcessesError(f"cannot listen on {address}: {error.strerror}") from None
    return f"{host}:{reserved.getsockname()[1]}", reserved


def failed_to_start(status: int, lived_s: float) -> bool:
    """Whether a worker's end is a failed start (a bad key, a port taken): it exited by itself,
    unsuccessfully, soon after it began. One ended by a signal (SIGKILL from an operator or the
    OOM killer) was running, however briefly: it is replaced, not a reason to stop them all."""
    exited_badly = os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0
    return exited_badly and lived_s < STARTUP_S_MIN


@dataclass
class Supervisor:
    """Forks and watches the workers; `run_worker` serves until SIGTERM in a worker."""

    settings: Settings
    count: int
    run_worker: Callable[[Settings], None]
    workers: dict[int, float] = field(default_factory=dict)  # pid -> start (monotonic)
    stopping: bool = False

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        for _ in range(self.count):
            self._spawn()
        failed = False
        while self.workers:
            pid, status = os.wait()
            started = self.workers.pop(pid, None)
            if started is None or self.stopping:
                continue
            failed = failed_to_start(status, time.monotonic() - started)
            log.warning("hub process %s exited (status %s)", pid, status)
            if failed:
                log.error("a hub process failed to start; stopping the others")
                self._stop(signal.SIGTERM, None)
                continue
            time.sleep(RESTART_DELAY_S)
            self._spawn()
        return 1 if failed else 0

    def _spawn(self) -> None:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            self._become_worker(parent)
        self.workers[pid] = time.monotonic()

    def _become_worker(self, parent: int) -> None:
        code = 0
        try:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, signal.SIG_DFL)
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)
            self.run_worker(self.settings)
        except BaseException:
            log.exception("hub process %s failed", os.getpid())
            code = 1
        finally:
            logging.shutdown()
            sys.stdout.flush()
            os._exit(code)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: draining %s hub processes", signum, len(self.workers))
        self.stopping = True
        for pid in self.workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def serve_processes(settings: Settings, count: int, run_worker: Callable[[Settings], None]) -> int:
    """Runs `count` workers on one port until a signal drains them; returns the exit code."""
    address, reserved = shared_listen_address(settings.listen_address)
    shared = replace(settings, listen_address=address, processes=count)
    print(f"hub serving on {address} with {count} processes; Ctrl-C stops them", flush=True)
    try:
        return Supervisor(shared, count, run_worker).run()
    finally:
        reserved.close()
