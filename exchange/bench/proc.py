"""CPU time of a process from /proc (Linux): user plus system, in seconds."""

from __future__ import annotations

import os
from pathlib import Path


def process_cpu_s(pid: int) -> float | None:
    """utime + stime of `pid` so far, or None (no such process, or no /proc here)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # utime and stime are fields 14 and 15 of stat; [0] here is field 3 (state).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parent_pid(pid: int) -> int | None:
    """The parent of `pid` (field 4 of stat), or None."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def is_postgres_process(pid: int) -> bool:
    """True if this machine's process `pid` is a PostgreSQL server process."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() in {"postgres", "postmaster"}
    except OSError:
        return False
