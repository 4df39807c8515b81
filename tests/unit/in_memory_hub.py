"""An in-memory hub for handler tests: the fakes, a fixed clock, and what each feed was sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from coalition.keys import SigningKey
from exchange.adapters.memory import FixedClock, InMemoryUnitOfWork, InMemoryUnitOfWorkFactory
from exchange.domain import limits
from exchange.domain.errors import DomainError
from exchange.domain.events import FeedEvent, StoredEvent
from exchange.domain.partners import PartnerKind
from exchange.services import identity, partners

T = TypeVar("T")

SKYWAY = "skyway"
HARBOR = "harbor"
ORBIT = "orbit"
PROGRAM_CODES = {SKYWAY: "SKYWAY_MILES", HARBOR: "HARBOR_POINTS", ORBIT: "ORBIT_REWARDS"}


class RecordingEncoder:
    """An EventEncoder that keeps each event as the handler gave it, to be found by event id."""

    def __init__(self) -> None:
        self.events: dict[str, FeedEvent] = {}

    def __call__(
        self, event: FeedEvent, *, event_id: str, partner_id: str, sequence: int, at_us: int
    ) -> StoredEvent:
        self.events[event_id] = event
        payload = repr(event).encode()
        return StoredEvent(
            event_id, partner_id, sequence, type(event).__name__, at_us, payload, "test", b""
        )


class InMemoryHub:
    """Runs handlers in units of work the way the request pipeline does."""

    def __init__(self) -> None:
        self.clock = FixedClock()
        self.encoder = RecordingEncoder()
        self.uow_factory = InMemoryUnitOfWorkFactory(encoder=self.encoder, clock=self.clock)

    def commit(self, call: Callable[[InMemoryUnitOfWork], T]) -> T:
        with self.uow_factory() as uow:
            result = call(uow)
            uow.commit()
        return result

    def read(self, call: Callable[[InMemoryUnitOfWork], T]) -> T:
        with self.uow_factory() as uow:
            return call(uow)

    def refused(self, call: Callable[[InMemoryUnitOfWork], object]) -> DomainError:
        """The refusal of a call; like the pipeline, commits only a refusal that keeps writes."""
        with self.uow_factory() as uow:
            try:
                call(uow)
            except DomainError as refusal:
                if refusal.keep_writes:
                    uow.commit()
                return refusal
        pytest.fail("the call was not refused")

    def add_partners(self, *partner_ids: str) -> None:
        for partner_id in partner_ids:
            command = partners.AddPartner(
                partner_id,
                partner_id.title(),
                PartnerKind.OTHER,
                PROGRAM_CODES[partner_id],
                SigningKey.generate().public_key_bytes,
            )
            self.commit(lambda uow, command=command: partners.add_partner(uow, self.clock, command))

    def enroll(self, partner_id: str) -> str:
        return self.commit(lambda uow: identity.enroll_member(uow, self.clock, partner_id))

    def link_code(self, partner_id: str, ppid: str) -> str:
        issued = self.commit(
            lambda uow: identity.create_link_code(uow, self.clock, partner_id, ppid)
        )
        return issued.code

    def link(self, issuer: tuple[str, str], redeemer: tuple[str, str]) -> list[str]:
        """Links two (partner id, ppid) accounts: the issuer's code, typed in at the redeemer."""
        code = self.link_code(*issuer)
        partner_id, ppid = redeemer
        return self.commit(
            lambda uow: identity.redeem_link_code(uow, self.clock, partner_id, code, ppid)
        )

    def cmid(self, partner_id: str, ppid: str) -> str:
        member = self.read(lambda uow: uow.members.get_ppid(partner_id, ppid))
        assert member is not None
        return member.cmid

    def links(self, partner_id: str, ppid: str) -> list[str]:
        return self.read(lambda uow: identity.list_links(uow, partner_id, ppid))

    def feed(self, partner_id: str) -> list[FeedEvent]:
        """The committed events of one partner's feed, in order, as the handlers sent them."""
        stored = self.read(lambda uow: uow.events.after(partner_id, 0, limits.EVENT_PAGE_SIZE_MAX))
        return [self.encoder.events[event.event_id] for event in stored]
