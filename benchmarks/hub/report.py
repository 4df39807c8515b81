"""The run's figures as a table and as JSON: every stage, the hub/baseline ratios, the targets."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.hub.load import StageResult

# Stage keys, in the order the table prints them, with their labels: as a run measures them,
# except the stages of the hub with two processes (measured last), beside their one-process twins.
STAGE_LABELS = {
    "echo": "baseline: bare gRPC echo",
    "signed_echo": "baseline: signed echo (CreateQuote)",
    "raw_transactions": "baseline: raw psycopg transactions",
    "hub_quotes": "hub: signed CreateQuote",
    "hub_quotes_two_processes": "hub x2: signed CreateQuote",
    "hub_transfers": "hub: complete single transfers",
    "hub_transfers_two_processes": "hub x2: complete single transfers",
    "hub_transfers_half_peak": "hub: single transfers, half of peak",
    "hub_batch_transfers": "hub: complete batched transfers",
    "hub_unary_no_streams": "hub: GetHubKeys, no streams open",
    "hub_unary_streams_open": "hub: GetHubKeys, 1,000 streams open",
}


def _rate(stage: StageResult) -> float | None:
    return stage.rate_per_s


def _server_cpu_per_op(stage: StageResult) -> float | None:
    return stage.per_op(stage.server_cpu_s)


def _p99(stage: StageResult) -> float | None:
    return stage.latency_ms(0.99)


@dataclass(frozen=True)
class Ratio:
    """numerator / denominator of one figure of two stages (by default their rates)."""

    name: str
    numerator: str
    denominator: str
    figure: Callable[[StageResult], float | None] = _rate


RATIOS = (
    Ratio("quotes_per_echo_call", "hub_quotes", "echo"),
    Ratio("quotes_per_signed_echo_call", "hub_quotes", "signed_echo"),
    Ratio("signed_echo_calls_per_echo_call", "signed_echo", "echo"),
    Ratio("quote_server_cpu_per_signed_echo_call", "hub_quotes", "signed_echo", _server_cpu_per_op),
    Ratio("transfers_per_raw_transaction", "hub_transfers", "raw_transactions"),
    Ratio("batch_transfers_per_raw_transaction", "hub_batch_transfers", "raw_transactions"),
    Ratio("quotes_two_processes_per_one", "hub_quotes_two_processes", "hub_quotes"),
    Ratio("transfers_two_processes_per_one", "hub_transfers_two_processes", "hub_transfers"),
    Ratio(
        "unary_p99_streams_open_per_none", "hub_unary_streams_open", "hub_unary_no_streams", _p99
    ),
)


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    stage: str
    threshold: float
    at_least: bool  # False: the value must stay below the threshold
    value: Callable[[dict[str, StageResult], dict[str, float | None]], float | None]


TARGETS = (
    Target(
        "single_transfers",
        "complete single transfers/s >= 0.5 x raw transactions/s",
        "hub_transfers",
        0.5,
        True,
        lambda _, ratios: ratios["transfers_per_raw_transaction"],
    ),
    Target(
        "signed_quotes",
        "signed quotes/s >= 0.6 x bare echo calls/s",
        "hub_quotes",
        0.6,
        True,
        lambda _, ratios: ratios["quotes_per_echo_call"],
    ),
    Target(
        "batched_transfers",
        "complete batched transfers/s >= 5 x raw transactions/s",
        "hub_batch_transfers",
        5.0,
        True,
        lambda _, ratios: ratios["batch_transfers_per_raw_transaction"],
    ),
    Target(
        "half_peak_p99",
        "p99 of a single transfer at half of peak load < 25 ms",
        "hub_transfers_half_peak",
        25.0,
        False,
        lambda stages, _: _stage_p99(stages, "hub_transfers_half_peak"),
    ),
)


def _stage_p99(stages: dict[str, StageResult], name: str) -> float | None:
    stage = stages.get(name)
    return None if stage is None else _p99(stage)


def ratio_value(ratio: Ratio, stages: dict[str, StageResult]) -> float | None:
    top, bottom = stages.get(ratio.numerator), stages.get(ratio.denominator)
    if top is None or bottom is None:
        return None
    numerator, denominator = ratio.figure(top), ratio.figure(bottom)
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator, 3)


def ratios(stages: dict[str, StageResult]) -> dict[str, float | None]:
    return {ratio.name: ratio_value(ratio, stages) for ratio in RATIOS}


def target_results(
    stages: dict[str, StageResult], found: dict[str, float | None]
) -> list[dict[str, Any]]:
    """Each target with its value; it passes only if met AND its stage had no errors."""
    results = []
    for target in TARGETS:
        value = target.value(stages, found)
        stage = stages.get(target.stage)
        errors = stage.error_count if stage is not None else 0
        met = value is not None and (
            value >= target.threshold if target.at_least else value < target.threshold
        )
        results.append(
            {
                "name": target.name,
                "description": target.description,
                "value": None if value is None else round(value, 3),
                "threshold": target.threshold,
                "comparison": ">=" if target.at_least else "<",
                "stage_errors": errors,
                "passed": bool(met and errors == 0),
            }
        )
    return results


def document(
    stages: dict[str, StageResult], context: dict[str, Any], profiles: dict[str, Any]
) -> dict[str, Any]:
    found = ratios(stages)
    return {
        **context,
        "stages": {name: stages[name].summary() for name in STAGE_LABELS if name in stages},
        "ratios": found,
        "targets": target_results(stages, found),
        "errors_total": sum(stage.error_count for stage in stages.values()),
        "profiles": profiles,
    }


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def _cell(value: float | None, width: int, places: int = 1) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{places}f}"


def stage_line(label: str, stage: StageResult) -> str:
    cost = stage.cost_per_op()
    costs = [
        _cell(stage.server_cpu_percent(), 5, 0),
        _cell(cost["server_cpu_ms_per_op"], 7, 3),
        _cell(cost["database_cpu_ms_per_op"], 7, 3),
        _cell(cost["client_cpu_ms_per_op"], 7, 3),
        _cell(cost["statements_per_op"], 6, 1),
    ]
    return (
        f"{label:<38} {stage.rate_per_s:>9.1f} {stage.unit:<13}"
        f"{_cell(stage.latency_ms(0.5), 7, 2)} {_cell(stage.latency_ms(0.99), 7, 2)}"
        f" {stage.error_count:>6} " + " ".join(costs)
    )


TABLE_HEADER = (
    f"{'stage':<38} {'rate/s':>9} {'unit':<13}{'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
    f" {'srv%':>5} {'srv ms':>7} {'db ms':>7} {'cli ms':>7} {'stmts':>6}"
)
TABLE_FOOTNOTE = (
    "hub: one hub process; hub x2: `--processes 2` (srv: both workers and the supervisor)\n"
    "srv%: server CPU, % of one core; srv/db/cli ms: CPU milliseconds per item of the unit "
    "(server, database backends, load generators); stmts: statements per item"
)


def table(report: dict[str, Any], stages: dict[str, StageResult]) -> str:
    lines = [TABLE_HEADER]
    lines += [
        stage_line(STAGE_LABELS[name], stages[name]) for name in STAGE_LABELS if name in stages
    ]
    lines += [TABLE_FOOTNOTE, "", f"{'ratio':<58} {'value':>9}"]
    lines += [f"{ratio.name:<58} {_cell(report['ratios'][ratio.name], 9, 3)}" for ratio in RATIOS]
    lines += ["", f"{'target':<58} {'value':>9} {'needs':>9}  result"]
    for target in report["targets"]:
        needs = f"{target['comparison']} {target['threshold']:g}"
        result = "pass" if target["passed"] else "FAIL"
        if target["stage_errors"]:
            result += f" ({target['stage_errors']} errors)"
        lines.append(
            f"{target['description']:<58} {_cell(target['value'], 9, 3)} {needs:>9}  {result}"
        )
    errors = [
        f"  {name}: {label} x{count}"
        for name in STAGE_LABELS
        if name in stages
        for label, count in sorted(stages[name].errors.items())
    ]
    if errors:
        lines += ["", "errors:", *errors]
    return "\n".join(lines)
