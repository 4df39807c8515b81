"""The database's own limit: a transfer-shaped transaction loop in raw psycopg, no hub at all.

Each transaction moves an amount between a random distinct pair of accounts: two balance
updates (in account order, as any careful writer locks) and two entry inserts, then COMMIT
with the server's default durability. It runs on the same client arrangement as the other
stages (processes with threads, one connection per thread), so it is not held back by a GIL.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

import psycopg
from psycopg import errors
from sqlalchemy.engine import make_url

from benchmarks.hub.load import Outcome, failed
from exchange.adapters.sql.engine import POSTGRES_POOL_SIZE

# As many connections as the hub's pool holds: the same concurrency the hub can reach.
RAW_LOOP_CONNECTIONS = POSTGRES_POOL_SIZE
RAW_LOOP_ACCOUNTS = 100_000
ACCOUNT_BALANCE_INITIAL = 1_000_000_000
TRANSFER_AMOUNT = 1000
ATTEMPTS_MAX = 8
RETRYABLE = (errors.DeadlockDetected, errors.SerializationFailure)

SCHEMA = (
    """CREATE TABLE bench_accounts (
        account_id bigint PRIMARY KEY,
        balance bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE bench_entries (
        entry_id bigserial PRIMARY KEY,
        journal_id text NOT NULL,
        account_id bigint NOT NULL REFERENCES bench_accounts,
        amount bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now())""",
    "CREATE INDEX bench_entries_account ON bench_entries (account_id)",
)
SEED_ACCOUNTS = (
    "INSERT INTO bench_accounts (account_id, balance) SELECT n, %s FROM generate_series(1, %s) AS n"
)
DEBIT = "UPDATE bench_accounts SET balance = balance - %s, updated_at = now() WHERE account_id = %s"
CREDIT = (
    "UPDATE bench_accounts SET balance = balance + %s, updated_at = now() WHERE account_id = %s"
)
ENTRY = "INSERT INTO bench_entries (journal_id, account_id, amount) VALUES (%s, %s, %s)"


def psycopg_conninfo(sqlalchemy_url: str) -> str:
    """`postgresql+psycopg://...` as the plain URI libpq takes."""
    return (
        make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def create_raw_schema(conninfo: str, accounts: int = RAW_LOOP_ACCOUNTS) -> None:
    with psycopg.connect(conninfo) as connection:
        for statement in SCHEMA:
            connection.execute(statement)
        connection.execute(SEED_ACCOUNTS, (ACCOUNT_BALANCE_INITIAL, accounts))
        connection.execute("ANALYZE bench_accounts")


@dataclass
class RawTransferOperation:
    connection: psycopg.Connection[tuple[object, ...]]
    accounts: int

    def __call__(self) -> Outcome:
        source, destination = random.sample(range(1, self.accounts + 1), 2)
        for attempt in range(1, ATTEMPTS_MAX + 1):
            try:
                self._transfer(source, destination)
                return Outcome()
            except RETRYABLE as error:
                self.connection.rollback()
                if attempt == ATTEMPTS_MAX:
                    return failed(f"raw transaction {type(error).__name__}")
        raise AssertionError("unreachable: the loop returns")

    def _transfer(self, source: int, destination: int) -> None:
        journal_id = uuid.uuid4().hex
        first, second = sorted((source, destination))
        amounts = {source: -TRANSFER_AMOUNT, destination: TRANSFER_AMOUNT}
        with self.connection.cursor() as cursor:
            for account in (first, second):
                statement = DEBIT if amounts[account] < 0 else CREDIT
                cursor.execute(statement, (TRANSFER_AMOUNT, account))
            for account in (source, destination):
                cursor.execute(ENTRY, (journal_id, account, amounts[account]))
        self.connection.commit()

    def close(self) -> None:
        self.connection.close()


@dataclass(frozen=True)
class RawTransferWorkload:
    conninfo: str
    accounts: int = RAW_LOOP_ACCOUNTS

    def open(self, client_index: int, client_count: int) -> RawTransferOperation:
        return RawTransferOperation(psycopg.connect(self.conninfo), self.accounts)
