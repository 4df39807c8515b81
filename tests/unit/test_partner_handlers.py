"""Partner directory and key rotation handlers, driven with the in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from coalition.keys import SigningKey
from coalition.wire import key_registration_bytes
from exchange.adapters.memory import FixedClock, InMemoryUnitOfWorkFactory
from exchange.domain import limits
from exchange.domain.errors import DomainError, ErrorCode, InvalidArgument
from exchange.domain.partners import KeyState, PartnerKey, PartnerKind
from exchange.domain.ports import UnitOfWork
from exchange.services import partners

PARTNER_ID = "skyway"
OTHER_PARTNER_ID = "harbor"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def uow_factory() -> InMemoryUnitOfWorkFactory:
    return InMemoryUnitOfWorkFactory()


@pytest.fixture
def first_key(uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock) -> SigningKey:
    """The key `skyway` was onboarded with; `harbor` exists too, with its own key."""
    key = SigningKey.generate()
    onboard(uow_factory, clock, PARTNER_ID, "SKYWAY_MILES", key)
    onboard(uow_factory, clock, OTHER_PARTNER_ID, "HARBOR_POINTS", SigningKey.generate())
    return key


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


# add_partner


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


# register_key


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


def _proof_by_another_key(key: SigningKey) -> partners.RegisterKey:
    other = SigningKey.generate()
    message = key_registration_bytes(partner_id=PARTNER_ID, public_key=key.public_key_bytes)
    return partners.RegisterKey(PARTNER_ID, key.public_key_bytes, other.sign(message))


def _proof_for_another_partner(key: SigningKey) -> partners.RegisterKey:
    stolen = registration(key, partner_id=OTHER_PARTNER_ID)
    return partners.RegisterKey(PARTNER_ID, stolen.public_key, stolen.proof_of_possession)


def _proof_over_other_bytes(key: SigningKey) -> partners.RegisterKey:
    return partners.RegisterKey(PARTNER_ID, key.public_key_bytes, key.sign(b"register me"))


def _proof_missing(key: SigningKey) -> partners.RegisterKey:
    return partners.RegisterKey(PARTNER_ID, key.public_key_bytes, b"")


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


# revoke_key


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


# get_partner and list_partners


def test_get_partner_refuses_an_unknown_partner(uow_factory: InMemoryUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        error = refused(lambda: partners.get_partner(uow, "nobody"))
    assert error.code is ErrorCode.PARTNER_NOT_FOUND


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


# A refusal writes nothing


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
