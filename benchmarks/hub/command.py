"""`coalition bench`: the hub against the machine's own limits, plugged into the `coalition`
command (entry point group "coalition.commands" in pyproject.toml)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from exchange.cli import CommandError, Handler


def register(commands: Any) -> dict[tuple[str, ...], Handler]:
    parser = commands.add_parser("bench", help="measure the hub against the machine's limits")
    parser.add_argument(
        "--database-url", required=True, help="a PostgreSQL server (scratch databases go there)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per stage (default 10)")
    parser.add_argument(
        "--out", type=Path, default=Path("bench-results/hub.json"), help="the JSON report"
    )
    parser.add_argument("--profile", action="store_true", help="sample the hub with py-spy")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    return {("bench",): cmd_bench}


def cmd_bench(args: argparse.Namespace) -> None:
    from benchmarks.hub.runner import BenchError, BenchOptions, run_bench

    options = BenchOptions(args.database_url, args.seconds, args.out, args.profile, args.clients)
    try:
        document = run_bench(options)
    except BenchError as error:
        raise CommandError(str(error)) from None
    except KeyboardInterrupt:
        raise CommandError(
            "bench interrupted; its servers and scratch databases are gone"
        ) from None
    if document["errors_total"]:
        raise CommandError(f"{document['errors_total']} operations failed; see {args.out}")
