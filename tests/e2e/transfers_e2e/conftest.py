"""The reference programs on the real hub, on a real or a moved clock; the ledger checked clean
after every test."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from coalition.keys import SigningKey
from exchange.adapters.memory import FixedClock
from exchange.adapters.sql.ledger_check import check_ledger
from exchange.config import Settings
from partners.programs.program import LoyaltyProgram
from tests.e2e.transfers_e2e.support import TIMEOUT_S, clock_time, noon_today
from tests.support.coalition import TestCoalition
from tests.support.programs import ClockedCoalition, brand_programs, clocked_coalition
from tests.support.transfers import agree, terms


@pytest.fixture(autouse=True)
def ledger_checks_clean(engine: Engine) -> Iterator[None]:
    yield
    assert check_ledger(engine) == []


@pytest.fixture
def programs(coalition: TestCoalition, tmp_path: Path) -> dict[str, LoyaltyProgram]:
    """The three brands; skyway → harbor at the standard terms, in force from now."""
    programs = brand_programs(coalition, tmp_path / "programs")
    agree(programs["skyway"], programs["harbor"], terms(datetime.now(UTC)))
    return programs


@pytest.fixture
def clock() -> FixedClock:
    return noon_today()


@pytest.fixture
def clocked(
    settings: Settings, hub_key: SigningKey, engine: Engine, clock: FixedClock
) -> Iterator[ClockedCoalition]:
    """A hub on `clock` whose transfers time out after TIMEOUT_S."""
    short = dataclasses.replace(settings, transfer_timeout_s=TIMEOUT_S)
    with clocked_coalition(short, hub_key, engine, clock) as coalition:
        yield coalition


@pytest.fixture
def clocked_programs(
    clocked: ClockedCoalition, clock: FixedClock, tmp_path: Path
) -> dict[str, LoyaltyProgram]:
    programs = brand_programs(clocked, tmp_path / "programs")
    agree(programs["skyway"], programs["harbor"], terms(clock_time(clock)))
    return programs
