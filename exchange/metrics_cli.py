"""`coalition metrics`: one metric's series as a table, CSV or JSON (docs/metrics.md).

Without --partner the operator's view (every cell); with it, exactly what that partner's
GetMetricSeries call returns. Member counts below the release threshold are withheld either way.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from decimal import Decimal

from sqlalchemy.orm import Session

from exchange import operations
from exchange.adapters.sql.metrics_repository import SqlMetricsRepository
from exchange.config import ENVIRONMENT_NAMES, Settings
from exchange.domain.errors import DomainError
from exchange.domain.metrics import METRICS
from exchange.domain.metrics_release import Series
from exchange.services import analytics

FORMATS = ("table", "csv", "json")
COLUMNS = ("subject", "counterpart", "dimension", "start_date", "value")
SUPPRESSED = "suppressed"


def add_metrics_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("metrics", help="print a coalition measure's time series")
    parser.add_argument("--metric", required=True, help=f"one of: {', '.join(sorted(METRICS))}")
    parser.add_argument("--from", dest="start_date", required=True, help="YYYY-MM-DD")
    parser.add_argument("--to", dest="end_date", required=True, help="YYYY-MM-DD, inclusive")
    parser.add_argument("--granularity", default="day", help="day, week or month (default day)")
    parser.add_argument("--partner", default=None, help="show what this partner may see")
    parser.add_argument("--format", default="table", choices=FORMATS)
    parser.add_argument(
        "--database-url",
        help=f"SQLAlchemy URL (env {ENVIRONMENT_NAMES['database_url']}; "
        "default sqlite:///./coalition.db)",
    )


def cmd_metrics(args: argparse.Namespace) -> None:
    """Prints the series; a bad argument exits 1 naming every bad field."""
    settings = Settings.load(database_url=args.database_url)
    query = analytics.SeriesQuery(args.metric, args.start_date, args.end_date, args.granularity)
    with operations.database(settings) as engine, Session(engine) as session:
        try:
            metric, found = analytics.metric_series(
                SqlMetricsRepository(session), args.partner, query
            )
        except DomainError as error:
            print(f"coalition: error: {error.message}", file=sys.stderr)
            raise SystemExit(1) from None
    print(render(metric.name, metric.unit, found, args.format), end="")


def rows(found: list[Series]) -> list[tuple[str, str, str, str, str]]:
    return [
        (
            s.subject,
            s.counterpart,
            s.dimension,
            p.start_date.isoformat(),
            _text(p.value, p.suppressed),
        )
        for s in found
        for p in s.points
    ]


def _text(value: int | Decimal | None, suppressed: bool) -> str:
    if suppressed:
        return SUPPRESSED
    return "" if value is None else str(value)


def render(metric: str, unit: str, found: list[Series], output: str) -> str:
    if output == "json":
        return json.dumps(as_json(metric, unit, found), indent=2) + "\n"
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows(found))
        return buffer.getvalue()
    table = [COLUMNS, *rows(found)]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table]
    return f"{metric} ({unit})\n" + "\n".join(line.rstrip() for line in lines) + "\n"


def as_json(metric: str, unit: str, found: list[Series]) -> dict[str, object]:
    def value(v: int | Decimal | None) -> object:
        return str(v) if isinstance(v, Decimal) else v

    return {
        "metric": metric,
        "unit": unit,
        "series": [
            {
                "subject": s.subject,
                "counterpart": s.counterpart,
                "dimension": s.dimension,
                "points": [
                    {
                        "start_date": p.start_date.isoformat(),
                        "value": value(p.value),
                        "suppressed": p.suppressed,
                    }
                    for p in s.points
                ],
            }
            for s in found
        ],
    }
