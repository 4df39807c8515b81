"""What the database's sessions are doing during a stage, sampled from pg_stat_activity.

The average number of the stage's sessions in each state tells where a transaction's time goes:
`Lock:*` is a queue on a row or transaction (hot rows), `IO:WALSync`/`IO:WALWrite` is commit
durability, `Client:ClientRead` while idle in a transaction is the database waiting for the
client (the hub's Python), `CPU` is a session running with no wait event.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg

SAMPLE_INTERVAL_S = 0.02
SAMPLER_JOIN_S_MAX = 5.0
SESSIONS_QUERY = """
SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), state
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'
"""


@dataclass
class DatabaseWaits:
    """Sessions per state, summed over samples; `average()` divides by the sample count."""

    samples: int = 0
    sessions: Counter[str] = field(default_factory=Counter)
    error: str = ""

    def add(self, rows: list[tuple[str, str]]) -> None:
        self.samples += 1
        for wait, state in rows:
            label = wait if state == "active" else f"{state} ({wait})"
            self.sessions[label] += 1

    def average(self) -> dict[str, float]:
        if not self.samples:
            return {}
        return {
            label: round(count / self.samples, 2) for label, count in self.sessions.most_common()
        }

    def text(self, count: int = 4) -> str:
        if self.error:
            return f"database sessions: not sampled ({self.error})"
        top = list(self.average().items())[:count]
        return "database sessions (avg): " + ", ".join(f"{label} {n:g}" for label, n in top)


def _sample(conninfo: str, waits: DatabaseWaits, stop: threading.Event) -> None:
    try:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            while not stop.wait(SAMPLE_INTERVAL_S):
                waits.add(connection.execute(SESSIONS_QUERY).fetchall())
    except psycopg.Error as error:
        waits.error = str(error).strip().splitlines()[0]


@contextmanager
def sampled_waits(conninfo: str) -> Iterator[DatabaseWaits]:
    """Samples the database's sessions on a thread for the duration of the block."""
    waits, stop = DatabaseWaits(), threading.Event()
    sampler = threading.Thread(
        target=_sample, args=(conninfo, waits, stop), name="db-waits", daemon=True
    )
    sampler.start()
    try:
        yield waits
    finally:
        stop.set()
        sampler.join(SAMPLER_JOIN_S_MAX)
