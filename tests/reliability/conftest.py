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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _TALLY:
        return
    terminalreporter.section("reliability summary")
    for figure, count in sorted(_TALLY.items()):
        terminalreporter.write_line(f"{figure:<48} {count:>10,}")
