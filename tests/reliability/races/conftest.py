"""The racing coalition (a short transfer timeout, a clean ledger checked after each test) and
the settling coalition on a clock the tests move."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from datetime import time as wall_time

import pytest
from sqlalchemy import Engine

from coalition.keys import SigningKey
from exchange.adapters.memory import FixedClock
from exchange.adapters.sql.ledger_check import check_ledger
from exchange.bootstrap import bootstrap
from exchange.config import Settings
from tests.reliability.races.support import IDLE_S, SETTLING_TIMEOUT_S, TIMEOUT_S, RacingCoalition
from tests.support.coalition import seed_partners
from tests.support.programs import ClockedCoalition, clocked_coalition
from tests.support.transfer_setup import OffsetClock, agree_rates


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The hub's background sweeper and nightly settlement stay idle: only racers run them."""
    return dataclasses.replace(
        settings, timeout_sweep_interval_s=IDLE_S, settlement_check_interval_s=IDLE_S
    )


@pytest.fixture(autouse=True)
def ledger_checks_clean(engine: Engine) -> Iterator[None]:
    yield
    assert check_ledger(engine) == []


@pytest.fixture
def racing(settings: Settings, hub_key: SigningKey, engine: Engine) -> Iterator[RacingCoalition]:
    """A hub whose transfers time out after TIMEOUT_S of its clock; skyway → harbor agreed."""
    clock = OffsetClock()
    hub = bootstrap(
        dataclasses.replace(settings, transfer_timeout_s=TIMEOUT_S),
        clock=clock,
        hub_key=hub_key,
        engine=engine,
    )
    keys = seed_partners(hub)
    hub.start()
    coalition = RacingCoalition(hub, keys, clock=clock)
    agree_rates(coalition.connection("skyway"), coalition.connection("harbor"))
    yield coalition
    coalition.close()
    hub.stop(0)


@pytest.fixture
def settling(settings: Settings, hub_key: SigningKey, engine: Engine) -> Iterator[ClockedCoalition]:
    """A hub at midday UTC today (its cut-off, midnight, is half a day either way) that
    settles a day as soon as it ends; skyway → harbor agreed."""
    noon = datetime.combine(datetime.now(UTC).date(), wall_time(12), tzinfo=UTC)
    clock = FixedClock(int(noon.timestamp()) * 1_000_000)
    timed = dataclasses.replace(
        settings, transfer_timeout_s=SETTLING_TIMEOUT_S, settlement_delay_s=0
    )
    with clocked_coalition(timed, hub_key, engine, clock) as coalition:
        agree_rates(coalition.connection("skyway"), coalition.connection("harbor"))
        yield coalition
