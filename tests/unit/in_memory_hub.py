"""An in-memory hub for handler tests: the fakes, a fixed clock, and what each feed was sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from coalition.keys import SigningKey
from exchange.adapters.memory import (
    FIXED_CLOCK_START_US,
    FixedClock,
    InMemoryUnitOfWork,
    InMemoryUnitOfWorkFactory,
)
from exchange.config import FEE_BASIS_POINTS_DEFAULT, TRANSFER_TIMEOUT_S_DEFAULT
from exchange.domain import limits
from exchange.domain.errors import DomainError
from exchange.domain.events import FeedEvent, StoredEvent
from exchange.domain.partners import PartnerKind
from exchange.domain.rates import RateAgreement, RateTerms
from exchange.domain.tiers import DAY_US
from exchange.domain.transfers import Quote, Transfer
from exchange.services import identity, partners, rates, transfers
from exchange.services.transfer_engine import TransferRequest

T = TypeVar("T")

SKYWAY = "skyway"
HARBOR = "harbor"
ORBIT = "orbit"
PROGRAM_CODES = {SKYWAY: "SKYWAY_MILES", HARBOR: "HARBOR_POINTS", ORBIT: "ORBIT_REWARDS"}
TRANSFER_SETTINGS = transfers.TransferSettings(
    fee_basis_points=FEE_BASIS_POINTS_DEFAULT,
    timeout_s=TRANSFER_TIMEOUT_S_DEFAULT,
)
# 1000 : 750 at 0.0040 USD per destination point, in force since the day before the clock starts.
TERMS = RateTerms(
    source_units=1000,
    destination_units=750,
    minimum_source_points=1000,
    increment_source_points=1000,
    maximum_source_points=100_000,
    member_daily_cap_source_points=200_000,
    bonus_percent=0,
    bonus_start_us=None,
    bonus_end_us=None,
    currency="USD",
    price_per_destination_point=Decimal("0.0040"),
    effective_from_us=FIXED_CLOCK_START_US - DAY_US,
    effective_to_us=None,
)


def terms(**changes: Any) -> RateTerms:
    return replace(TERMS, **changes)


def seal_quote(quote: Quote) -> tuple[bytes, bytes]:
    """A QuoteSealer standing in for the API layer's signed payload."""
    return repr(quote).encode(), b"signature:" + quote.quote_id.encode()


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

    def attempt(self, call: Callable[[InMemoryUnitOfWork], T]) -> T:
        """Like the pipeline: commits a result, and a refusal that keeps its writes, then raises."""
        with self.uow_factory() as uow:
            try:
                result = call(uow)
            except DomainError as refusal:
                if refusal.keep_writes:
                    uow.commit()
                raise
            uow.commit()
        return result

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

    def agree_rate(
        self, source: str, destination: str, rate_terms: RateTerms = TERMS
    ) -> RateAgreement:
        """The source proposes source → destination terms and the destination accepts them."""
        proposed = self.commit(
            lambda uow: rates.propose_rate_agreement(
                uow, self.clock, source, source, destination, rate_terms
            )
        )
        return self.commit(
            lambda uow: rates.accept_rate_agreement(
                uow, self.clock, destination, proposed.agreement_id, proposed.version
            )
        )

    def linked_member(self, first: str, second: str) -> tuple[str, str]:
        """A member enrolled and linked at two partners: their ppid at each."""
        first_ppid, second_ppid = self.enroll(first), self.enroll(second)
        self.link((first, first_ppid), (second, second_ppid))
        return first_ppid, second_ppid

    def quote(self, caller: str, ppid: str, destination: str, points: int) -> Quote:
        request = TransferRequest(
            caller=caller, ppid=ppid, destination_partner_id=destination, source_points=points
        )
        return self.commit(
            lambda uow: transfers.create_quote(
                uow, self.clock, TRANSFER_SETTINGS, seal_quote, request
            )
        )

    def start_transfer(self, caller: str, quote_id: str) -> Transfer:
        return self.commit(
            lambda uow: transfers.create_transfer(
                uow, self.clock, TRANSFER_SETTINGS, caller, quote_id
            )
        )

    def transfer(self, transfer_id: str) -> Transfer:
        found = self.read(lambda uow: uow.transfers.get(transfer_id))
        assert found is not None
        return found

    def sweep(self) -> int:
        """One pass of the timeout sweeper, one transfer per unit of work; how many it voided."""
        due = self.read(
            lambda uow: transfers.timed_out_transfers(
                uow, self.clock, limits.TIMEOUT_SWEEP_BATCH_MAX
            )
        )
        return sum(
            self.commit(
                lambda uow, transfer_id=transfer_id: transfers.void_if_timed_out(
                    uow, self.clock, transfer_id
                )
            )
            for transfer_id in due
        )

    def ledger_problems(self) -> list[str]:
        """What the fake's ledger checker finds in the committed store."""
        return self.read(lambda uow: uow.ledger.check())

    def feed(self, partner_id: str) -> list[FeedEvent]:
        """The committed events of one partner's feed, in order, as the handlers sent them."""
        stored = self.read(lambda uow: uow.events.after(partner_id, 0, limits.EVENT_PAGE_SIZE_MAX))
        return [self.encoder.events[event.event_id] for event in stored]
