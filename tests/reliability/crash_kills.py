"""The crashes of a crash-recovery run: when the hub is SIGKILLed, and what is killed.

With one hub process, every kill ends the hub and the harness restarts it on the same port.
With several, two kinds are mixed at random: the supervisor (all its processes die with it;
restarted as with one), or a single worker while the others go on serving (the supervisor
replaces it; clients retrying on the same keys reach the survivors meanwhile). A third of
the single-worker kills aim at the holder of the scheduler lease, so the timeout sweep moves
to the other process mid-run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, text

from exchange.config import TIMEOUT_SWEEP_INTERVAL_S_DEFAULT
from tests.reliability.hub_process import HubProcess

# Whole-hub kills per run (one run per process count); the test demands HUB_KILL_COUNT_MIN.
HUB_KILL_COUNT = 28
HUB_KILL_COUNT_MIN = 25
# Single-worker kills per run with more than one process.
WORKER_KILL_COUNT = 12
WORKER_KILL_COUNT_MIN = 10
# A restart takes about a second on an idle two-core machine, several under heavy sharing:
# the kill loop then ends early rather than run past this.
CRASH_PHASE_S_MAX = 180.0
# Uptime is counted from every process SERVING to the SIGKILL.
HUB_UPTIME_S_MIN = 0.2
HUB_UPTIME_S_MAX = 1.0
# One kill in this many comes after a longer uptime, past the timeout sweeper's first pass, so
# voids of overdue transfers are cut short too (short uptimes end before the sweeper runs).
HUB_LONG_UPTIME_ONE_IN = 8
HUB_LONG_UPTIME_S_MIN = TIMEOUT_SWEEP_INTERVAL_S_DEFAULT + 0.5
HUB_LONG_UPTIME_S_MAX = TIMEOUT_SWEEP_INTERVAL_S_DEFAULT + 2.5
HUB_DOWNTIME_S_MAX = 0.3
# One single-worker kill in this many aims at the scheduler lease's holder. A process takes
# the lease at its first sweep tick, so after a restart that kill waits for a holder first.
LEASE_HOLDER_KILL_ONE_IN = 3
LEASE_HOLDER_WAIT_S_MAX = TIMEOUT_SWEEP_INTERVAL_S_DEFAULT + 5.0
LEASE_HOLDER_POLL_S = 0.2

HUB = "hub"
WORKER = "worker"
LEASE_HOLDERS = text(
    """
    SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()
      AND a.application_name LIKE 'coalition-scheduler-%'
    """
)


@dataclass(frozen=True)
class Kill:
    """One SIGKILL: of what, how long the hub had served, how long until all served again."""

    target: str  # HUB (the whole hub) or WORKER (one of its processes)
    uptime_s: float
    downtime_s: float
    restart_s: float
    lease_holder: bool = False


@dataclass(frozen=True)
class KillPlan:
    hub_kills: int
    worker_kills: int

    @classmethod
    def for_processes(cls, processes: int) -> KillPlan:
        return cls(HUB_KILL_COUNT, WORKER_KILL_COUNT if processes > 1 else 0)


def lease_holder_pids(engine: Engine) -> set[int]:
    """The hub processes holding the scheduler lease now (one, or none between holders)."""
    with engine.connect() as connection:
        names = connection.execute(LEASE_HOLDERS).scalars().all()
    return {int(str(name).rsplit("-", 1)[1]) for name in names}


def uptime(rng: random.Random) -> float:
    if rng.randrange(HUB_LONG_UPTIME_ONE_IN) == 0:
        return rng.uniform(HUB_LONG_UPTIME_S_MIN, HUB_LONG_UPTIME_S_MAX)
    return rng.uniform(HUB_UPTIME_S_MIN, HUB_UPTIME_S_MAX)


def kill_and_restart(
    hub: HubProcess, plan: KillPlan, rng: random.Random, holders: Callable[[], set[int]]
) -> list[Kill]:
    """Kills at random moments, as planned and in random order, or until CRASH_PHASE_S_MAX
    has passed, whichever comes first; after each, waits until every process serves."""
    record: list[Kill] = []
    deadline = time.monotonic() + CRASH_PHASE_S_MAX
    while time.monotonic() < deadline:
        hubs_left = plan.hub_kills - sum(kill.target == HUB for kill in record)
        workers_left = plan.worker_kills - sum(kill.target == WORKER for kill in record)
        if hubs_left + workers_left == 0:
            break
        served_s = uptime(rng)
        time.sleep(served_s)
        if rng.randrange(hubs_left + workers_left) < workers_left:
            record.append(kill_worker(hub, rng, holders, served_s))
        else:
            hub.kill()
            downtime_s = rng.uniform(0.0, HUB_DOWNTIME_S_MAX)
            time.sleep(downtime_s)
            record.append(Kill(HUB, served_s, downtime_s, hub.start()))
    return record


def kill_worker(
    hub: HubProcess, rng: random.Random, holders: Callable[[], set[int]], served_s: float
) -> Kill:
    workers = hub.workers()
    if rng.randrange(LEASE_HOLDER_KILL_ONE_IN) == 0:
        holding, waited_s = wait_for_holder(workers, holders)
        served_s += waited_s
    else:
        holding = workers & holders()
    pid = min(holding) if holding else rng.choice(sorted(workers))
    restart_s = hub.kill_worker(pid)
    return Kill(WORKER, served_s, 0.0, restart_s, lease_holder=pid in holding)


def wait_for_holder(workers: set[int], holders: Callable[[], set[int]]) -> tuple[set[int], float]:
    """The workers holding the lease (none if no one took it in time), and the seconds waited."""
    began = time.monotonic()
    while not (holding := workers & holders()):
        if time.monotonic() - began > LEASE_HOLDER_WAIT_S_MAX:
            break
        time.sleep(LEASE_HOLDER_POLL_S)
    return holding, time.monotonic() - began
