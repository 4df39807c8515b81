"""SQL storage of members, ppids, link codes, member data keys and member tiers."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, cast

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from exchange.adapters.sql.bulk import fetch_by_key
from exchange.adapters.sql.tables import (
    LinkCodeRow,
    LinkFailureRow,
    MemberKeyRow,
    MemberRow,
    PpidRow,
)
from exchange.domain.members import LinkCode, MemberId

AES_KEY_BYTES = 32
GCM_NONCE_BYTES = 12
PPIDS = cast(Table, PpidRow.__table__)
MEMBERS = cast(Table, MemberRow.__table__)
# Built once: constructing and cache-keying a statement costs more than running it.
PARTNER_PPIDS = select(PPIDS.c.ppid, PPIDS.c.partner_id, PPIDS.c.cmid).where(
    PPIDS.c.ppid.in_(bindparam("ppids", expanding=True)),
    PPIDS.c.partner_id == bindparam("partner_id"),
)
MEMBERS_PPIDS = (
    select(PPIDS.c.ppid, PPIDS.c.partner_id, PPIDS.c.cmid)
    .where(PPIDS.c.cmid.in_(bindparam("cmids", expanding=True)))
    .order_by(PPIDS.c.cmid, PPIDS.c.partner_id)
)
# FOR UPDATE on PostgreSQL, in cmid order; SQLite's BEGIN IMMEDIATE already serialises writers.
LOCK_MEMBERS = (
    select(MEMBERS.c.cmid)
    .where(MEMBERS.c.cmid.in_(bindparam("cmids", expanding=True)))
    .order_by(MEMBERS.c.cmid)
    .with_for_update()
)


def _member_id(row: PpidRow | Row[Any]) -> MemberId:
    return MemberId(row.ppid, row.partner_id, row.cmid)


class SqlMemberRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_member(self, cmid: str, at_us: int) -> None:
        self.session.execute(insert(MemberRow).values(cmid=cmid, created_at_us=at_us))

    def erase_member(self, cmid: str, at_us: int) -> None:
        self.session.execute(
            update(MemberRow).where(MemberRow.cmid == cmid).values(erased_at_us=at_us)
        )

    def delete_member(self, cmid: str) -> None:
        self.session.execute(delete(MemberRow).where(MemberRow.cmid == cmid))

    def add_ppid(self, member: MemberId, at_us: int) -> None:
        self.session.execute(
            insert(PpidRow).values(
                ppid=member.ppid,
                partner_id=member.partner_id,
                cmid=member.cmid,
                created_at_us=at_us,
            )
        )

    def get_ppid(self, partner_id: str, ppid: str) -> MemberId | None:
        row = fetch_by_key(self.session, PPIDS, ppid=ppid)
        if row is None or row.partner_id != partner_id:
            return None
        return _member_id(row)

    def ppids_of(self, cmid: str) -> list[MemberId]:
        return self.ppids_of_members([cmid]).get(cmid, [])

    def get_ppids(self, partner_id: str, ppids: Sequence[str]) -> dict[str, MemberId]:
        if not ppids:
            return {}
        # Core rows, not entities: a batch reads thousands, and nothing here is written back.
        rows = self.session.execute(
            PARTNER_PPIDS, {"ppids": sorted(set(ppids)), "partner_id": partner_id}
        )
        return {row.ppid: MemberId(*row) for row in rows}

    def ppids_of_members(self, cmids: Sequence[str]) -> dict[str, list[MemberId]]:
        if not cmids:
            return {}
        found: dict[str, list[MemberId]] = {}
        for row in self.session.execute(MEMBERS_PPIDS, {"cmids": sorted(set(cmids))}):
            found.setdefault(row.cmid, []).append(MemberId(*row))
        return found

    def lock_members(self, cmids: Sequence[str]) -> None:
        if not cmids:
            return
        self.session.execute(LOCK_MEMBERS, {"cmids": sorted(set(cmids))})

    def lock_member(self, cmid: str) -> None:
        # FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers.
        self.lock_members([cmid])

    def move_ppid(self, member: MemberId, cmid: str) -> None:
        self.session.execute(update(PpidRow).where(PpidRow.ppid == member.ppid).values(cmid=cmid))

    def delete_ppid(self, member: MemberId) -> None:
        self.session.execute(delete(LinkCodeRow).where(LinkCodeRow.ppid == member.ppid))
        self.session.execute(delete(PpidRow).where(PpidRow.ppid == member.ppid))

    def add_link_code(self, code: LinkCode, at_us: int) -> None:
        self.session.execute(
            insert(LinkCodeRow).values(
                code_sha256=code.code_sha256,
                partner_id=code.partner_id,
                ppid=code.ppid,
                created_at_us=at_us,
                expires_at_us=code.expires_at_us,
            )
        )

    def get_link_code(self, code_sha256: bytes) -> LinkCode | None:
        query = select(LinkCodeRow).where(LinkCodeRow.code_sha256 == code_sha256)
        # populate_existing: read the row again even if this session read it before a lock.
        row = self.session.scalars(query.execution_options(populate_existing=True)).first()
        if row is None:
            return None
        return LinkCode(
            row.code_sha256, row.partner_id, row.ppid, row.expires_at_us, row.redeemed_at_us
        )

    def mark_link_code_redeemed(self, code_sha256: bytes, at_us: int) -> None:
        self.session.execute(
            update(LinkCodeRow)
            .where(LinkCodeRow.code_sha256 == code_sha256)
            .values(redeemed_at_us=at_us)
        )

    def record_link_failure(self, partner_id: str, at_us: int) -> None:
        self.session.execute(
            insert(LinkFailureRow).values(partner_id=partner_id, failed_at_us=at_us)
        )

    def link_failures_since(self, partner_id: str, since_us: int) -> int:
        query = select(func.count()).where(
            LinkFailureRow.partner_id == partner_id, LinkFailureRow.failed_at_us >= since_us
        )
        return int(self.session.scalar(query) or 0)


class SqlMemberVault:
    """Each member's AES-256-GCM data key, stored wrapped under the hub's vault key."""

    def __init__(self, session: Session, vault_key: bytes | None) -> None:
        self.session = session
        self._vault_key = vault_key

    @property
    def _wrapping(self) -> AESGCM:
        # Operator commands run without the hub key; only member work needs the vault.
        if self._vault_key is None or len(self._vault_key) != AES_KEY_BYTES:
            raise RuntimeError("the member vault needs the hub's vault key")
        return AESGCM(self._vault_key)

    def create_key(self, cmid: str) -> None:
        data_key = AESGCM.generate_key(bit_length=AES_KEY_BYTES * 8)
        nonce = os.urandom(GCM_NONCE_BYTES)
        wrapped = nonce + self._wrapping.encrypt(nonce, data_key, cmid.encode())
        self.session.execute(insert(MemberKeyRow).values(cmid=cmid, wrapped_key=wrapped))

    def destroy_key(self, cmid: str) -> None:
        self.session.execute(delete(MemberKeyRow).where(MemberKeyRow.cmid == cmid))

    def seal(self, cmid: str, plaintext: bytes) -> bytes:
        data_key = self._data_key(cmid)
        assert data_key is not None, "sealing data for a member without a key"
        nonce = os.urandom(GCM_NONCE_BYTES)
        return nonce + AESGCM(data_key).encrypt(nonce, plaintext, cmid.encode())

    def open(self, cmid: str, sealed: bytes) -> bytes | None:
        data_key = self._data_key(cmid)
        if data_key is None:
            return None
        nonce, ciphertext = sealed[:GCM_NONCE_BYTES], sealed[GCM_NONCE_BYTES:]
        return AESGCM(data_key).decrypt(nonce, ciphertext, cmid.encode())

    def _data_key(self, cmid: str) -> bytes | None:
        row = self.session.get(MemberKeyRow, cmid)
        if row is None:
            return None
        nonce, wrapped = row.wrapped_key[:GCM_NONCE_BYTES], row.wrapped_key[GCM_NONCE_BYTES:]
        return self._wrapping.decrypt(nonce, wrapped, cmid.encode())
