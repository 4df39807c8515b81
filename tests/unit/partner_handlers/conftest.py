"""A fixed clock, an in-memory unit of work and a partner's first key."""

from __future__ import annotations

import pytest

from coalition.keys import SigningKey
from exchange.adapters.memory import FixedClock, InMemoryUnitOfWorkFactory
from tests.unit.partner_handlers.support import OTHER_PARTNER_ID, PARTNER_ID, onboard


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def uow_factory() -> InMemoryUnitOfWorkFactory:
    return InMemoryUnitOfWorkFactory()


@pytest.fixture
def first_key(uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock) -> SigningKey:
    """The key `skyway` was onboarded with; `harbor` exists too, with its own key."""
    key = SigningKey.generate()
    onboard(uow_factory, clock, PARTNER_ID, "SKYWAY_MILES", key)
    onboard(uow_factory, clock, OTHER_PARTNER_ID, "HARBOR_POINTS", SigningKey.generate())
    return key
