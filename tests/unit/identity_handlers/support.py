"""Helpers the identity handler tests share: redeeming a code, failure records, tier reports."""

from __future__ import annotations

import json
from collections.abc import Callable

from exchange.adapters.memory import InMemoryUnitOfWork
from exchange.domain.members import LinkCode, link_code_digest, normalize_link_code
from exchange.domain.tiers import Tier
from exchange.services import identity, tiers
from tests.unit.in_memory_hub import HARBOR, InMemoryHub

MICROSECONDS_PER_SECOND = 1_000_000
HARBOR_TIERS = (Tier("CLASSIC", "Classic", 1, 1), Tier("ELITE", "Elite", 2, 4))


def redeem(
    hub: InMemoryHub, partner_id: str, code: str, ppid: str
) -> Callable[[InMemoryUnitOfWork], list[str]]:
    return lambda uow: identity.redeem_link_code(uow, hub.clock, partner_id, code, ppid)


def stored_code(hub: InMemoryHub, code: str) -> LinkCode | None:
    digest = link_code_digest(normalize_link_code(code))
    return hub.read(lambda uow: uow.members.get_link_code(digest))


def failures(hub: InMemoryHub, partner_id: str) -> int:
    return hub.read(lambda uow: uow.members.link_failures_since(partner_id, 0))


def report_elite_at_harbor(hub: InMemoryHub, ppid: str) -> None:
    expires_at_us = hub.clock.now_us() + 3600 * MICROSECONDS_PER_SECOND
    hub.commit(lambda uow: tiers.publish_ladder(uow, hub.clock, HARBOR, HARBOR_TIERS, False))
    hub.commit(
        lambda uow: tiers.report_member_tier(uow, hub.clock, HARBOR, ppid, "ELITE", expires_at_us)
    )


def harbor_tier_report(uow: InMemoryUnitOfWork, cmid: str) -> dict[str, object] | None:
    sealed = uow.tiers.member_tier(cmid, HARBOR)
    opened = uow.vault.open(cmid, sealed) if sealed is not None else None
    return json.loads(opened) if opened is not None else None
