"""An in-memory hub, a member linked at two partners, and both partners' ladders."""

from __future__ import annotations

import pytest

from tests.unit.in_memory_hub import HARBOR, ORBIT, SKYWAY, InMemoryHub
from tests.unit.tier_handlers.support import HARBOR_TIERS, SKYWAY_TIERS, publish


@pytest.fixture
def hub() -> InMemoryHub:
    hub = InMemoryHub()
    hub.add_partners(SKYWAY, HARBOR, ORBIT)
    return hub


@pytest.fixture
def member(hub: InMemoryHub) -> tuple[str, str]:
    """(skyway ppid, harbor ppid) of one member linked at both."""
    skyway_ppid, harbor_ppid = hub.enroll(SKYWAY), hub.enroll(HARBOR)
    hub.link((SKYWAY, skyway_ppid), (HARBOR, harbor_ppid))
    return skyway_ppid, harbor_ppid


@pytest.fixture
def ladders(hub: InMemoryHub) -> None:
    publish(hub, SKYWAY, SKYWAY_TIERS)
    publish(hub, HARBOR, HARBOR_TIERS)
