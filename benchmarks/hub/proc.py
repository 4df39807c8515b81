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


def child_pids(pid: int) -> list[int]:
    """The live children of `pid` (of its main thread, which is where a fork's parent runs)."""
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in listed.split()]


def process_tree_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds so far of `pid` and of every live descendant, by pid; empty if `pid` is gone.

    A supervisor's workers are its children: the hub's CPU with `--processes N` is the sum.
    """
    found: dict[int, float] = {}
    pending = [pid]
    while pending:
        current = pending.pop()
        cpu_s = process_cpu_s(current)
        if cpu_s is None:
            continue
        found[current] = cpu_s
        pending += child_pids(current)
    return found


def listening_socket_inodes(port: int) -> set[int]:
    """Inodes of the TCP sockets listening on `port` (any address), from /proc/net."""
    inodes: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            # local_address is HEXIP:HEXPORT; state 0A is LISTEN; the inode is field 10.
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inodes.add(int(fields[9]))
    return inodes


def holds_socket(pid: int, inodes: set[int]) -> bool:
    """True if `pid` has one of the socket `inodes` open."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(descriptor) in wanted:
                return True
        except OSError:
            continue
    return False


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
