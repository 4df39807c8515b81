"""Commands and shortcuts the partner handler tests share: onboarding, keys, refusals."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from coalition.keys import SigningKey
from coalition.wire import key_registration_bytes
from exchange.adapters.memory import FixedClock, InMemoryUnitOfWorkFactory
from exchange.domain.errors import DomainError
from exchange.domain.partners import PartnerKey, PartnerKind
from exchange.services import partners

PARTNER_ID = "skyway"
OTHER_PARTNER_ID = "harbor"


def add_command(
    partner_id: str = PARTNER_ID,
    program_code: str = "SKYWAY_MILES",
    public_key: bytes | None = None,
    display_name: str = "Skyway Airlines",
) -> partners.AddPartner:
    key_bytes = public_key if public_key is not None else SigningKey.generate().public_key_bytes
    return partners.AddPartner(
        partner_id, display_name, PartnerKind.AIRLINE, program_code, key_bytes
    )


def onboard(
    uow_factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    partner_id: str,
    program_code: str,
    key: SigningKey,
) -> None:
    with uow_factory() as uow:
        partners.add_partner(
            uow, clock, add_command(partner_id, program_code, key.public_key_bytes)
        )
        uow.commit()


def registration(key: SigningKey, partner_id: str = PARTNER_ID) -> partners.RegisterKey:
    """A RegisterKey command with a valid proof of possession."""
    proof = key.sign(key_registration_bytes(partner_id=partner_id, public_key=key.public_key_bytes))
    return partners.RegisterKey(partner_id, key.public_key_bytes, proof)


def register(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, command: partners.RegisterKey
) -> PartnerKey:
    with uow_factory() as uow:
        key = partners.register_key(uow, clock, command)
        uow.commit()
    return key


def revoke(uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, key_id: str) -> PartnerKey:
    with uow_factory() as uow:
        key = partners.revoke_key(uow, clock, PARTNER_ID, key_id)
        uow.commit()
    return key


def committed_keys(uow_factory: InMemoryUnitOfWorkFactory, partner_id: str) -> list[PartnerKey]:
    with uow_factory() as uow:
        return uow.partners.keys(partner_id)


def refused(call: Callable[[], object]) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def _proof_over_other_bytes(key: SigningKey) -> partners.RegisterKey:
    return partners.RegisterKey(PARTNER_ID, key.public_key_bytes, key.sign(b"register me"))
