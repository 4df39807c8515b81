"""Registering keys (with proof of possession) and revoking them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from coalition.keys import SigningKey
from coalition.wire import key_registration_bytes
from exchange.adapters.memory import FixedClock, InMemoryUnitOfWorkFactory
from exchange.domain import limits
from exchange.domain.errors import ErrorCode, InvalidArgument
from exchange.domain.partners import KeyState, PartnerKey
from exchange.services import partners
from tests.unit.partner_handlers.support import (
    OTHER_PARTNER_ID,
    PARTNER_ID,
    _proof_over_other_bytes,
    committed_keys,
    refused,
    register,
    registration,
    revoke,
)


def _proof_by_another_key(key: SigningKey) -> partners.RegisterKey:
    other = SigningKey.generate()
    message = key_registration_bytes(partner_id=PARTNER_ID, public_key=key.public_key_bytes)
    return partners.RegisterKey(PARTNER_ID, key.public_key_bytes, other.sign(message))


def _proof_for_another_partner(key: SigningKey) -> partners.RegisterKey:
    stolen = registration(key, partner_id=OTHER_PARTNER_ID)
    return partners.RegisterKey(PARTNER_ID, stolen.public_key, stolen.proof_of_possession)


def _proof_missing(key: SigningKey) -> partners.RegisterKey:
    return partners.RegisterKey(PARTNER_ID, key.public_key_bytes, b"")


def test_register_key_adds_a_second_active_key(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, first_key: SigningKey
) -> None:
    clock.advance_s(60)
    second = SigningKey.generate()

    added = register(uow_factory, clock, registration(second))

    assert added == PartnerKey(
        second.key_id, PARTNER_ID, second.public_key_bytes, KeyState.ACTIVE, clock.now_us()
    )
    with uow_factory() as uow:
        entry = partners.get_partner(uow, PARTNER_ID)
    assert [key.key_id for key in entry.active_keys] == [first_key.key_id, second.key_id]


@pytest.mark.parametrize(
    "make_command",
    [_proof_by_another_key, _proof_for_another_partner, _proof_over_other_bytes, _proof_missing],
)
def test_register_key_refuses_an_invalid_proof_of_possession(
    uow_factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    first_key: SigningKey,
    make_command: Callable[[SigningKey], partners.RegisterKey],
) -> None:
    command = make_command(SigningKey.generate())
    with uow_factory() as uow:
        error = refused(lambda: partners.register_key(uow, clock, command))
    assert error.code is ErrorCode.PROOF_OF_POSSESSION_INVALID


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_register_key_refuses_a_public_key_of_the_wrong_length(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, first_key: SigningKey, length: int
) -> None:
    command = partners.RegisterKey(PARTNER_ID, bytes(length), bytes(64))
    with uow_factory() as uow:
        error = refused(lambda: partners.register_key(uow, clock, command))

    assert isinstance(error, InvalidArgument)
    assert [violation.field for violation in error.field_violations] == ["public_key"]


def test_register_key_refuses_a_third_active_key(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, first_key: SigningKey
) -> None:
    register(uow_factory, clock, registration(SigningKey.generate()))
    command = registration(SigningKey.generate())

    with uow_factory() as uow:
        error = refused(lambda: partners.register_key(uow, clock, command))

    assert error.code is ErrorCode.ACTIVE_KEYS_LIMIT_REACHED
    assert len(committed_keys(uow_factory, PARTNER_ID)) == limits.ACTIVE_KEYS_MAX


def test_register_key_refuses_to_reuse_a_revoked_key(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, first_key: SigningKey
) -> None:
    second = SigningKey.generate()
    register(uow_factory, clock, registration(second))
    revoke(uow_factory, clock, second.key_id)

    with uow_factory() as uow:
        error = refused(lambda: partners.register_key(uow, clock, registration(second)))

    assert error.code is ErrorCode.KEY_ALREADY_REGISTERED


def test_register_key_refuses_a_key_another_partner_holds(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, first_key: SigningKey
) -> None:
    command = registration(first_key, partner_id=OTHER_PARTNER_ID)
    with uow_factory() as uow:
        error = refused(lambda: partners.register_key(uow, clock, command))
    assert error.code is ErrorCode.KEY_ALREADY_REGISTERED


def test_revoke_key_marks_the_key_revoked_at_the_clock(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, first_key: SigningKey
) -> None:
    second = SigningKey.generate()
    register(uow_factory, clock, registration(second))
    clock.advance_s(3600)

    revoked = revoke(uow_factory, clock, first_key.key_id)

    assert revoked.state is KeyState.REVOKED
    assert revoked.revoked_at_us == clock.now_us()
    stored = {key.key_id: key for key in committed_keys(uow_factory, PARTNER_ID)}
    assert stored[first_key.key_id] == revoked
    with uow_factory() as uow:
        entry = partners.get_partner(uow, PARTNER_ID)
    assert [key.key_id for key in entry.active_keys] == [second.key_id]


def test_revoke_key_refuses_the_last_active_key(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, first_key: SigningKey
) -> None:
    with uow_factory() as uow:
        error = refused(lambda: partners.revoke_key(uow, clock, PARTNER_ID, first_key.key_id))
    assert error.code is ErrorCode.LAST_ACTIVE_KEY


def test_revoke_key_refuses_a_key_already_revoked(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, first_key: SigningKey
) -> None:
    register(uow_factory, clock, registration(SigningKey.generate()))
    revoke(uow_factory, clock, first_key.key_id)

    with uow_factory() as uow:
        error = refused(lambda: partners.revoke_key(uow, clock, PARTNER_ID, first_key.key_id))
    assert error.code is ErrorCode.KEY_ALREADY_REVOKED


@pytest.mark.parametrize("key_id", ["ed25519:0000000000000000", "harbor-key"])
def test_revoke_key_refuses_an_unknown_key(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, first_key: SigningKey, key_id: str
) -> None:
    register(uow_factory, clock, registration(SigningKey.generate()))
    with uow_factory() as uow:
        error = refused(lambda: partners.revoke_key(uow, clock, PARTNER_ID, key_id))
    assert error.code is ErrorCode.KEY_NOT_FOUND


def test_revoke_key_cannot_revoke_another_partners_key(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, first_key: SigningKey
) -> None:
    register(uow_factory, clock, registration(SigningKey.generate()))
    with uow_factory() as uow:
        error = refused(lambda: partners.revoke_key(uow, clock, OTHER_PARTNER_ID, first_key.key_id))
    assert error.code is ErrorCode.KEY_NOT_FOUND
    assert all(key.state is KeyState.ACTIVE for key in committed_keys(uow_factory, PARTNER_ID))


@pytest.mark.parametrize("key_id", ["", "k" * (limits.KEY_ID_CHARS_MAX + 1)])
def test_revoke_key_refuses_a_malformed_key_id(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, first_key: SigningKey, key_id: str
) -> None:
    with uow_factory() as uow:
        error = refused(lambda: partners.revoke_key(uow, clock, PARTNER_ID, key_id))
    assert isinstance(error, InvalidArgument)
    assert [violation.field for violation in error.field_violations] == ["key_id"]
