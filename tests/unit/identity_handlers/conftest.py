"""An in-memory hub, and one with a member linked at three partners."""

from __future__ import annotations

import pytest

from tests.unit.in_memory_hub import HARBOR, ORBIT, SKYWAY, InMemoryHub


@pytest.fixture
def hub() -> InMemoryHub:
    hub = InMemoryHub()
    hub.add_partners(SKYWAY, HARBOR, ORBIT)
    return hub


@pytest.fixture
def trio(hub: InMemoryHub) -> dict[str, str]:
    """One member linked at all three partners: each partner's ppid for it."""
    ppids = {partner_id: hub.enroll(partner_id) for partner_id in (SKYWAY, HARBOR, ORBIT)}
    hub.link((SKYWAY, ppids[SKYWAY]), (HARBOR, ppids[HARBOR]))
    hub.link((SKYWAY, ppids[SKYWAY]), (ORBIT, ppids[ORBIT]))
    return ppids
