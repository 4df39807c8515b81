"""Statements per operation, as the database itself saw them: its statement log.

PostgreSQL keeps no count of statements per database, and pg_stat_statements counts only when
the server was started with it preloaded, which a run cannot arrange. So a run turns on
`log_statement = 'all'` (and `log_parameter_max_length = 0`: the statements' text, not their
parameters) for its own scratch databases only (`ALTER DATABASE ... SET`, before
any session of theirs connects) and counts, per stage, the `statement:` and `execute ...:`
lines the server wrote between the stage's start and its end, by the stage's sessions (their
pids, when `log_line_prefix` has `%p`). Each such line is one statement the client sent and
waited for, one round trip, except where the driver sends several at once (psycopg's
executemany pipelines them): those count one each.

The log is read through SQL (`pg_read_binary_file`, superuser or pg_read_server_files): the
collector's current file (`pg_current_logfile()`), else, with the server on this machine, the
file its postmaster's stderr is redirected to (Debian's `pg_ctlcluster` arrangement).
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from benchmarks.hub.proc import is_postgres_process, parent_pid

READ_CHUNK_BYTES = 8 * 1024 * 1024
# Every statement, without its parameters (member ids and nonces stay out of the server's log).
LOGGING = ("log_statement = 'all'", "log_parameter_max_length = 0")
STATEMENT_MARKER = r"LOG:  (?:statement|execute [^:]*): "
PREFIX_ESCAPE = re.compile(r"(%-?\d*[a-zA-Z%])")


def line_pattern(log_line_prefix: str) -> re.Pattern[str]:
    """A regex for a statement line under this `log_line_prefix`, with the pid as a group."""
    parts = []
    for index, piece in enumerate(PREFIX_ESCAPE.split(log_line_prefix)):
        escape = piece[-1:]
        if index % 2 == 0:
            parts.append(re.escape(piece))
        elif escape == "%":
            parts.append("%")
        elif escape == "p":
            parts.append(r"\s*(?P<pid>\d+)\s*")
        elif escape != "q":  # %q prints nothing in a session's lines
            parts.append(".*?")
    return re.compile("^" + "".join(parts) + STATEMENT_MARKER)


def count_statements(text: str, pattern: re.Pattern[str], pids: Collection[int]) -> int:
    """Statement lines in `text`; only those of `pids` when the prefix carries the pid."""
    count = 0
    for line in text.splitlines():
        match = pattern.match(line)
        if match is None:
            continue
        pid = match.groupdict().get("pid")
        if pid is None or int(pid) in pids:
            count += 1
    return count


@dataclass(frozen=True)
class StatementLog:
    """The server's log file, read through `conninfo` (a superuser's session)."""

    conninfo: str
    path: str
    pattern: re.Pattern[str]
    by_pid: bool

    def size(self) -> int:
        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            row = connection.execute("SELECT (pg_stat_file(%s)).size", (self.path,)).fetchone()
        assert row is not None
        return int(row[0])

    def count(self, start: int, end: int, pids: Collection[int]) -> int | None:
        """Statements of `pids` logged in bytes [start, end); None if the log was rotated."""
        if end < start:
            return None
        count, carried = 0, ""
        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            for offset in range(start, end, READ_CHUNK_BYTES):
                length = min(READ_CHUNK_BYTES, end - offset)
                row = connection.execute(
                    "SELECT pg_read_binary_file(%s, %s, %s)", (self.path, offset, length)
                ).fetchone()
                assert row is not None
                text = carried + bytes(row[0]).decode(errors="replace")
                complete, _, carried = text.rpartition("\n")
                count += count_statements(complete, self.pattern, pids)
        return count + count_statements(carried, self.pattern, pids)


def statement_log(admin_conninfo: str, database: str) -> StatementLog | str:
    """Turns statement logging on for `database`; the server's log, or why there is none.

    Call it before any session of `database` that is to be counted connects: the setting
    takes effect at connection start. The log is read later through `admin_conninfo` (another
    database), so reading it adds no statement to the ones counted.
    """
    try:
        with psycopg.connect(admin_conninfo, autocommit=True) as connection:
            for setting in LOGGING:
                connection.execute(
                    sql.SQL("ALTER DATABASE {} SET ").format(sql.Identifier(database))
                    + sql.SQL(setting)
                )
            path = _log_path(connection)
            prefix = str(_scalar(connection, "SHOW log_line_prefix"))
            if path is None:
                return "the server's log file is not known (no collector, server not local)"
            connection.execute("SELECT (pg_stat_file(%s)).size", (path,))
    except psycopg.Error as error:
        return str(error).strip().splitlines()[0]
    pattern = line_pattern(prefix)
    return StatementLog(admin_conninfo, path, pattern, "pid" in pattern.groupindex)


def _scalar(connection: psycopg.Connection[tuple[object, ...]], query: str) -> object:
    row = connection.execute(query).fetchone()
    return None if row is None else row[0]


def _log_path(connection: psycopg.Connection[tuple[object, ...]]) -> str | None:
    collected = _scalar(connection, "SELECT pg_current_logfile()")
    if isinstance(collected, str):
        return collected
    backend = _scalar(connection, "SELECT pg_backend_pid()")
    postmaster = parent_pid(int(str(backend)))
    if postmaster is None or not is_postgres_process(postmaster):
        return None
    try:
        target = os.readlink(f"/proc/{postmaster}/fd/2")
    except OSError:
        return None
    return target if target.startswith("/") and Path(target).is_file() else None
