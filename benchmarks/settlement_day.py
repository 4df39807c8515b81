"""Settling one business day of N completed transfers on PostgreSQL: how long, how much memory.

    .venv/bin/python -m benchmarks.settlement_day --transfers 1000000

Creates a throwaway database (COALITION_BENCH_POSTGRES_URL, else the local default admin URL),
migrates it, seeds one business day with COPY, then measures:

- a plain SQL aggregate of the same rows (what netting alone costs the database);
- settle_day: stream, hash, net, write the leaves and the settlement (wall time, ru_maxrss);
- settle_day again: the re-run path, which recomputes the root and returns the stored result;
- settle_day once more from scratch under tracemalloc (the settlement tables emptied first),
  for the peak of Python allocations; tracemalloc slows allocation-heavy code, so this run is
  kept apart from the timed one and its time is reported separately.

Prints a table, writes it to bench-results/settlement_day.json and drops the database, also
on error. Nothing is asserted about speed; the only failures are wrong answers (the settled
positions must equal the SQL aggregate's, and every run must give the same root).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, text

from benchmarks.settlement_seed import (
    Options,
    admin_url,
    libpq_url,
    seed,
    throwaway_database,
)
from exchange.adapters.memory import FixedClock
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.services.settlement import DaySettlement, settle_day
from settlement.calendar import CoalitionCalendar, parse_day
from settlement.model import HUB_PARTICIPANT

RESULTS_PATH = Path(__file__).resolve().parents[1] / "bench-results" / "settlement_day.json"

MIB = 1024 * 1024
# The day is over an hour ago when the benchmark settles it.
AFTER_CUTOFF_US = 3_600 * 1_000_000

# What netting computes, in one statement: gross obligations per (payer, payee, currency),
# where a reversal's payer is the destination partner (settlement.model.TransferRecord).
AGGREGATE_SQL = """
SELECT CASE WHEN kind = 'reversal' THEN destination_partner_id ELSE source_partner_id END,
       CASE WHEN kind = 'reversal' THEN source_partner_id ELSE destination_partner_id END,
       currency,
       SUM(settlement_amount_minor)::bigint,
       SUM(fee_minor)::bigint,
       COUNT(*)
FROM transfers
WHERE business_day = %s AND state = 'completed'
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""

# Everything settle_day writes besides closing the day; emptied between the timed run and the
# traced one. In the throwaway database nothing else writes the ledger.
SETTLEMENT_TABLES = (
    "settlement_days, settlement_leaves, settlement_tree_nodes, settlement_runs, "
    "settlement_positions, "
    "payment_instructions, ledger_entries, journals, ledger_accounts"
)
RESET_SQL = "TRUNCATE " + SETTLEMENT_TABLES


Position = tuple[int, int, int]  # receivable, payable, net
Positions = dict[tuple[str, str], Position]  # (currency, participant) -> position


@dataclass(frozen=True)
class Results:
    transfers: int
    seed_s: float
    sql_aggregate_s: float
    settle_s: float
    # settle_s / sql_aggregate_s: how many plain aggregates of the day a settlement costs.
    settle_per_aggregate: float
    transfers_per_s: float
    rerun_s: float
    tracemalloc_peak_mib: float
    maxrss_growth_mib: float
    settle_traced_s: float
    maxrss_before_mib: float
    maxrss_after_mib: float
    members: int
    partners: int
    random_seed: int
    business_day: str
    tree_size: int
    merkle_root: str
    positions_match_sql: bool
    roots_match: bool
    postgres: str
    python: str
    measured_at: str


TABLE_COLUMNS = (
    ("transfers", "transfers", "{:,}"),
    ("seed s", "seed_s", "{:.2f}"),
    ("SQL aggregate s", "sql_aggregate_s", "{:.2f}"),
    ("settle s", "settle_s", "{:.2f}"),
    ("settle/aggregate", "settle_per_aggregate", "{:.1f}x"),
    ("transfers/s", "transfers_per_s", "{:,.0f}"),
    ("re-run s", "rerun_s", "{:.2f}"),
    ("tracemalloc peak MiB", "tracemalloc_peak_mib", "{:.1f}"),
    ("maxrss growth MiB", "maxrss_growth_mib", "{:.1f}"),
)


# --- the SQL baseline ---


def sql_aggregate(url: str, business_day: str) -> tuple[float, list[tuple[Any, ...]]]:
    with psycopg.connect(libpq_url(url)) as connection:
        started = time.perf_counter()
        rows = connection.execute(AGGREGATE_SQL, (business_day,)).fetchall()
        seconds = time.perf_counter() - started
    print(f"SQL aggregate: {len(rows)} (payer, payee, currency) groups in {seconds:.2f}s")
    return seconds, rows


def positions_from_aggregate(rows: Sequence[tuple[Any, ...]]) -> Positions:
    """Net positions as netting defines them: the payer owes amount to the payee, fee to the hub."""
    receivable: dict[tuple[str, str], int] = defaultdict(int)
    payable: dict[tuple[str, str], int] = defaultdict(int)
    for payer, payee, currency, amount, fee, _count in rows:
        payable[(currency, payer)] += amount + fee
        receivable[(currency, payee)] += amount
        receivable[(currency, HUB_PARTICIPANT)] += fee
    keys = set(receivable) | set(payable)
    return {k: (receivable[k], payable[k], receivable[k] - payable[k]) for k in keys}


def positions_of(settlement: DaySettlement) -> Positions:
    return {
        (currency, p.participant): (p.receivable_minor, p.payable_minor, p.net_minor)
        for currency, positions in settlement.positions.items()
        for p in positions
    }


# --- settling ---


def maxrss_bytes() -> int:
    """The process's resident-set high-water mark (Linux reports KiB, macOS bytes)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


def timed_settle(
    engine: Engine, calendar: CoalitionCalendar, options: Options, label: str, *, traced: bool
) -> tuple[DaySettlement, float]:
    clock = FixedClock(calendar.cutoff_us(parse_day(options.business_day)) + AFTER_CUTOFF_US)
    started = time.perf_counter()

    def progress(count: int) -> None:
        elapsed = time.perf_counter() - started
        line = f"  {label}: {count:>11,} records {elapsed:8.1f}s {count / elapsed:>10,.0f}/s"
        if traced:
            current, peak = tracemalloc.get_traced_memory()
            line += f"  traced now {current / MIB:6.1f} MiB, peak {peak / MIB:6.1f} MiB"
        print(line, flush=True)

    settlement = settle_day(
        SqlUnitOfWorkFactory(engine), calendar, clock, options.business_day, progress
    )
    seconds = time.perf_counter() - started
    print(f"{label}: {settlement.tree_size:,} records in {seconds:.2f}s", flush=True)
    return settlement, seconds


def reset_settlement(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text(RESET_SQL))


def _settle_runs(engine: Engine, calendar: CoalitionCalendar, options: Options) -> tuple[Any, ...]:
    """The timed settle, its re-run, and a traced settle from scratch."""
    # ru_maxrss is the process's high-water mark since it started: its growth across the
    # run is how far settling pushed resident memory above everything before it (imports,
    # seeding), C allocations and freed-but-not-returned pages included. tracemalloc sees
    # only Python allocations, but exactly those made during the run, so a per-transfer
    # leak shows there first; it costs time, hence its own run below.
    rss_before = maxrss_bytes()
    settled, settle_s = timed_settle(engine, calendar, options, "settle", traced=False)
    rss_after = maxrss_bytes()

    rerun, rerun_s = timed_settle(engine, calendar, options, "re-run", traced=False)

    reset_settlement(engine)
    tracemalloc.start()
    try:
        traced, traced_s = timed_settle(engine, calendar, options, "traced", traced=True)
        _current, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return settled, settle_s, rss_before, rss_after, rerun, rerun_s, traced, traced_s, traced_peak


def measure(url: str, options: Options) -> Results:
    calendar = CoalitionCalendar()
    seed_s = seed(url, options, calendar)
    aggregate_s, aggregate_rows = sql_aggregate(url, options.business_day)
    engine = create_database_engine(url)
    try:
        with engine.connect() as connection:
            postgres = str(connection.execute(text("SHOW server_version")).scalar())

        runs = _settle_runs(engine, calendar, options)
    finally:
        engine.dispose()
    settled, settle_s, rss_before, rss_after, rerun, rerun_s, traced, traced_s, traced_peak = runs
    roots_match = (
        rerun.already_settled
        and rerun.alarm is None
        and settled.merkle_root == rerun.merkle_root == traced.merkle_root
        and settled.tree_size == options.transfers
    )
    positions_match = positions_of(settled) == positions_from_aggregate(aggregate_rows)
    return Results(
        transfers=options.transfers,
        seed_s=seed_s,
        sql_aggregate_s=aggregate_s,
        settle_s=settle_s,
        settle_per_aggregate=settle_s / aggregate_s,
        transfers_per_s=options.transfers / settle_s,
        rerun_s=rerun_s,
        tracemalloc_peak_mib=traced_peak / MIB,
        maxrss_growth_mib=(rss_after - rss_before) / MIB,
        settle_traced_s=traced_s,
        maxrss_before_mib=rss_before / MIB,
        maxrss_after_mib=rss_after / MIB,
        members=options.members,
        partners=options.partners,
        random_seed=options.seed,
        business_day=options.business_day,
        tree_size=settled.tree_size,
        merkle_root=settled.merkle_root.hex(),
        positions_match_sql=positions_match,
        roots_match=roots_match,
        postgres=postgres,
        python=platform.python_version(),
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


# --- reporting ---


def print_table(results: Results) -> None:
    values = asdict(results)
    cells = [(title, fmt.format(values[key])) for title, key, fmt in TABLE_COLUMNS]
    widths = [max(len(title), len(value)) for title, value in cells]
    print()
    print("  ".join(title.rjust(w) for (title, _), w in zip(cells, widths, strict=True)))
    print("  ".join(value.rjust(w) for (_, value), w in zip(cells, widths, strict=True)))
    print()
    print(
        f"settle {results.settle_s:.2f}s / SQL aggregate {results.sql_aggregate_s:.3f}s"
        f" = {results.settle_per_aggregate:.1f}x"
    )
    print(
        f"traced settle {results.settle_traced_s:.2f}s; maxrss {results.maxrss_before_mib:.1f}"
        f" -> {results.maxrss_after_mib:.1f} MiB; root {results.merkle_root[:16]}...;"
        f" positions match SQL: {results.positions_match_sql}; roots match: {results.roots_match}"
    )
    print(
        f"PostgreSQL {results.postgres}, Python {results.python}, "
        f"{results.partners} partners, {results.members:,} members"
    )


def write_json(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(results), indent=2) + "\n")
    print(f"wrote {path}")


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--transfers", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--partners", type=int, default=8)
    parser.add_argument("--business-day", default="2026-03-02")
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)
    if args.transfers < 1 or args.members < 1 or args.partners < 2:
        parser.error("needs at least 1 transfer, 1 member and 2 partners")
    try:
        parse_day(args.business_day)
    except ValueError:
        parser.error("--business-day must be YYYY-MM-DD")
    return Options(
        args.transfers, args.members, args.partners, args.business_day, args.seed, args.output
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    with throwaway_database(admin_url()) as url:
        results = measure(url, options)
    print_table(results)
    write_json(results, options.output)
    if not (results.positions_match_sql and results.roots_match):
        print("WRONG ANSWER: settlement disagrees with the SQL aggregate or with itself")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
