"""The in-memory store's rollup tables for the measures (memory.metrics_repository)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from exchange.domain.metrics import ProgrammeReport

CellKey = tuple[str, str, str, str, str]  # metric, day, subject, counterpart, dimension


@dataclass
class MetricTables:
    """The rollup tables of one in-memory store; copied table by table with it."""

    cells: dict[CellKey, int] = field(default_factory=dict)
    folded: dict[str, int] = field(default_factory=dict)
    links: dict[tuple[str, str], str] = field(default_factory=dict)
    activity: dict[tuple[str, str, str], str] = field(default_factory=dict)
    reports: dict[tuple[str, str], ProgrammeReport] = field(default_factory=dict)

    def __copy__(self) -> MetricTables:
        return MetricTables(*(copy.copy(table) for table in vars(self).values()))
