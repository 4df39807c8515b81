"""Handlers for the partner directory and partner key rotation."""

from __future__ import annotations

from dataclasses import dataclass

from coalition.keys import is_small_order, verify_signature
from coalition.wire import PUBLIC_KEY_BYTES, key_id_for, key_registration_bytes
from exchange.domain import limits
from exchange.domain.errors import DomainError, ErrorCode, invalid
from exchange.domain.partners import (
    KeyState,
    Partner,
    PartnerKey,
    PartnerKind,
    check_new_partner,
    ensure_key_can_be_added,
    ensure_key_can_be_revoked,
)
from exchange.domain.ports import Clock, UnitOfWork


@dataclass(frozen=True)
class DirectoryEntry:
    partner: Partner
    active_keys: list[PartnerKey]


@dataclass(frozen=True)
class DirectoryPage:
    entries: list[DirectoryEntry]
    next_after_partner_id: str | None


def get_partner(uow: UnitOfWork, partner_id: str) -> DirectoryEntry:
    partner = uow.partners.get(partner_id)
    if partner is None:
        raise DomainError(ErrorCode.PARTNER_NOT_FOUND, "no such partner")
    active = uow.partners.active_keys([partner_id]).get(partner_id, [])
    return DirectoryEntry(partner, active)


def list_partners(uow: UnitOfWork, after_partner_id: str, page_size: int) -> DirectoryPage:
    assert 0 < page_size <= limits.PAGE_SIZE_MAX
    # One extra row tells whether another page follows without a count query.
    partners = uow.partners.list_after(after_partner_id, page_size + 1)
    has_more = len(partners) > page_size
    partners = partners[:page_size]
    keys = uow.partners.active_keys([p.partner_id for p in partners])
    entries = [DirectoryEntry(p, keys.get(p.partner_id, [])) for p in partners]
    return DirectoryPage(entries, partners[-1].partner_id if has_more else None)


@dataclass(frozen=True)
class RegisterKey:
    partner_id: str
    public_key: bytes
    proof_of_possession: bytes


def _check_usable(public_key: bytes) -> None:
    """A small-order point "verifies" signatures made without any secret: never a key."""
    if is_small_order(public_key):
        raise invalid("public_key", "is a small-order point, not a usable Ed25519 key")


def register_key(uow: UnitOfWork, clock: Clock, command: RegisterKey) -> PartnerKey:
    if len(command.public_key) != PUBLIC_KEY_BYTES:
        raise invalid("public_key", f"must be the {PUBLIC_KEY_BYTES} raw bytes of an Ed25519 key")
    _check_usable(command.public_key)
    proof_message = key_registration_bytes(
        partner_id=command.partner_id, public_key=command.public_key
    )
    if not verify_signature(command.public_key, command.proof_of_possession, proof_message):
        raise DomainError(
            ErrorCode.PROOF_OF_POSSESSION_INVALID,
            "proof_of_possession is not a signature by the new key over its registration bytes",
        )
    key_id = key_id_for(command.public_key)
    if uow.partners.get_key(key_id) is not None:
        raise DomainError(ErrorCode.KEY_ALREADY_REGISTERED, "this key has already been registered")
    uow.partners.lock(command.partner_id)
    ensure_key_can_be_added(uow.partners.keys(command.partner_id), key_id)
    now_us = clock.now_us()
    key = PartnerKey(key_id, command.partner_id, command.public_key, KeyState.ACTIVE, now_us)
    uow.partners.add_key(key)
    return key


def revoke_key(uow: UnitOfWork, clock: Clock, partner_id: str, key_id: str) -> PartnerKey:
    if not key_id or len(key_id) > limits.KEY_ID_CHARS_MAX:
        raise invalid("key_id", f"must be 1-{limits.KEY_ID_CHARS_MAX} characters")
    uow.partners.lock(partner_id)
    target = ensure_key_can_be_revoked(uow.partners.keys(partner_id), key_id)
    revoked = target.revoked(clock.now_us())
    uow.partners.save_key(revoked)
    return revoked


@dataclass(frozen=True)
class AddPartner:
    partner_id: str
    display_name: str
    kind: PartnerKind
    program_code: str
    public_key: bytes


def add_partner(uow: UnitOfWork, clock: Clock, command: AddPartner) -> DirectoryEntry:
    """Operator onboarding: a new partner with its first signing key."""
    check_new_partner(
        command.partner_id, command.display_name, command.program_code, command.public_key
    )
    _check_usable(command.public_key)
    if uow.partners.get(command.partner_id) is not None:
        raise DomainError(ErrorCode.PARTNER_ALREADY_EXISTS, "a partner with this id exists")
    if uow.partners.program_exists(command.program_code):
        raise DomainError(ErrorCode.PROGRAM_ALREADY_EXISTS, "this program code is taken")
    key_id = key_id_for(command.public_key)
    if uow.partners.get_key(key_id) is not None:
        raise DomainError(ErrorCode.KEY_ALREADY_REGISTERED, "this key has already been registered")
    now_us = clock.now_us()
    partner = Partner(
        command.partner_id, command.display_name, command.kind, command.program_code, now_us
    )
    key = PartnerKey(key_id, partner.partner_id, command.public_key, KeyState.ACTIVE, now_us)
    uow.partners.add(partner)
    uow.partners.add_key(key)
    uow.events.create_feed(partner.partner_id)
    return DirectoryEntry(partner, [key])
