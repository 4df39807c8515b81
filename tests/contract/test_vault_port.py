"""MemberVault: a data key per member; destroying it makes the member's sealed data unreadable."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from tests.contract.support import CONFLICT, T0, commit, read, seed_member, seed_partners

COVERS = {
    "MemberVault.create_key",
    "MemberVault.destroy_key",
    "MemberVault.seal",
    "MemberVault.open",
}


@pytest.fixture
def factory(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    seed_partners(uow_factory)
    seed_member(uow_factory, "m1")  # with its data key
    return uow_factory


def test_sealed_data_opens_in_a_later_unit_of_work(factory: UnitOfWorkFactory) -> None:
    sealed = read(factory, lambda uow: uow.vault.seal("m1", b"gold until 2025"))
    assert b"gold" not in sealed
    assert read(factory, lambda uow: uow.vault.open("m1", sealed)) == b"gold until 2025"


def test_sealed_data_is_bound_to_its_member(factory: UnitOfWorkFactory) -> None:
    seed_member(factory, "m2")
    sealed = read(factory, lambda uow: uow.vault.seal("m1", b"gold"))
    with pytest.raises(InvalidTag), factory() as uow:
        uow.vault.open("m2", sealed)


def test_a_destroyed_key_opens_nothing(factory: UnitOfWorkFactory) -> None:
    sealed = read(factory, lambda uow: uow.vault.seal("m1", b"gold"))
    commit(factory, lambda uow: uow.vault.destroy_key("m1"))
    assert read(factory, lambda uow: uow.vault.open("m1", sealed)) is None
    commit(factory, lambda uow: uow.vault.destroy_key("m1"))  # destroying twice is a no-op


def test_a_key_not_committed_is_not_kept(factory: UnitOfWorkFactory) -> None:
    commit(factory, lambda uow: uow.members.add_member("m2", T0))

    def create_and_seal(uow: UnitOfWork) -> bytes:
        uow.vault.create_key("m2")
        return uow.vault.seal("m2", b"x")

    sealed = read(factory, create_and_seal)
    assert read(factory, lambda uow: uow.vault.open("m2", sealed)) is None


@pytest.mark.parametrize("cmid", ["m1", "nobody"])
def test_create_key_refuses_a_second_key_or_an_unknown_member(
    factory: UnitOfWorkFactory, cmid: str
) -> None:
    with pytest.raises(CONFLICT), factory() as uow:
        uow.vault.create_key(cmid)
