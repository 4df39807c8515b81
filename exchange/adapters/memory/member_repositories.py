"""In-memory fakes of the member and vault ports, behaving like the SQL adapters."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from exchange.adapters.memory.store import InMemoryStore, MemberRow
from exchange.domain.members import LinkCode, MemberId

if TYPE_CHECKING:
    from exchange.domain.ports import MemberRepository, MemberVault

AES_KEY_BYTES = 32
GCM_NONCE_BYTES = 12


class InMemoryMemberRepository:
    """Raises ValueError where the database's keys and foreign keys would refuse a write."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def add_member(self, cmid: str, at_us: int) -> None:
        if cmid in self._store.members:
            raise ValueError(f"duplicate cmid {cmid!r}")
        self._store.members[cmid] = MemberRow(at_us)

    def erase_member(self, cmid: str, at_us: int) -> None:
        row = self._store.members.get(cmid)
        # Like the SQL update, an unknown member is a no-op.
        if row is not None:
            self._store.members[cmid] = replace(row, erased_at_us=at_us)

    def delete_member(self, cmid: str) -> None:
        store = self._store
        if (
            cmid in store.member_keys
            or any(m.cmid == cmid for m in store.ppids.values())
            or any(owner == cmid for owner, _ in store.member_tiers)
            or any(g.cmid == cmid for g in store.grants.values())
            or any(q.cmid == cmid for q in store.quotes.values())
            or any(t.cmid == cmid for t in store.transfers.values())
        ):
            raise ValueError(f"member {cmid!r} is still referenced")
        store.members.pop(cmid, None)

    def add_ppid(self, member: MemberId, at_us: int) -> None:
        if member.ppid in self._store.ppids:
            raise ValueError(f"duplicate ppid {member.ppid!r}")
        if member.partner_id not in self._store.partners:
            raise ValueError(f"ppid for unknown partner {member.partner_id!r}")
        self._check_cmid_free(member.cmid, member.partner_id)
        self._store.ppids[member.ppid] = member

    def get_ppid(self, partner_id: str, ppid: str) -> MemberId | None:
        member = self._store.ppids.get(ppid)
        if member is None or member.partner_id != partner_id:
            return None
        return member

    def ppids_of(self, cmid: str) -> list[MemberId]:
        found = [m for m in self._store.ppids.values() if m.cmid == cmid]
        return sorted(found, key=lambda m: m.partner_id)

    def move_ppid(self, member: MemberId, cmid: str) -> None:
        row = self._store.ppids.get(member.ppid)
        if row is None or row.cmid == cmid:
            return
        self._check_cmid_free(cmid, row.partner_id)
        self._store.ppids[member.ppid] = replace(row, cmid=cmid)

    def lock_member(self, cmid: str) -> None:
        """Nothing to do: the unit of work already holds the whole store."""

    def get_ppids(self, partner_id: str, ppids: Sequence[str]) -> dict[str, MemberId]:
        found = {ppid: self.get_ppid(partner_id, ppid) for ppid in ppids}
        return {ppid: member for ppid, member in found.items() if member is not None}

    def ppids_of_members(self, cmids: Sequence[str]) -> dict[str, list[MemberId]]:
        found = {cmid: self.ppids_of(cmid) for cmid in cmids}
        return {cmid: ppids for cmid, ppids in found.items() if ppids}

    def lock_members(self, cmids: Sequence[str]) -> None:
        """Nothing to do: the unit of work already holds the whole store."""

    def delete_ppid(self, member: MemberId) -> None:
        codes = self._store.link_codes
        self._store.link_codes = {d: c for d, c in codes.items() if c.ppid != member.ppid}
        self._store.ppids.pop(member.ppid, None)

    def add_link_code(self, code: LinkCode, at_us: int) -> None:
        if code.code_sha256 in self._store.link_codes:
            raise ValueError("duplicate link code")
        # Like the SQL insert, a new code is never redeemed, whatever the record says.
        self._store.link_codes[code.code_sha256] = replace(code, redeemed_at_us=None)

    def get_link_code(self, code_sha256: bytes) -> LinkCode | None:
        return self._store.link_codes.get(code_sha256)

    def mark_link_code_redeemed(self, code_sha256: bytes, at_us: int) -> None:
        code = self._store.link_codes.get(code_sha256)
        if code is not None:
            self._store.link_codes[code_sha256] = replace(code, redeemed_at_us=at_us)

    def record_link_failure(self, partner_id: str, at_us: int) -> None:
        self._store.link_failures.append((partner_id, at_us))

    def link_failures_since(self, partner_id: str, since_us: int) -> int:
        failures = self._store.link_failures
        return sum(1 for owner, at_us in failures if owner == partner_id and at_us >= since_us)

    def erased_at_us(self, cmid: str) -> int | None:
        """Not a port method: lets tests see the tombstone an erasure leaves."""
        row = self._store.members.get(cmid)
        return row.erased_at_us if row is not None else None

    def _check_cmid_free(self, cmid: str, partner_id: str) -> None:
        """The foreign key to members, and one ppid per member and partner."""
        if cmid not in self._store.members:
            raise ValueError(f"ppid for unknown member {cmid!r}")
        if any(m.partner_id == partner_id for m in self.ppids_of(cmid)):
            raise ValueError(f"member {cmid!r} already has a ppid at {partner_id!r}")


class InMemoryMemberVault:
    """Each member's AES-256-GCM data key; deleting it makes the member's sealed data unreadable."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def create_key(self, cmid: str) -> None:
        if cmid not in self._store.members:
            raise ValueError(f"data key for unknown member {cmid!r}")
        if cmid in self._store.member_keys:
            raise ValueError(f"duplicate data key for {cmid!r}")
        self._store.member_keys[cmid] = AESGCM.generate_key(bit_length=AES_KEY_BYTES * 8)

    def destroy_key(self, cmid: str) -> None:
        self._store.member_keys.pop(cmid, None)

    def seal(self, cmid: str, plaintext: bytes) -> bytes:
        data_key = self._store.member_keys.get(cmid)
        assert data_key is not None, "sealing data for a member without a key"
        nonce = os.urandom(GCM_NONCE_BYTES)
        return nonce + AESGCM(data_key).encrypt(nonce, plaintext, cmid.encode())

    def open(self, cmid: str, sealed: bytes) -> bytes | None:
        data_key = self._store.member_keys.get(cmid)
        if data_key is None:
            return None
        nonce, ciphertext = sealed[:GCM_NONCE_BYTES], sealed[GCM_NONCE_BYTES:]
        return AESGCM(data_key).decrypt(nonce, ciphertext, cmid.encode())


if TYPE_CHECKING:
    # mypy proves the fakes satisfy the ports structurally.
    _members_check: MemberRepository = InMemoryMemberRepository(InMemoryStore())
    _vault_check: MemberVault = InMemoryMemberVault(InMemoryStore())
