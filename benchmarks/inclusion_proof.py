"""GetInclusionProof's latency over a settled day of N records, and what storing nodes costs.

    .venv/bin/python -m benchmarks.inclusion_proof --records 10000 100000 1000000

For each N: a throwaway PostgreSQL database (COALITION_BENCH_POSTGRES_URL, else the local
default admin URL), one business day of N transfers seeded with COPY (the seeding of
benchmarks/settlement_day.py), settled with settle_day. Then:

- settle: the whole settle_day wall time, stored nodes included;
- nodes: what the stored nodes cost on their own, timed in a transaction that is rolled
  back: building them from the day's leaf hashes and COPYing them in (the leaves are read
  first, untimed here, since settle_day has them in hand); their row count and table size;
- proof: statements.inclusion_proof (the handler behind GetInclusionProof) for a seeded
  sample of the day's transfers, each in its own session as an RPC has: p50, p95, max;
- rehash: the path before nodes were stored (decode every record, fetch every leaf hash,
  rehash the tree) for a few of the same transfers, for comparison.

Every proof must verify against the day's root and every rehashed one must equal the stored
one; anything else is a wrong answer (exit 1). Prints a table, writes
bench-results/inclusion_proof.json, drops each database, also on error.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, delete, select, text
from sqlalchemy.orm import Session

from benchmarks import settlement_day as day_bench
from benchmarks import settlement_seed as seeding
from coalition import merkle
from exchange.adapters.sql import settlement_store, tree_store
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.settlement_tables import SettlementTreeNodeRow
from exchange.adapters.sql.tables import TransferRow
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.services import statements
from settlement.calendar import CoalitionCalendar

RESULTS_PATH = Path(__file__).resolve().parents[1] / "bench-results" / "inclusion_proof.json"
MIB = 1024 * 1024

Sample = tuple[str, str]  # (transfer id, a partner party to it)
Proof = tuple[int, int, list[bytes], bytes]


@dataclass(frozen=True)
class Options:
    sizes: list[int]
    proofs: int
    rehash_proofs: int
    members: int
    partners: int
    business_day: str
    seed: int
    output: Path


@dataclass(frozen=True)
class SizeResult:
    records: int
    seed_s: float
    settle_s: float
    nodes_build_and_copy_s: float
    nodes_share_of_settle: float
    node_rows: int
    nodes_table_mib: float
    leaves_table_mib: float
    proofs: int
    proof_p50_ms: float
    proof_p95_ms: float
    proof_max_ms: float
    proof_path_hashes_max: int
    rehash_proofs: int
    rehash_p50_ms: float
    nodes_query_plan: str
    proofs_verify: bool
    rehash_matches: bool


TABLE_COLUMNS = (
    ("records", "records", "{:,}"),
    ("settle s", "settle_s", "{:.2f}"),
    ("nodes s", "nodes_build_and_copy_s", "{:.2f}"),
    ("nodes/settle", "nodes_share_of_settle", "{:.1%}"),
    ("node rows", "node_rows", "{:,}"),
    ("nodes MiB", "nodes_table_mib", "{:.1f}"),
    ("proof p50 ms", "proof_p50_ms", "{:.2f}"),
    ("proof p95 ms", "proof_p95_ms", "{:.2f}"),
    ("proof max ms", "proof_max_ms", "{:.2f}"),
    ("rehash p50 ms", "rehash_p50_ms", "{:,.0f}"),
)


def samples(engine: Engine, business_day: str, count: int, seed: int) -> list[Sample]:
    query = select(TransferRow.transfer_id, TransferRow.destination_partner_id).where(
        TransferRow.business_day == business_day, TransferRow.state == "completed"
    )
    with engine.connect() as connection:
        rows = [(str(tid), str(party)) for tid, party in connection.execute(query)]
    return random.Random(seed).sample(rows, min(count, len(rows)))


def timed_nodes(engine: Engine, business_day: str) -> tuple[float, int]:
    """Building and COPYing the day's nodes again, rolled back: (seconds, rows)."""
    with Session(engine) as session:
        leaves = settlement_store.leaf_hashes(session, business_day)
        session.execute(
            delete(SettlementTreeNodeRow).where(SettlementTreeNodeRow.business_day == business_day)
        )
        started = time.perf_counter()
        tree_store.store_nodes(session, business_day, leaves)
        seconds = time.perf_counter() - started
        rows = session.scalar(
            select(text("count(*)"))
            .select_from(SettlementTreeNodeRow)
            .where(SettlementTreeNodeRow.business_day == business_day)
        )
        session.rollback()
    return seconds, int(rows or 0)


def table_mib(engine: Engine, table: str) -> float:
    with engine.connect() as connection:
        size = connection.execute(text(f"SELECT pg_total_relation_size('{table}')")).scalar()
    return int(size or 0) / MIB


def nodes_query_plan(engine: Engine, business_day: str, size: int) -> str:
    """EXPLAIN of the one query a proof makes for its nodes: it should be index scans."""
    keys = [k for pieces in merkle.audit_path_keys(size // 3, size) for k in pieces]
    query = tree_store.nodes_query(business_day, keys)
    if query is None:
        return "(no nodes to read)"
    compiled = query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        plan = connection.execute(text(f"EXPLAIN {compiled}")).scalars().all()
    return " | ".join(str(line).strip() for line in plan)


def proof(engine: Engine, business_day: str, sample: Sample) -> tuple[Proof, float]:
    transfer_id, party = sample
    started = time.perf_counter()
    with SqlUnitOfWorkFactory(engine)() as uow:
        answer = statements.inclusion_proof(uow, party, business_day, transfer_id)
    return answer, time.perf_counter() - started


def rehashed_proof(engine: Engine, business_day: str, sample: Sample) -> tuple[Proof, float]:
    """The answer as GetInclusionProof computed it before nodes were stored."""
    transfer_id, party = sample
    started = time.perf_counter()
    with SqlUnitOfWorkFactory(engine)() as uow:
        session = uow.session
        day = statements.settled(uow, business_day)
        line = next(
            line
            for line in statements.statement_lines(uow, party, business_day)
            if line.record.transfer_id == transfer_id
        )
        leaves = settlement_store.leaf_hashes(session, business_day)
        path = merkle.inclusion_proof(leaves, line.leaf_index)
    answer = (line.leaf_index, day.tree_size, path, line.record_bytes)
    return answer, time.perf_counter() - started


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure_size(options: Options, records: int) -> SizeResult:
    day_options = seeding.Options(
        records,
        options.members,
        options.partners,
        options.business_day,
        options.seed,
        options.output,
    )
    calendar = CoalitionCalendar()
    with seeding.throwaway_database(seeding.admin_url()) as url:
        seed_s = seeding.seed(url, day_options, calendar)
        engine = create_database_engine(url)
        try:
            return _measured(engine, options, day_options, calendar, seed_s)
        finally:
            engine.dispose()


def _measured(
    engine: Engine,
    options: Options,
    day_options: seeding.Options,
    calendar: CoalitionCalendar,
    seed_s: float,
) -> SizeResult:
    business_day = options.business_day
    settled, settle_s = day_bench.timed_settle(
        engine, calendar, day_options, "settle", traced=False
    )
    with engine.connect() as connection:
        connection.execute(text("ANALYZE settlement_leaves, settlement_tree_nodes"))
    nodes_s, node_rows = timed_nodes(engine, business_day)
    picked = samples(engine, business_day, options.proofs, options.seed)
    proofs = [proof(engine, business_day, sample) for sample in picked]
    root, size = settled.merkle_root, settled.tree_size
    verify = all(
        merkle.verify_inclusion(merkle.leaf_hash(record), index, tree, path, root) and tree == size
        for (index, tree, path, record), _s in proofs
    )
    rehashed = [rehashed_proof(engine, business_day, s) for s in picked[: options.rehash_proofs]]
    matches = all(old == new for (old, _o), (new, _n) in zip(rehashed, proofs, strict=False))
    latencies = [seconds * 1_000 for _answer, seconds in proofs]
    rehash_ms = [seconds * 1_000 for _answer, seconds in rehashed] or [0.0]
    print(f"{size:,} records: {len(proofs)} proofs, p50 {percentile(latencies, 0.5):.2f} ms")
    return SizeResult(
        records=size,
        seed_s=seed_s,
        settle_s=settle_s,
        nodes_build_and_copy_s=nodes_s,
        nodes_share_of_settle=nodes_s / settle_s,
        node_rows=node_rows,
        nodes_table_mib=table_mib(engine, "settlement_tree_nodes"),
        leaves_table_mib=table_mib(engine, "settlement_leaves"),
        proofs=len(proofs),
        proof_p50_ms=percentile(latencies, 0.5),
        proof_p95_ms=percentile(latencies, 0.95),
        proof_max_ms=max(latencies),
        proof_path_hashes_max=max(len(answer[2]) for answer, _s in proofs),
        rehash_proofs=len(rehashed),
        rehash_p50_ms=statistics.median(rehash_ms),
        nodes_query_plan=nodes_query_plan(engine, business_day, size),
        proofs_verify=verify,
        rehash_matches=matches,
    )


def print_table(results: list[SizeResult]) -> None:
    rows = [[fmt.format(asdict(r)[key]) for _title, key, fmt in TABLE_COLUMNS] for r in results]
    titles = [title for title, _key, _fmt in TABLE_COLUMNS]
    widths = [max(len(t), *(len(row[i]) for row in rows)) for i, t in enumerate(titles)]
    print()
    print("  ".join(t.rjust(w) for t, w in zip(titles, widths, strict=True)))
    for row in rows:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))
    print()
    for r in results:
        print(f"{r.records:,}: nodes query plan: {r.nodes_query_plan}")


def write_json(results: list[SizeResult], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "results": [asdict(r) for r in results],
        "python": platform.python_version(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {path}")


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--records", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--proofs", type=int, default=1_000)
    parser.add_argument("--rehash-proofs", type=int, default=3)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--partners", type=int, default=8)
    parser.add_argument("--business-day", default="2026-03-02")
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)
    if min(args.records) < 1 or args.proofs < 1 or args.rehash_proofs < 0:
        parser.error("needs at least 1 record and 1 proof")
    return Options(
        args.records,
        args.proofs,
        args.rehash_proofs,
        args.members,
        args.partners,
        args.business_day,
        args.seed,
        args.output,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    results = [measure_size(options, records) for records in options.sizes]
    print_table(results)
    write_json(results, options.output)
    if not all(r.proofs_verify and r.rehash_matches for r in results):
        print("WRONG ANSWER: a proof does not verify or differs from the rehashed one")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
