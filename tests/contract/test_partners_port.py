"""PartnerRepository: partners, their programme codes and their signing keys."""

from __future__ import annotations

from dataclasses import replace

import pytest

from exchange.domain.partners import KeyState
from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from tests.contract.support import (
    ALPHA,
    BRAVO,
    CHARLIE,
    CONFLICT,
    T0,
    commit,
    contend,
    partner,
    partner_key,
    read,
    seed_partners,
)

COVERS = {
    "PartnerRepository.get",
    "PartnerRepository.lock",
    "PartnerRepository.list_after",
    "PartnerRepository.add",
    "PartnerRepository.program_exists",
    "PartnerRepository.keys",
    "PartnerRepository.active_keys",
    "PartnerRepository.get_key",
    "PartnerRepository.add_key",
    "PartnerRepository.save_key",
}


def test_get_round_trips_a_partner_and_misses_an_unknown_one(
    uow_factory: UnitOfWorkFactory,
) -> None:
    alpha = partner(ALPHA, created_at_us=T0 + 7)
    commit(uow_factory, lambda uow: uow.partners.add(alpha))
    assert read(uow_factory, lambda uow: uow.partners.get(ALPHA)) == alpha
    assert read(uow_factory, lambda uow: uow.partners.get("nobody")) is None


def test_add_refuses_a_second_partner_id(uow_factory: UnitOfWorkFactory) -> None:
    commit(uow_factory, lambda uow: uow.partners.add(partner(ALPHA)))
    twin = replace(partner(ALPHA), program_code="OTHER_CODE")
    with pytest.raises(CONFLICT), uow_factory() as uow:
        uow.partners.add(twin)


def test_add_refuses_a_second_partner_with_one_programme_code(
    uow_factory: UnitOfWorkFactory,
) -> None:
    commit(uow_factory, lambda uow: uow.partners.add(partner(ALPHA)))
    same_code = replace(partner(BRAVO), program_code=partner(ALPHA).program_code)
    with pytest.raises(CONFLICT), uow_factory() as uow:
        uow.partners.add(same_code)


def test_program_exists(uow_factory: UnitOfWorkFactory) -> None:
    commit(uow_factory, lambda uow: uow.partners.add(partner(ALPHA)))
    assert read(uow_factory, lambda uow: uow.partners.program_exists("ALPHA_PTS"))
    assert not read(uow_factory, lambda uow: uow.partners.program_exists("BRAVO_PTS"))


def test_list_after_pages_by_partner_id(uow_factory: UnitOfWorkFactory) -> None:
    seed_partners(uow_factory, CHARLIE, ALPHA, BRAVO)

    def page(after: str, limit: int) -> list[str]:
        found = read(uow_factory, lambda uow: uow.partners.list_after(after, limit))
        return [p.partner_id for p in found]

    assert page("", 2) == [ALPHA, BRAVO]
    assert page(BRAVO, 2) == [CHARLIE], "strictly after the position"
    assert page("b", 10) == [BRAVO, CHARLIE]
    assert page(CHARLIE, 10) == []
    assert page("", 0) == []


def test_keys_are_every_key_of_the_partner_oldest_first(uow_factory: UnitOfWorkFactory) -> None:
    seed_partners(uow_factory, ALPHA, BRAVO)
    second, first = partner_key("k2", ALPHA, T0 + 2), partner_key("k1", ALPHA, T0 + 1)
    tie = partner_key("k0", ALPHA, T0 + 2)  # same instant as k2: ordered by key id
    revoked = replace(first, state=KeyState.REVOKED, revoked_at_us=T0 + 5)

    def add(uow: UnitOfWork) -> None:
        for key in (second, first, tie, partner_key("kb", BRAVO)):
            uow.partners.add_key(key)
        uow.partners.save_key(revoked)

    commit(uow_factory, add)
    assert read(uow_factory, lambda uow: uow.partners.keys(ALPHA)) == [revoked, tie, second]
    assert read(uow_factory, lambda uow: uow.partners.keys("nobody")) == []


def test_active_keys_leave_out_revoked_keys_and_partners_without_any(
    uow_factory: UnitOfWorkFactory,
) -> None:
    seed_partners(uow_factory)
    keys = [partner_key("k1", ALPHA, T0 + 1), partner_key("k2", ALPHA, T0 + 2)]
    bravo_key = partner_key("kb", BRAVO)

    def add(uow: UnitOfWork) -> None:
        for key in (*keys, bravo_key):
            uow.partners.add_key(key)
        uow.partners.save_key(replace(bravo_key, state=KeyState.REVOKED, revoked_at_us=T0))

    commit(uow_factory, add)
    found = read(uow_factory, lambda uow: uow.partners.active_keys([ALPHA, BRAVO, CHARLIE]))
    assert found == {ALPHA: keys}
    assert read(uow_factory, lambda uow: uow.partners.active_keys([])) == {}


def test_get_key_round_trips_and_misses(uow_factory: UnitOfWorkFactory) -> None:
    seed_partners(uow_factory, ALPHA)
    key = partner_key("k1", ALPHA)
    commit(uow_factory, lambda uow: uow.partners.add_key(key))
    assert read(uow_factory, lambda uow: uow.partners.get_key("k1")) == key
    assert read(uow_factory, lambda uow: uow.partners.get_key("k9")) is None


@pytest.mark.parametrize("clash", ["key_id", "public_key", "unknown_partner"])
def test_add_key_refuses_clashes(uow_factory: UnitOfWorkFactory, clash: str) -> None:
    seed_partners(uow_factory, ALPHA)
    first = partner_key("k1", ALPHA)
    commit(uow_factory, lambda uow: uow.partners.add_key(first))
    refused = {
        "key_id": partner_key("k1", ALPHA),
        "public_key": replace(partner_key("k2", ALPHA), public_key=first.public_key),
        "unknown_partner": partner_key("k3", "nobody"),
    }[clash]
    with pytest.raises(CONFLICT), uow_factory() as uow:
        uow.partners.add_key(refused)


def test_save_key_changes_only_the_rotation_state(uow_factory: UnitOfWorkFactory) -> None:
    seed_partners(uow_factory, ALPHA)
    key = partner_key("k1", ALPHA)
    commit(uow_factory, lambda uow: uow.partners.add_key(key))
    changed = replace(
        key, state=KeyState.REVOKED, revoked_at_us=T0 + 9, public_key=b"x" * 32, created_at_us=1
    )
    commit(uow_factory, lambda uow: uow.partners.save_key(changed))
    expected = replace(key, state=KeyState.REVOKED, revoked_at_us=T0 + 9)
    assert read(uow_factory, lambda uow: uow.partners.get_key("k1")) == expected


def test_lock_holds_the_partner_until_the_holder_commits(uow_factory: UnitOfWorkFactory) -> None:
    seed_partners(uow_factory, ALPHA)

    def locked_keys(uow: UnitOfWork) -> list[str]:
        uow.partners.lock(ALPHA)
        return [key.key_id for key in uow.partners.keys(ALPHA)]

    waited, seen = contend(
        uow_factory,
        hold=lambda uow: uow.partners.lock(ALPHA),
        attempt=locked_keys,
        before_release=lambda uow: uow.partners.add_key(partner_key("k1", ALPHA)),
    )
    assert waited
    assert seen == ["k1"], "after the lock, the holder's committed key is seen"
