"""Reading the directory, paging through it, and refusals that change nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from coalition.keys import SigningKey
from exchange.adapters.memory import FixedClock, InMemoryUnitOfWorkFactory
from exchange.domain import limits
from exchange.domain.errors import DomainError, ErrorCode
from exchange.domain.ports import UnitOfWork
from exchange.services import partners
from tests.unit.partner_handlers.support import (
    PARTNER_ID,
    _proof_over_other_bytes,
    add_command,
    onboard,
    refused,
    register,
    registration,
    revoke,
)


def _seed(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, count: int
) -> dict[str, SigningKey]:
    keys = {f"partner{n}": SigningKey.generate() for n in range(1, count + 1)}
    # Added out of order: the directory pages by id, not by insertion.
    for partner_id in sorted(keys, reverse=True):
        onboard(uow_factory, clock, partner_id, partner_id.upper(), keys[partner_id])
    return keys


def _all_pages(uow: UnitOfWork, page_size: int) -> list[partners.DirectoryPage]:
    pages = [partners.list_partners(uow, "", page_size)]
    while (after := pages[-1].next_after_partner_id) is not None:
        assert len(pages) <= 10, "pagination does not end"
        pages.append(partners.list_partners(uow, after, page_size))
    return pages


def _directory(uow_factory: InMemoryUnitOfWorkFactory) -> list[tuple[object, ...]]:
    """Everything the partner handlers can change: partners and all their keys."""
    with uow_factory() as uow:
        entries = partners.list_partners(uow, "", limits.PAGE_SIZE_MAX).entries
        return [(e.partner, *uow.partners.keys(e.partner.partner_id)) for e in entries]


REFUSED_CALLS: dict[str, Callable[[UnitOfWork, FixedClock, SigningKey], object]] = {
    "add-duplicate-program": lambda uow, clock, _: partners.add_partner(
        uow, clock, add_command(partner_id="orbit")
    ),
    "add-invalid": lambda uow, clock, _: partners.add_partner(
        uow, clock, add_command(partner_id="Orbit")
    ),
    "register-bad-proof": lambda uow, clock, key: partners.register_key(
        uow, clock, _proof_over_other_bytes(SigningKey.generate())
    ),
    "revoke-last-key": lambda uow, clock, key: partners.revoke_key(
        uow, clock, PARTNER_ID, key.key_id
    ),
}


def test_get_partner_refuses_an_unknown_partner(uow_factory: InMemoryUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        error = refused(lambda: partners.get_partner(uow, "nobody"))
    assert error.code is ErrorCode.PARTNER_NOT_FOUND


def test_list_partners_pages_through_everyone_in_id_order(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    keys = _seed(uow_factory, clock, 5)

    with uow_factory() as uow:
        pages = _all_pages(uow, page_size=2)

    assert [[e.partner.partner_id for e in page.entries] for page in pages] == [
        ["partner1", "partner2"],
        ["partner3", "partner4"],
        ["partner5"],
    ]
    assert [page.next_after_partner_id for page in pages] == ["partner2", "partner4", None]
    for page in pages:
        for entry in page.entries:
            assert [k.key_id for k in entry.active_keys] == [keys[entry.partner.partner_id].key_id]


def test_list_partners_ends_without_an_empty_page_when_the_last_page_is_full(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    _seed(uow_factory, clock, 4)

    with uow_factory() as uow:
        pages = _all_pages(uow, page_size=2)

    assert [len(page.entries) for page in pages] == [2, 2]
    assert pages[-1].next_after_partner_id is None


def test_list_partners_omits_revoked_keys(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, first_key: SigningKey
) -> None:
    second = SigningKey.generate()
    register(uow_factory, clock, registration(second))
    revoke(uow_factory, clock, first_key.key_id)

    with uow_factory() as uow:
        page = partners.list_partners(uow, "", limits.PAGE_SIZE_MAX)

    entry = next(e for e in page.entries if e.partner.partner_id == PARTNER_ID)
    assert [key.key_id for key in entry.active_keys] == [second.key_id]


@pytest.mark.parametrize("call", REFUSED_CALLS.values(), ids=REFUSED_CALLS.keys())
def test_a_refused_call_leaves_the_directory_unchanged(
    uow_factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    first_key: SigningKey,
    call: Callable[[UnitOfWork, FixedClock, SigningKey], object],
) -> None:
    before = _directory(uow_factory)

    with uow_factory() as uow:
        refused(lambda: call(uow, clock, first_key))

    assert _directory(uow_factory) == before


def test_writes_before_a_refusal_in_the_same_unit_are_discarded(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, first_key: SigningKey
) -> None:
    before = _directory(uow_factory)
    second, third = SigningKey.generate(), SigningKey.generate()

    with pytest.raises(DomainError), uow_factory() as uow:
        partners.register_key(uow, clock, registration(second))
        partners.add_partner(uow, clock, add_command("orbit", "ORBIT_REWARDS"))
        partners.register_key(uow, clock, registration(third))

    assert _directory(uow_factory) == before


def test_a_unit_of_work_that_is_not_committed_writes_nothing(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, first_key: SigningKey
) -> None:
    before = _directory(uow_factory)

    with uow_factory() as uow:
        partners.register_key(uow, clock, registration(SigningKey.generate()))

    assert _directory(uow_factory) == before
