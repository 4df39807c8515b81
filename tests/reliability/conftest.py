"""Reliability suite (`make test-reliability`): a run-wide tally printed as its summary.

Tests add what they checked, e.g. `reliability_tally.add("crashes survived", 1)`; the
terminal summary prints every figure once the run ends, so the note quotes real counts.
Scenarios run against one hub process and against several add their figures through
`reliability_tally.per_processes(N)`: the summary shows each figure's total and its share per N.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

# figure -> hub process count (0: the figure is not per process count) -> count
_TALLY: defaultdict[str, Counter[int]] = defaultdict(Counter)
UNSPLIT = 0


class ReliabilityTally:
    def __init__(self, processes: int = UNSPLIT) -> None:
        self.processes = processes

    def add(self, figure: str, count: int = 1) -> None:
        _TALLY[figure][self.processes] += count

    def per_processes(self, processes: int) -> ReliabilityTally:
        """The same tally, with what is added counted as figures of `processes` hub processes."""
        return ReliabilityTally(processes)


@pytest.fixture(scope="session")
def reliability_tally() -> ReliabilityTally:
    return ReliabilityTally()


# What the run must show first (issue 18): the faults survived and what was counted.
HEADLINE = (
    ("hub SIGKILLs under load", "hub crashes survived (SIGKILL)"),
    ("hub worker SIGKILLs (one of N, the others serving)", "hub workers killed (SIGKILL)"),
    ("backend terminations mid-call", "database backends terminated mid-call"),
    ("database connection cuts", "database connection cuts under load"),
    ("fuzz cases", "fuzz cases run"),
    ("lost", "lost"),
    ("duplicated", "duplicated"),
    ("INTERNAL", "INTERNAL answers"),
)
WIDTH = 64


def shown(counts: Counter[int]) -> str:
    """The total, then `N=1 a  N=2 b` when the figure was counted per process count."""
    total = f"{sum(counts.values()):>10,}"
    split = sorted(n for n in counts if n != UNSPLIT)
    return total + "".join(f"   N={n} {counts[n]:>8,}" for n in split)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _TALLY:
        return
    terminalreporter.section("reliability summary")
    for label, figure in HEADLINE:
        line = shown(_TALLY[figure]) if figure in _TALLY else "   not run"
        terminalreporter.write_line(f"{label:<{WIDTH}} {line}")
    terminalreporter.write_line("")
    for figure in sorted(_TALLY):
        terminalreporter.write_line(f"{figure:<{WIDTH}} {shown(_TALLY[figure])}")


def processes_label(processes: int) -> str:
    """A test id for a scenario run against `processes` hub processes."""
    return "1-process" if processes == 1 else f"{processes}-processes"
