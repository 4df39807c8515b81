"""Seeding a throwaway PostgreSQL database with one business day of N completed transfers, for
the settlement, proof and measures benchmarks: COPY, from a fixed random seed."""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.migrations import upgrade
from settlement.calendar import CoalitionCalendar, parse_day

ADMIN_URL_ENV = "COALITION_BENCH_POSTGRES_URL"
ADMIN_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PROGRESS_EVERY = 100_000
REVERSAL_SHARE = 0.01
DAY_US = 86_400 * 1_000_000
PARTNER_KINDS = ("airline", "hotel", "card_issuer", "retailer")
CURRENCIES = ("USD", "EUR")

TRANSFER_COLUMNS = (
    "transfer_id, kind, state, source_partner_id, destination_partner_id, cmid, source_ppid, "
    "destination_ppid, source_points, destination_points, bonus_points, currency, "
    "settlement_amount_minor, fee_minor, agreement_id, agreement_version, quote_id, "
    "original_transfer_id, created_at_us, timeout_at_us, resolved_at_us, void_reason, "
    "reject_reason, business_day"
)


@dataclass(frozen=True)
class Options:
    transfers: int
    members: int
    partners: int
    business_day: str
    seed: int
    output: Path


# --- the throwaway database (the few lines of tests/support/databases.py, without pytest) ---


def admin_url() -> str:
    return os.environ.get(ADMIN_URL_ENV, ADMIN_URL_DEFAULT)


@contextmanager
def throwaway_database(admin: str) -> Iterator[str]:
    """Creates and migrates a fresh database, yields its URL and drops it afterwards."""
    name = f"coalition_bench_{uuid.uuid4().hex[:12]}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    print(f"database {name} created", flush=True)
    try:
        engine = create_database_engine(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        yield url
    finally:
        with admin_engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
        print(f"database {name} dropped", flush=True)


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as a plain postgresql:// URI that psycopg connects to directly."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# --- seeding ---


def partner_ids(count: int) -> list[str]:
    return [f"bench{number:02d}" for number in range(1, count + 1)]


def member_ids(count: int) -> list[str]:
    return [f"cm_bench{number:08d}" for number in range(count)]


def day_start_us(calendar: CoalitionCalendar, business_day: str) -> int:
    """The first instant of the business day: the previous day's cut-off."""
    return calendar.cutoff_us(parse_day(business_day) - timedelta(days=1))


def transfer_rows(
    options: Options, partners: Sequence[str], members: Sequence[str], start_us: int
) -> Iterator[tuple[object, ...]]:
    """N completed transfers (about 1% reversals) spread over the day, from a fixed seed.

    The payer's currency is its partner's (even partners USD, odd EUR), so both currencies
    get a run. quote_id is left NULL: nothing in settlement reads it.
    """
    rng = random.Random(options.seed)
    partner_count = len(partners)
    step_us = max(DAY_US // options.transfers, 1)
    width = max(len(str(options.transfers - 1)), 10)
    for index in range(options.transfers):
        source = rng.randrange(partner_count)
        destination = (source + 1 + rng.randrange(partner_count - 1)) % partner_count
        member = rng.randrange(len(members))
        source_points = rng.randrange(1_000, 200_000)
        destination_points = source_points * (2 + destination % 3) // 4
        amount_minor = rng.randrange(50, 500_000)
        fee_minor = amount_minor // 100
        kind, original = "transfer", None
        if index and rng.random() < REVERSAL_SHARE:
            kind, original = "reversal", f"tr_{rng.randrange(index):0{width}d}"
        payer = destination if kind == "reversal" else source
        created_us = start_us + index * step_us
        pair = (partners[source], partners[destination])
        yield (
            f"tr_{index:0{width}d}", kind, "completed", *pair, members[member],
            f"pp_{source}_{member}", f"pp_{destination}_{member}",
            source_points, destination_points, 0, CURRENCIES[payer % len(CURRENCIES)],
            amount_minor, fee_minor, f"ra_{pair[0]}_{pair[1]}", 1, None, original,
            created_us, created_us + 60_000_000, created_us + 1_000, None, "",
            options.business_day,
        )  # fmt: skip


def seed(url: str, options: Options, calendar: CoalitionCalendar) -> float:
    """Partners, members and the day's transfers, all COPYed in one transaction; then VACUUM."""
    started = time.perf_counter()
    start_us = day_start_us(calendar, options.business_day)
    partners = partner_ids(options.partners)
    members = member_ids(options.members)
    with psycopg.connect(libpq_url(url)) as connection, connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO partners (partner_id, display_name, kind, program_code, created_at_us)"
            " VALUES (%s, %s, %s, %s, %s)",
            [
                (p, f"Bench partner {p}", PARTNER_KINDS[i % len(PARTNER_KINDS)], p.upper(), 0)
                for i, p in enumerate(partners)
            ],
        )
        cursor.executemany(
            "INSERT INTO partner_feeds (partner_id, last_sequence, acked_sequence)"
            " VALUES (%s, 0, 0)",
            [(p,) for p in partners],
        )
        with cursor.copy("COPY members (cmid, created_at_us) FROM STDIN") as copy:
            for cmid in members:
                copy.write_row((cmid, 0))
        with cursor.copy(f"COPY transfers ({TRANSFER_COLUMNS}) FROM STDIN") as copy:
            for count, row in enumerate(transfer_rows(options, partners, members, start_us), 1):
                copy.write_row(row)
                if count % PROGRESS_EVERY == 0:
                    elapsed = time.perf_counter() - started
                    print(f"  seeded {count:>11,} transfers {elapsed:8.1f}s", flush=True)
    copied = time.perf_counter()
    # Sets hint bits and statistics now, so neither the SQL aggregate nor settle_day pays for
    # the first read of freshly loaded pages, and both get the same plan-quality statistics.
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE) transfers, members")
    seconds = time.perf_counter() - started
    print(
        f"seeded {options.transfers:,} transfers in {seconds:.2f}s "
        f"(copy {copied - started:.2f}s, vacuum/analyze {seconds - (copied - started):.2f}s)",
        flush=True,
    )
    return seconds
