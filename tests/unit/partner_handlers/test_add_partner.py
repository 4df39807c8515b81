"""Adding a partner: stored with its first active key; every bad field named at once."""

from __future__ import annotations

import pytest

from coalition.keys import SigningKey
from exchange.adapters.memory import FixedClock, InMemoryUnitOfWorkFactory
from exchange.domain import limits
from exchange.domain.errors import ErrorCode, InvalidArgument
from exchange.domain.partners import KeyState, PartnerKind
from exchange.services import partners
from tests.unit.partner_handlers.support import PARTNER_ID, add_command, refused


def test_add_partner_stores_the_partner_with_its_first_active_key(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    key = SigningKey.generate()
    with uow_factory() as uow:
        added = partners.add_partner(uow, clock, add_command(public_key=key.public_key_bytes))
        uow.commit()

    with uow_factory() as uow:
        entry = partners.get_partner(uow, PARTNER_ID)
    assert entry == added
    assert entry.partner.display_name == "Skyway Airlines"
    assert entry.partner.kind is PartnerKind.AIRLINE
    assert entry.partner.program_code == "SKYWAY_MILES"
    assert entry.partner.created_at_us == clock.now_us()
    [active] = entry.active_keys
    assert active.key_id == key.key_id
    assert active.public_key == key.public_key_bytes
    assert active.state is KeyState.ACTIVE
    assert active.created_at_us == clock.now_us()


def test_add_partner_reports_every_bad_field_in_one_error(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    command = add_command(partner_id="Sky Way", program_code="miles", display_name="   ")
    with uow_factory() as uow:
        error = refused(lambda: partners.add_partner(uow, clock, command))

    assert isinstance(error, InvalidArgument)
    assert error.code is ErrorCode.INVALID_ARGUMENT
    fields = [violation.field for violation in error.field_violations]
    assert sorted(fields) == ["display_name", "partner_id", "program_code"]
    for field in fields:
        assert field in error.message


def test_add_partner_reports_a_bad_public_key_together_with_other_bad_fields(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    command = add_command(partner_id="Sky Way", public_key=b"short")
    with uow_factory() as uow:
        error = refused(lambda: partners.add_partner(uow, clock, command))

    fields = {violation.field for violation in error.field_violations}
    assert fields == {"partner_id", "public_key"}


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("partner_id", {"partner_id": "s"}),
        ("partner_id", {"partner_id": "9skyway"}),
        ("partner_id", {"partner_id": "sky.way"}),
        ("partner_id", {"partner_id": "s" * (limits.PARTNER_ID_CHARS_MAX + 1)}),
        ("display_name", {"display_name": ""}),
        ("display_name", {"display_name": "Skyway\nAirlines"}),
        ("display_name", {"display_name": "S" * (limits.DISPLAY_NAME_CHARS_MAX + 1)}),
        ("program_code", {"program_code": "M"}),
        ("program_code", {"program_code": "SKYWAY-MILES"}),
        ("program_code", {"program_code": "S" * (limits.PROGRAM_CODE_CHARS_MAX + 1)}),
        ("public_key", {"public_key": bytes(31)}),
        ("public_key", {"public_key": bytes(33)}),
    ],
)
def test_add_partner_names_the_one_bad_field(
    uow_factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    field: str,
    overrides: dict[str, str | bytes],
) -> None:
    command = add_command(**overrides)  # type: ignore[arg-type]
    with uow_factory() as uow:
        error = refused(lambda: partners.add_partner(uow, clock, command))

    assert isinstance(error, InvalidArgument)
    assert [violation.field for violation in error.field_violations] == [field]


def test_add_partner_refuses_a_display_name_longer_than_the_limit_even_when_padded(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    padded = " " * 10 + "S" * limits.DISPLAY_NAME_CHARS_MAX
    command = add_command(display_name=padded)
    with uow_factory() as uow:
        error = refused(lambda: partners.add_partner(uow, clock, command))

    assert [violation.field for violation in error.field_violations] == ["display_name"]


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (add_command(program_code="OTHER_MILES"), ErrorCode.PARTNER_ALREADY_EXISTS),
        (add_command(partner_id="skyway2"), ErrorCode.PROGRAM_ALREADY_EXISTS),
    ],
    ids=["duplicate-partner-id", "duplicate-program-code"],
)
def test_add_partner_refuses_a_taken_id_or_program(
    uow_factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    first_key: SigningKey,
    command: partners.AddPartner,
    code: ErrorCode,
) -> None:
    with uow_factory() as uow:
        error = refused(lambda: partners.add_partner(uow, clock, command))
    assert error.code is code


def test_add_partner_refuses_a_key_another_partner_registered(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, first_key: SigningKey
) -> None:
    command = add_command("orbit", "ORBIT_REWARDS", first_key.public_key_bytes)
    with uow_factory() as uow:
        error = refused(lambda: partners.add_partner(uow, clock, command))
    assert error.code is ErrorCode.KEY_ALREADY_REGISTERED
