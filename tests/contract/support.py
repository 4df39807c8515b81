"""Builders and helpers shared by the contract tests; nothing here knows which backend runs."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from sqlalchemy.exc import IntegrityError

from exchange.adapters.memory import FIXED_CLOCK_START_US
from exchange.domain.events import FeedEvent, StoredEvent
from exchange.domain.members import MemberId
from exchange.domain.partners import KeyState, Partner, PartnerKey, PartnerKind
from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory, WriteConflict
from exchange.domain.transfers import Quote, Transfer, TransferKind, TransferState

T = TypeVar("T")

T0 = FIXED_CLOCK_START_US
SECOND_US = 1_000_000
ALPHA, BRAVO, CHARLIE = "alpha", "bravo", "charlie"
# How long a second unit of work is given to get past a first one that holds a lock.
CONTEND_WAIT_S = 0.3
CONTEND_JOIN_S = 15.0


class PlainEncoder:
    """An EventEncoder standing in for the API layer: the payload is the event's repr."""

    def __call__(
        self, event: FeedEvent, *, event_id: str, partner_id: str, sequence: int, at_us: int
    ) -> StoredEvent:
        payload = repr(event).encode()
        return StoredEvent(
            event_id, partner_id, sequence, type(event).__name__, at_us, payload, "k1", b"sig"
        )


def commit(factory: UnitOfWorkFactory, call: Callable[[UnitOfWork], T]) -> T:
    with factory() as uow:
        result = call(uow)
        uow.commit()
    return result


def read(factory: UnitOfWorkFactory, call: Callable[[UnitOfWork], T]) -> T:
    """In a unit of work that is never committed."""
    with factory() as uow:
        return call(uow)


def partner(partner_id: str, created_at_us: int = T0) -> Partner:
    return Partner(
        partner_id,
        partner_id.title(),
        PartnerKind.OTHER,
        f"{partner_id.upper()}_PTS",
        created_at_us,
    )


def partner_key(key_id: str, partner_id: str, created_at_us: int = T0) -> PartnerKey:
    return PartnerKey(key_id, partner_id, os.urandom(32), KeyState.ACTIVE, created_at_us)


def seed_partners(factory: UnitOfWorkFactory, *partner_ids: str) -> None:
    """Partners (alpha, bravo and charlie unless named), each with its feed."""

    def add(uow: UnitOfWork) -> None:
        for partner_id in partner_ids or (ALPHA, BRAVO, CHARLIE):
            uow.partners.add(partner(partner_id))
            uow.events.create_feed(partner_id)

    commit(factory, add)


def seed_member(factory: UnitOfWorkFactory, cmid: str, **ppids: str) -> None:
    """A member, its data key, and its ppid at each named partner (partner=ppid)."""

    def add(uow: UnitOfWork) -> None:
        uow.members.add_member(cmid, T0)
        uow.vault.create_key(cmid)
        for partner_id, ppid in ppids.items():
            uow.members.add_ppid(MemberId(ppid, partner_id, cmid), T0)

    commit(factory, add)


def quote(quote_id: str, cmid: str, **changes: Any) -> Quote:
    base = Quote(
        quote_id=quote_id,
        source_partner_id=ALPHA,
        destination_partner_id=BRAVO,
        cmid=cmid,
        source_ppid="pa",
        destination_ppid="pb",
        agreement_id="ra1",
        agreement_version=1,
        source_points=1000,
        destination_points=750,
        bonus_points=0,
        currency="USD",
        settlement_amount_minor=300,
        fee_minor=3,
        created_at_us=T0,
        expires_at_us=T0 + 60 * SECOND_US,
        payload=b"payload",
        signature=b"signature",
    )
    return replace(base, **changes)


def transfer(transfer_id: str, cmid: str, **changes: Any) -> Transfer:
    base = Transfer(
        transfer_id=transfer_id,
        kind=TransferKind.TRANSFER,
        state=TransferState.PENDING,
        source_partner_id=ALPHA,
        destination_partner_id=BRAVO,
        cmid=cmid,
        source_ppid="pa",
        destination_ppid="pb",
        source_points=1000,
        destination_points=750,
        bonus_points=0,
        currency="USD",
        settlement_amount_minor=300,
        fee_minor=3,
        agreement_id="ra1",
        agreement_version=1,
        quote_id=None,
        original_transfer_id=None,
        created_at_us=T0,
        timeout_at_us=T0 + 30 * SECOND_US,
    )
    return replace(base, **changes)


def contend(
    factory: UnitOfWorkFactory,
    hold: Callable[[UnitOfWork], object],
    attempt: Callable[[UnitOfWork], T],
    before_release: Callable[[UnitOfWork], object] = lambda uow: None,
) -> tuple[bool, T]:
    """Runs `attempt` in a second unit of work (another thread) while a first one holds what
    `hold` took; the first then runs `before_release` and commits.

    Returns (waited, result): `waited` is True if the attempt had not finished while the
    first unit of work was still open."""
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with factory() as other:
                results.append(attempt(other))
                other.commit()
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    with factory() as holder:
        hold(holder)
        thread.start()
        thread.join(CONTEND_WAIT_S)
        waited = thread.is_alive()
        before_release(holder)
        holder.commit()
    thread.join(CONTEND_JOIN_S)
    assert not thread.is_alive(), "the second unit of work never finished"
    if errors:
        raise errors[0]
    return waited, results[0]


# What a refused write raises: the fakes' ValueError or WriteConflict, the database's
# integrity error.
CONFLICT = (ValueError, IntegrityError, WriteConflict)


def fake_disagrees(request: pytest.FixtureRequest, backend: str, reason: str) -> None:
    """Runs the test on the fakes too, where it must fail: a known disagreement with SQL."""
    if backend == "memory":
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
