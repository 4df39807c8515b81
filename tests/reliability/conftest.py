"""Reliability suite (`make test-reliability`): a run-wide tally printed as its summary.

Tests add what they checked, e.g. `reliability_tally.add("crashes survived", 1)`; the
terminal summary prints every figure once the run ends, so the note quotes real counts.
"""

from __future__ import annotations

from collections import Counter

import pytest

_TALLY: Counter[str] = Counter()


class ReliabilityTally:
    def add(self, figure: str, count: int = 1) -> None:
        _TALLY[figure] += count


@pytest.fixture(scope="session")
def reliability_tally() -> ReliabilityTally:
    return ReliabilityTally()


# What the run must show first (issue 18): the faults survived and what was counted.
HEADLINE = (
    ("hub SIGKILLs under load", "hub crashes survived (SIGKILL)"),
    ("backend terminations mid-call", "database backends terminated mid-call"),
    ("database connection cuts", "database connection cuts under load"),
    ("fuzz cases", "fuzz cases run"),
    ("lost", "lost"),
    ("duplicated", "duplicated"),
    ("INTERNAL", "INTERNAL answers"),
)
WIDTH = 64


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _TALLY:
        return
    terminalreporter.section("reliability summary")
    for label, figure in HEADLINE:
        shown = f"{_TALLY[figure]:>10,}" if figure in _TALLY else "   not run"
        terminalreporter.write_line(f"{label:<{WIDTH}} {shown}")
    terminalreporter.write_line("")
    for figure, count in sorted(_TALLY.items()):
        terminalreporter.write_line(f"{figure:<{WIDTH}} {count:>10,}")
