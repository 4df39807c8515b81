"""An in-memory hub with agreed rates, and a member linked at skyway and harbor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.in_memory_hub import HARBOR, ORBIT, SKYWAY, InMemoryHub
from tests.unit.transfer_handlers.support import Member


@pytest.fixture
def hub() -> Iterator[InMemoryHub]:
    """Skyway → harbor terms agreed; after every test the ledger must check clean."""
    hub = InMemoryHub()
    hub.add_partners(SKYWAY, HARBOR, ORBIT)
    hub.agree_rate(SKYWAY, HARBOR)
    yield hub
    assert hub.ledger_problems() == []


@pytest.fixture
def member(hub: InMemoryHub) -> Member:
    return Member(*hub.linked_member(SKYWAY, HARBOR))
