"""Reference programs on a running hub, and a hub whose clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from coalition.keys import SigningKey
from exchange.config import Settings
from partners.programs.program import LoyaltyProgram
from tests.support.coalition import TestCoalition
from tests.support.programs import (
    ClockedCoalition,
    brand_programs,
    clocked_coalition,
    publish_ladders,
    real_time_clock,
)


@pytest.fixture
def programs(coalition: TestCoalition, tmp_path: Path) -> dict[str, LoyaltyProgram]:
    programs = brand_programs(coalition, tmp_path / "programs")
    publish_ladders(programs)
    return programs


@pytest.fixture
def clocked(settings: Settings, hub_key: SigningKey, engine: Engine) -> Iterator[ClockedCoalition]:
    with clocked_coalition(settings, hub_key, engine, real_time_clock()) as coalition:
        yield coalition
