"""What a hostile request did: the database tables before and after, the hub's logged
exceptions, and the answer, with the checks that a refusal was contained."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from sqlalchemy import Engine, inspect, text

from tests.reliability.fuzz_support.rpcs import NEVER, Code, Rpc
from tests.support import databases
from tests.support.raw_calls import SignedRequest

# --- the database, before and after --------------------------------------------------------------

Rows = dict[str, list[str]]
NONCE_TABLE = "request_nonces"
# A wrong link code is remembered on purpose: the failures feed the redemption throttle.
LINK_FAILURE_TABLE = "link_failures"
ROW_SEPARATOR = "\n"


class TableReader:
    """Every row of every application table as text, read in one statement: a snapshot per
    call must cost little next to the call itself."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        tables = databases.application_tables(engine)
        inspector = inspect(engine)
        parts = []
        for table in tables:
            if engine.dialect.name == "postgresql":
                rows = f"(SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM \"{table}\" t)"
            else:
                columns = [column["name"] for column in inspector.get_columns(table)]
                line = " || ',' || ".join(f'quote("{column}")' for column in columns)
                rows = f"(SELECT coalesce(group_concat({line}, char(10)), '') FROM \"{table}\")"
            parts.append(f"SELECT '{table}', {rows}")
        self.statement = text(" UNION ALL ".join(parts))

    def nonce_spent(self, partner_id: str, nonce: str) -> bool:
        query = text(f"SELECT 1 FROM {NONCE_TABLE} WHERE partner_id = :partner AND nonce = :nonce")
        with self.engine.connect() as connection:
            found = connection.execute(query, {"partner": partner_id, "nonce": nonce})
            return found.first() is not None

    def snapshot(self) -> Rows:
        with self.engine.connect() as connection:
            return {
                table: rows.split(ROW_SEPARATOR) if rows else []
                for table, rows in connection.execute(self.statement)
            }


@dataclass(frozen=True)
class TableChange:
    table: str
    added: tuple[str, ...]
    removed: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.table}: +{_rows_text(self.added)} -{_rows_text(self.removed)}"


def _rows_text(rows: Sequence[str]) -> str:
    shown = ", ".join(row[:160] for row in rows[:3])
    return f"{len(rows)} [{shown}{', ...' if len(rows) > 3 else ''}]"


def table_changes(before: Rows, after: Rows) -> list[TableChange]:
    changes = []
    for table in sorted(set(before) | set(after)):
        old, new = Counter(before.get(table, [])), Counter(after.get(table, []))
        added, removed = tuple((new - old).elements()), tuple((old - new).elements())
        if added or removed:
            changes.append(TableChange(table, added, removed))
    return changes


def writes_on_refusal(
    changes: Sequence[TableChange], rpc: Rpc, partner_id: str, nonce: str
) -> list[TableChange]:
    """The changes a refused request must not make: all but its own spent nonce and, for
    RedeemLinkCode only, new throttle failure records."""
    unexpected = []
    for change in changes:
        own_nonce = all(nonce in row and partner_id in row for row in change.added)
        if change.table == NONCE_TABLE and not change.removed and own_nonce:
            continue
        throttle = change.table == LINK_FAILURE_TABLE and rpc.name == "RedeemLinkCode"
        if throttle and not change.removed:
            continue
        unexpected.append(change)
    return unexpected


# --- what the hub logs ---------------------------------------------------------------------------


class ExceptionLog(logging.Handler):
    """Collects every record the hub logs with a traceback (a request that failed inside)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self._guard = threading.Lock()
        self.records: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is None:
            return
        with self._guard:
            self.records.append(self.format(record))

    def take(self) -> tuple[str, ...]:
        with self._guard:
            taken, self.records = tuple(self.records), []
            return taken


# --- one observed call ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    rpc: Rpc
    request: SignedRequest
    code: grpc.StatusCode
    reason: str
    message: str
    changes: tuple[TableChange, ...]
    hub_tracebacks: tuple[str, ...]
    response: bytes | None = None
    note: str = ""

    def unexpected_writes(self) -> list[TableChange]:
        if self.code is Code.OK:
            return []
        return writes_on_refusal(
            self.changes, self.rpc, self.request.partner_id, self.request.nonce
        )

    def problems(self, allowed: frozenset[grpc.StatusCode]) -> list[str]:
        found = []
        if self.code in NEVER or self.code not in allowed:
            names = ", ".join(sorted(code.name for code in allowed))
            found.append(f"status {self.code.name} is not one of {names}")
        found.extend(f"refused but wrote {change}" for change in self.unexpected_writes())
        found.extend(f"hub logged a failure:\n{trace}" for trace in self.hub_tracebacks)
        return found

    def report(self, problems: Sequence[str]) -> str:
        body = self.request.body
        return "\n".join(
            [
                f"{self.rpc.path} as {self.request.partner_id} {self.note}".rstrip(),
                f"request: {describe_body(self.rpc, body)}",
                f"outcome: {self.code.name} {self.reason} {self.message[:300]!r}",
                *problems,
            ]
        )


def describe_body(rpc: Rpc, body: bytes) -> str:
    shown = body[:160].hex() + ("..." if len(body) > 160 else "")
    try:
        parsed = rpc.request_type.FromString(body)
    except Exception:  # the description of an unparseable body is its bytes
        return f"{len(body)} bytes {shown}"
    text_form = str(parsed).replace("\n", " ")
    return f"{len(body)} bytes {shown} = {{{text_form[:600]}}}"


def assert_contained(observation: Observation, allowed: frozenset[grpc.StatusCode]) -> None:
    problems = observation.problems(allowed)
    assert not problems, observation.report(problems)
