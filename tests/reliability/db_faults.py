"""Database faults injected while the hub serves: backends terminated, connections cut.

`BackendTerminator` watches pg_stat_activity for the hub's backends (those of the scratch
database other than the observer's own) that are inside a statement or a transaction while
a stage's calls are in flight, and ends one with pg_terminate_backend, up to a number per
stage. `ConnectionCutter` cuts the proxy between hub and database now and then while calls
are in flight, and restores it after a short outage. Both run on a thread, bounded in time.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from types import TracebackType

from sqlalchemy import create_engine, text

from tests.reliability.db_proxy import DatabaseProxy
from tests.reliability.fault_load import LoadRecord

OBSERVER_APPLICATION = "coalition-reliability-observer"
# A backend inside a statement or an open transaction: a call is using it right now.
BUSY_BACKENDS = text(
    """
    SELECT pid, state, left(query, 100), coalesce(application_name, '') FROM pg_stat_activity
    WHERE datname = :database AND pid <> pg_backend_pid()
      AND coalesce(application_name, '') <> :observer
      AND backend_type = 'client backend'
      AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')
    """
)
TERMINATE = text("SELECT pg_terminate_backend(:pid)")
POLL_S = 0.004
# After a termination, let the hub and the clients move on before the next.
TERMINATION_GAP_S = 0.06
THREAD_JOIN_S_MAX = 30.0


@dataclass(frozen=True)
class Termination:
    stage: str
    state: str
    query: str
    # Whose backend it was: coalition-hub-<pid> for a hub process's calls.
    application: str


class _FaultThread:
    """A daemon thread that runs `_loop` until stopped; a context manager."""

    def __init__(self, name: str) -> None:
        self.stop = threading.Event()
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> _FaultThread:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop.set()
        self._thread.join(THREAD_JOIN_S_MAX)
        assert not self._thread.is_alive(), f"{self._thread.name} did not stop"
        if self.failure is not None and kind is None:
            raise self.failure

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as failure:  # re-raised on the test's thread by __exit__
            self.failure = failure

    def _loop(self) -> None:
        raise NotImplementedError


@dataclass
class TerminationTargets:
    per_stage_max: int
    stages: frozenset[str]


class BackendTerminator(_FaultThread):
    def __init__(
        self, admin_url: str, database: str, record: LoadRecord, targets: TerminationTargets
    ) -> None:
        super().__init__("backend-terminator")
        self.engine = create_engine(
            admin_url,
            isolation_level="AUTOCOMMIT",
            pool_size=1,
            connect_args={"application_name": OBSERVER_APPLICATION},
        )
        self.database = database
        self.record = record
        self.targets = targets
        self.terminations: list[Termination] = []
        self.by_stage: Counter[str] = Counter()

    def _loop(self) -> None:
        rng = random.Random()
        try:
            with self.engine.connect() as connection:
                while not self.stop.wait(POLL_S):
                    stage = self.record.stage
                    wanted = stage in self.targets.stages
                    if not wanted or self.by_stage[stage] >= self.targets.per_stage_max:
                        continue
                    if not self.record.busy():
                        continue
                    busy = connection.execute(
                        BUSY_BACKENDS,
                        {"database": self.database, "observer": OBSERVER_APPLICATION},
                    ).all()
                    if not busy or not self.record.busy():
                        continue
                    pid, state, query, application = rng.choice(busy)
                    if connection.execute(TERMINATE, {"pid": pid}).scalar():
                        self.terminations.append(Termination(stage, state, query, application))
                        self.by_stage[stage] += 1
                        self.stop.wait(TERMINATION_GAP_S)
        finally:
            self.engine.dispose()


@dataclass(frozen=True)
class Cut:
    stage: str
    dropped: int
    outage_s: float


@dataclass
class CutPlan:
    up_s: tuple[float, float] = (0.2, 0.8)
    down_s: tuple[float, float] = (0.2, 1.5)
    seed: int = 0
    # Each outage stalls the calls: beyond this many, cuts only lengthen the run.
    cuts_max: int = 8


class ConnectionCutter(_FaultThread):
    def __init__(self, proxy: DatabaseProxy, record: LoadRecord, plan: CutPlan) -> None:
        super().__init__("connection-cutter")
        self.proxy = proxy
        self.record = record
        self.plan = plan
        self.cuts: list[Cut] = []

    def _loop(self) -> None:
        rng = random.Random(self.plan.seed)
        while not self.stop.wait(rng.uniform(*self.plan.up_s)):
            if len(self.cuts) >= self.plan.cuts_max:
                return
            if not self.record.busy():
                continue
            stage = self.record.stage
            dropped = self.proxy.cut()
            outage_s = rng.uniform(*self.plan.down_s)
            try:
                self.stop.wait(outage_s)
            finally:
                self.proxy.restore()
            self.cuts.append(Cut(stage, dropped, outage_s))
