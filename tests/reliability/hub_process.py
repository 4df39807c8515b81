"""`coalition serve` as a child process of a reliability run, with N hub processes.

With COALITION_PROCESSES above one the child is a supervisor and the hub is its forked
workers, all listening on one port (SO_REUSEPORT). A health probe then reaches one worker
only, so a start is done when the supervisor has every worker, each holds a listening socket
on the port, and several fresh connections (each handed by the kernel to some worker) all
answer SERVING. Two ways to crash it: SIGKILL the supervisor (its workers die with it), or
SIGKILL one worker while the others serve (the supervisor replaces it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from exchange.config import ENVIRONMENT_NAMES

# The venv's own console script, next to the interpreter running the tests.
COALITION_CLI = Path(sys.executable).with_name("coalition")

HUB_START_S_MAX = 30.0
HUB_STOP_S_MAX = 15.0
HEALTH_CHECK_S_MAX = 1.0
HEALTH_POLL_S = 0.05
# Fresh connections a start must see SERVING: with two workers, the chance that all of them
# reach the same one is 1 in 2**(n-1); the listening sockets are checked besides.
HEALTH_CHANNELS = 4
LOG_TAIL_CHARS = 4_000
# A connection of its own per channel: the kernel hands each to one of the workers.
OWN_CONNECTION = (("grpc.use_local_subchannel_pool", 1),)
TCP_LISTEN = "0A"
PROC_NET_TCP = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))


class HubProcessError(Exception):
    """The hub did not do as expected (did not start, exited early, outlived its SIGKILL)."""


def log_tail(path: Path, chars: int = LOG_TAIL_CHARS) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError as error:
        return f"<cannot read {path}: {error}>"


def with_processes(environment: dict[str, str], processes: int) -> dict[str, str]:
    """The environment with the hub process count explicit, never the machine's default."""
    return {**environment, ENVIRONMENT_NAMES["processes"]: str(processes)}


def child_pids(parent: int) -> set[int]:
    try:
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    except OSError:
        return set()
    return {int(pid) for pid in children}


def is_gone(pid: int) -> bool:
    """Dead: no process, or a zombie waiting for whoever adopted it to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on `port`, from the kernel's TCP tables."""
    found = set()
    for table in PROC_NET_TCP:
        with suppress(OSError):
            for line in table.read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == TCP_LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    found.add(fields[9])
    return found


def socket_inodes(pid: int) -> set[str]:
    found = set()
    with suppress(OSError):
        for entry in Path(f"/proc/{pid}/fd").iterdir():
            with suppress(OSError):
                link = os.readlink(entry)
                if link.startswith("socket:["):
                    found.add(link[len("socket:[") : -1])
    return found


def health_serving(target: str) -> bool:
    with grpc.insecure_channel(target, options=OWN_CONNECTION) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            request = health_pb2.HealthCheckRequest(service="")
            status = stub.Check(request, timeout=HEALTH_CHECK_S_MAX).status
        except grpc.RpcError:
            return False
    return bool(status == health_pb2.HealthCheckResponse.SERVING)


@dataclass
class HubProcess:
    """`coalition serve` on one fixed port, `processes` of them; one log file per start."""

    environment: dict[str, str]
    port: int
    directory: Path
    processes: int = 1
    starts: int = 0
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.environment = with_processes(self.environment, self.processes)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / f"hub-{self.starts - 1:02d}.log"

    def workers(self) -> set[int]:
        """The pids serving calls: the supervisor's children, or the one process itself."""
        process = self._running()
        return child_pids(process.pid) if self.processes > 1 else {process.pid}

    def start(self) -> float:
        """Starts the hub and waits until every process serves; returns the seconds that took."""
        assert self.process is None, "one hub at a time"
        self.starts += 1
        began = time.monotonic()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(COALITION_CLI), "serve"],
                env=self.environment,
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_serving(began + HUB_START_S_MAX)
        return time.monotonic() - began

    def wait_serving(self, deadline: float) -> None:
        """Until `processes` workers each listen on the port and fresh connections all answer
        SERVING."""
        while time.monotonic() < deadline:
            process = self._running()
            if process.poll() is not None:
                raise HubProcessError(
                    f"hub start {self.starts} exited {process.returncode}:\n"
                    + log_tail(self.log_path)
                )
            if self._all_listening() and all(
                health_serving(self.target) for _ in range(HEALTH_CHANNELS)
            ):
                return
            time.sleep(HEALTH_POLL_S)
        raise HubProcessError(
            f"hub start {self.starts}: {len(self.workers())} of {self.processes} processes, "
            f"not all SERVING after {HUB_START_S_MAX} s:\n" + log_tail(self.log_path)
        )

    def _all_listening(self) -> bool:
        workers = self.workers()
        if len(workers) != self.processes:
            return False
        listening = listening_inodes(self.port)
        return all(socket_inodes(pid) & listening for pid in workers)

    def kill(self) -> None:
        """SIGKILL the hub (the supervisor: its workers die with it): no handler runs, no
        transaction commits, no connection closes cleanly."""
        process = self._running()
        # With one process the hub is the child itself, reaped by wait() below.
        workers = self.workers() - {process.pid}
        process.send_signal(signal.SIGKILL)
        exit_code = process.wait(HUB_STOP_S_MAX)
        self.process = None
        if exit_code != -signal.SIGKILL:
            raise HubProcessError(
                f"hub start {self.starts} exited {exit_code} before its SIGKILL:\n"
                + log_tail(self.log_path)
            )
        self._wait_gone(workers, "outlived its SIGKILLed supervisor")

    def kill_worker(self, pid: int) -> float:
        """SIGKILL one worker while the others serve; returns the seconds until the supervisor
        has replaced it and every worker serves again."""
        assert pid in self.workers(), f"{pid} is not a worker of this hub"
        began = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        self._wait_gone({pid}, "outlived its SIGKILL")
        self.wait_serving(began + HUB_START_S_MAX)
        return time.monotonic() - began

    def _wait_gone(self, pids: set[int], failure: str) -> None:
        deadline = time.monotonic() + HUB_STOP_S_MAX
        while not all(is_gone(pid) for pid in pids):
            if time.monotonic() > deadline:
                alive = sorted(pid for pid in pids if not is_gone(pid))
                raise HubProcessError(f"hub process {alive} {failure}")
            time.sleep(HEALTH_POLL_S)

    def stop(self) -> int:
        """A graceful stop (SIGTERM), or SIGKILL if that does not end it in time; returns the
        exit code (0 for a clean stop, 0 also when nothing ran)."""
        if self.process is None:
            return 0
        process, self.process = self.process, None
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(HUB_STOP_S_MAX)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(HUB_STOP_S_MAX)

    def _running(self) -> subprocess.Popen[bytes]:
        assert self.process is not None, "the hub is not running"
        return self.process
