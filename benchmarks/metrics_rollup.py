"""The measures on PostgreSQL: what folding a day costs, and how fast a 90-day series reads.

    .venv/bin/python -m benchmarks.metrics_rollup --transfers 1000000 --members 100000

Creates a throwaway database (COALITION_BENCH_POSTGRES_URL, else the local default admin URL),
migrates it and seeds, with COPY: partners, members enrolled at one brand, and N completed
transfers spread over D business days. Then, day by day, the members who link that day get their
other brands' ppids and the day is folded (exchange.services.analytics.fold_day, one
transaction, timed). Finally each of a few 90-day series is read Q times (operator and partner
views), timed. Prints a table, writes bench-results/metrics_rollup.json and drops the database,
also on error. Nothing about speed is asserted; a wrong total is an error.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.orm import Session

from benchmarks.settlement_seed import admin_url, libpq_url, throwaway_database
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.metrics_repository import SqlMetricsRepository
from exchange.services import analytics
from settlement.calendar import CoalitionCalendar

RESULTS_PATH = Path(__file__).resolve().parents[1] / "bench-results" / "metrics_rollup.json"
FIRST_DAY = date(2026, 1, 5)
THIRD_BRAND_SHARE = 0.2
SERIES = (
    ("transfer_count", None),
    ("transfer_count", "bench01"),
    ("transfer_settlement_value", "bench01"),
    ("time_to_credit_p95_ms", "bench01"),
    ("links_new", "bench01"),
    ("active_members_30d", None),
    ("net_position_30d", "bench01"),
)
TRANSFER_COLUMNS = (
    "transfer_id, kind, state, source_partner_id, destination_partner_id, cmid, source_ppid, "
    "destination_ppid, source_points, destination_points, bonus_points, currency, "
    "settlement_amount_minor, fee_minor, agreement_id, agreement_version, created_at_us, "
    "timeout_at_us, resolved_at_us, reject_reason, business_day"
)


@dataclass(frozen=True)
class Options:
    transfers: int
    members: int
    days: int
    partners: int
    queries: int
    seed: int


@dataclass
class Results:
    options: Options
    machine: str
    seed_s: float = 0.0
    fold_ms: list[float] = field(default_factory=list)
    series_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    cells: int = 0


def partners(count: int) -> list[str]:
    return [f"bench{n:02d}" for n in range(1, count + 1)]


def day_of(index: int) -> date:
    return FIRST_DAY + timedelta(days=index)


def transfer_rows(options: Options, calendar: CoalitionCalendar) -> Iterator[tuple[object, ...]]:
    rng = random.Random(options.seed)
    names = partners(options.partners)
    per_day = options.transfers // options.days
    for index in range(per_day * options.days):
        day = day_of(index // per_day)
        start = calendar.cutoff_us(day - timedelta(days=1))
        source = rng.randrange(len(names))
        destination = (source + 1 + rng.randrange(len(names) - 1)) % len(names)
        created = start + rng.randrange(80_000) * 1_000_000
        points = rng.randrange(1, 200) * 1000
        yield (
            f"tr_{index:012d}",
            "transfer",
            "completed",
            names[source],
            names[destination],
            f"cm_{rng.randrange(options.members):08d}",
            "pp_s",
            "pp_d",
            points,
            points * 3 // 4,
            0,
            "USD",
            rng.randrange(50, 500_000),
            0,
            "rt_bench",
            1,
            created,
            created + 900_000_000,
            created + rng.randrange(200, 120_000) * 1000,
            "",
            day.isoformat(),
        )


def seed(url: str, options: Options, calendar: CoalitionCalendar) -> float:
    started = time.perf_counter()
    names = partners(options.partners)
    with psycopg.connect(libpq_url(url)) as connection, connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO partners (partner_id, display_name, kind, program_code, created_at_us)"
            " VALUES (%s, %s, 'other', %s, 0)",
            [(p, p, p.upper()) for p in names],
        )
        with cursor.copy("COPY members (cmid, created_at_us) FROM STDIN") as copy:
            for member in range(options.members):
                copy.write_row((f"cm_{member:08d}", 0))
        with cursor.copy("COPY ppids (ppid, partner_id, cmid, created_at_us) FROM STDIN") as copy:
            for member in range(options.members):
                copy.write_row(
                    (f"pp_{member:08d}_0", names[member % len(names)], f"cm_{member:08d}", 0)
                )
        with cursor.copy(f"COPY transfers ({TRANSFER_COLUMNS}) FROM STDIN") as copy:
            for row in transfer_rows(options, calendar):
                copy.write_row(row)
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE) transfers, members, ppids")
    return time.perf_counter() - started


def link_plan(options: Options) -> dict[int, list[tuple[str, str, str]]]:
    """Day → new ppids (ppid, partner, cmid): every member links once, a fifth twice."""
    rng = random.Random(options.seed + 1)
    names = partners(options.partners)
    plan: dict[int, list[tuple[str, str, str]]] = {}
    for member in range(options.members):
        home = member % len(names)
        others = [p for i, p in enumerate(names) if i != home]
        brands = rng.sample(others, 2 if rng.random() < THIRD_BRAND_SHARE else 1)
        day = rng.randrange(options.days)
        for number, brand in enumerate(brands, 1):
            when = min(day + (number - 1) * rng.randrange(1, 30), options.days - 1)
            plan.setdefault(when, []).append(
                (f"pp_{member:08d}_{number}", brand, f"cm_{member:08d}")
            )
    return plan


def add_ppids(url: str, rows: list[tuple[str, str, str]]) -> None:
    """The brands members link at on one day: their ppids there join their cmid."""
    copy_sql = "COPY ppids (ppid, partner_id, cmid, created_at_us) FROM STDIN"
    with (
        psycopg.connect(libpq_url(url)) as connection,
        connection.cursor() as cursor,
        cursor.copy(copy_sql) as copy,
    ):
        for row in rows:
            copy.write_row((*row, 0))


def scalar(connection: psycopg.Connection[tuple[int]], sql: str) -> int:
    row = connection.execute(sql).fetchone()
    assert row is not None, "an aggregate returns a row"
    return int(row[0])


def fold_days(url: str, options: Options, calendar: CoalitionCalendar, results: Results) -> None:
    engine = create_database_engine(url)
    plan = link_plan(options)
    try:
        for index in range(options.days):
            add_ppids(url, plan.get(index, []))
            started = time.perf_counter()
            with Session(engine) as session, session.begin():
                analytics.fold_day(
                    SqlMetricsRepository(session), calendar, day_of(index).isoformat(), 0
                )
            results.fold_ms.append((time.perf_counter() - started) * 1000)
            if (index + 1) % 10 == 0:
                print(f"  folded {index + 1} days, last {results.fold_ms[-1]:.0f} ms", flush=True)
        with psycopg.connect(libpq_url(url), autocommit=True) as connection:
            connection.execute("VACUUM (ANALYZE) metric_cells")
            results.cells = scalar(connection, "SELECT count(*) FROM metric_cells")
            total = scalar(
                connection, "SELECT sum(value) FROM metric_cells WHERE metric = 'transfer_count'"
            )
        expected = options.transfers // options.days * options.days
        if total != expected:
            raise SystemExit(f"rolled-up transfer count {total} != {expected} transfers")
    finally:
        engine.dispose()


def time_series(url: str, options: Options, results: Results) -> None:
    engine = create_database_engine(url)
    last = day_of(options.days - 1)
    start = last - timedelta(days=89)
    try:
        for metric, viewer in SERIES:
            query = analytics.SeriesQuery(metric, start.isoformat(), last.isoformat(), "day")
            timings = []
            for _ in range(options.queries):
                began = time.perf_counter()
                with Session(engine) as session:
                    analytics.metric_series(SqlMetricsRepository(session), viewer, query)
                timings.append((time.perf_counter() - began) * 1000)
            timings.sort()
            results.series_ms[f"{metric} as {viewer or 'operator'}"] = {
                "p50": statistics.median(timings),
                "p95": timings[max(int(len(timings) * 0.95) - 1, 0)],
            }
    finally:
        engine.dispose()


def print_table(results: Results) -> None:
    folds = sorted(results.fold_ms)
    print(f"\nseeded in {results.seed_s:.1f} s; {results.cells:,} day cells after the folds")
    print(
        f"fold per day: p50 {statistics.median(folds):.0f} ms, "
        f"p95 {folds[int(len(folds) * 0.95) - 1]:.0f} ms, max {folds[-1]:.0f} ms, "
        f"first {results.fold_ms[0]:.0f} ms"
    )
    print(f"{'90-day series (day granularity)':<48} {'p50 ms':>8} {'p95 ms':>8}")
    for name, timing in results.series_ms.items():
        print(f"{name:<48} {timing['p50']:>8.1f} {timing['p95']:>8.1f}")


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--partners", type=int, default=10)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.days < 90 or args.partners < 2:
        parser.error("a 90-day series needs --days 90 or more, and pairs need 2 partners")
    return Options(args.transfers, args.members, args.days, args.partners, args.queries, args.seed)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    calendar = CoalitionCalendar()
    results = Results(options, f"{platform.machine()} {platform.python_version()}")
    with throwaway_database(admin_url()) as url:
        results.seed_s = seed(url, options, calendar)
        print(f"seeded in {results.seed_s:.1f} s", flush=True)
        fold_days(url, options, calendar, results)
        time_series(url, options, results)
    print_table(results)
    RESULTS_PATH.parent.mkdir(exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(asdict(results), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
