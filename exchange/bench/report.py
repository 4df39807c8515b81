"""The run's figures as a table and as JSON: every stage, the hub/baseline ratios, the targets."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exchange.bench.load import StageResult

# Stage keys, in the order a run measures and prints them, with their table labels.
STAGE_LABELS = {
    "echo": "baseline: bare gRPC echo",
    "raw_transactions": "baseline: raw psycopg transactions",
    "hub_quotes": "hub: signed CreateQuote",
    "hub_transfers": "hub: complete single transfers",
    "hub_transfers_half_peak": "hub: single transfers, half of peak",
    "hub_batch_transfers": "hub: complete batched transfers",
}


@dataclass(frozen=True)
class Ratio:
    name: str
    numerator: str
    denominator: str


RATIOS = (
    Ratio("quotes_per_echo_call", "hub_quotes", "echo"),
    Ratio("transfers_per_raw_transaction", "hub_transfers", "raw_transactions"),
    Ratio("batch_transfers_per_raw_transaction", "hub_batch_transfers", "raw_transactions"),
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
        lambda stages, _: _p99(stages, "hub_transfers_half_peak"),
    ),
)


def _p99(stages: dict[str, StageResult], name: str) -> float | None:
    stage = stages.get(name)
    return None if stage is None else stage.latency_ms(0.99)


def ratios(stages: dict[str, StageResult]) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    for ratio in RATIOS:
        top, bottom = stages.get(ratio.numerator), stages.get(ratio.denominator)
        usable = top is not None and bottom is not None and bottom.rate_per_s > 0
        found[ratio.name] = round(top.rate_per_s / bottom.rate_per_s, 3) if usable else None  # type: ignore[union-attr]
    return found


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
    cpu = stage.server_cpu_percent()
    return (
        f"{label:<38} {stage.rate_per_s:>10.1f} {stage.unit:<13}"
        f"{_cell(stage.latency_ms(0.5), 8, 2)} {_cell(stage.latency_ms(0.99), 8, 2)}"
        f" {stage.error_count:>7} {_cell(cpu, 9, 0)}"
    )


def table(report: dict[str, Any], stages: dict[str, StageResult]) -> str:
    header = f"{'stage':<38} {'rate/s':>10} {'unit':<13}{'p50 ms':>8} {'p99 ms':>8}"
    lines = [header + f" {'errors':>7} {'server CPU%':>9}"]
    lines += [
        stage_line(STAGE_LABELS[name], stages[name]) for name in STAGE_LABELS if name in stages
    ]
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
