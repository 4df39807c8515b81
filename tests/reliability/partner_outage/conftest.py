"""The hub on a clock the tests move, its restarts, the partners' reference programs and their
enrolled members; the ledger checked clean after each test."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from coalition.keys import SigningKey
from exchange.adapters.sql.ledger_check import check_ledger
from exchange.config import Settings
from partners.programs.program import LoyaltyProgram
from tests.reliability.partner_outage.support import (
    IDLE_S,
    OPENING_POINTS,
    SOURCES,
    TIMEOUT_S,
    HubRestarts,
    clock_time,
    noon_today,
)
from tests.support.programs import ClockedCoalition, brand_programs, clocked_coalition
from tests.support.transfers import Member, agree, linked_member, terms


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The hub's own sweeper and nightly settlement stay idle: the test decides when they run."""
    return dataclasses.replace(
        settings, timeout_sweep_interval_s=IDLE_S, settlement_check_interval_s=IDLE_S
    )


@pytest.fixture(autouse=True)
def ledger_checks_clean(engine: Engine) -> Iterator[None]:
    yield
    assert check_ledger(engine) == []


@pytest.fixture
def hub(settings: Settings, hub_key: SigningKey, engine: Engine) -> Iterator[ClockedCoalition]:
    clock = noon_today()
    timed = dataclasses.replace(settings, transfer_timeout_s=TIMEOUT_S)
    with clocked_coalition(timed, hub_key, engine, clock) as coalition:
        yield coalition


@pytest.fixture
def restarts(hub: ClockedCoalition, database_url: str) -> Iterator[HubRestarts]:
    restarts = HubRestarts(hub, database_url)
    yield restarts
    for started in restarts.started:
        started.stop(0)


@pytest.fixture
def programs(hub: ClockedCoalition, tmp_path: Path) -> dict[str, LoyaltyProgram]:
    """The three brands; skyway and orbit each agreed 1000:750 into harbor points."""
    programs = brand_programs(hub, tmp_path / "programs")
    for source in SOURCES:
        agree(programs[source], programs["harbor"], terms(clock_time(hub.clock)))
    return programs


@pytest.fixture
def enrol(programs: dict[str, LoyaltyProgram]) -> Callable[[int], list[Member]]:
    """Enrols `count` members at every brand, linked, with OPENING_POINTS at each source."""
    opening = {source: OPENING_POINTS for source in SOURCES}

    def members(count: int) -> list[Member]:
        return [linked_member(programs, str(index), opening) for index in range(count)]

    return members
