"""SQL implementations of the domain's repositories."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any, cast

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Table, bindparam, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from exchange.adapters.sql import partitions
from exchange.adapters.sql.bulk import fetch_by_key, insert_rows
from exchange.adapters.sql.tables import (
    IdempotencyRecordRow,
    PartnerKeyRow,
    PartnerRow,
    RequestNonceRow,
)
from exchange.domain.partners import KeyState, Partner, PartnerKey, PartnerKind
from exchange.domain.ports import StoredResponse


def _partner(row: PartnerRow | Row[Any]) -> Partner:
    return Partner(
        row.partner_id, row.display_name, PartnerKind(row.kind), row.program_code, row.created_at_us
    )


def _key(row: PartnerKeyRow | Row[Any]) -> PartnerKey:
    return PartnerKey(
        row.key_id,
        row.partner_id,
        row.public_key,
        KeyState(row.state),
        row.created_at_us,
        row.revoked_at_us,
    )


class SqlPartnerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, partner_id: str) -> Partner | None:
        row = fetch_by_key(self.session, PARTNERS, partner_id=partner_id)
        return _partner(row) if row is not None else None

    def lock(self, partner_id: str) -> None:
        # SELECT ... FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises.
        self.session.execute(
            select(PartnerRow.partner_id)
            .where(PartnerRow.partner_id == partner_id)
            .with_for_update()
        )

    def list_after(self, after_partner_id: str, limit: int) -> list[Partner]:
        query = (
            select(PartnerRow)
            .where(PartnerRow.partner_id > after_partner_id)
            .order_by(PartnerRow.partner_id)
            .limit(limit)
        )
        return [_partner(row) for row in self.session.scalars(query)]

    def add(self, partner: Partner) -> None:
        self.session.execute(
            insert(PartnerRow).values(
                partner_id=partner.partner_id,
                display_name=partner.display_name,
                kind=partner.kind.value,
                program_code=partner.program_code,
                created_at_us=partner.created_at_us,
            )
        )

    def program_exists(self, program_code: str) -> bool:
        query = select(func.count()).where(PartnerRow.program_code == program_code)
        return bool(self.session.scalar(query))

    def keys(self, partner_id: str) -> list[PartnerKey]:
        query = (
            select(PartnerKeyRow)
            .where(PartnerKeyRow.partner_id == partner_id)
            .order_by(PartnerKeyRow.created_at_us, PartnerKeyRow.key_id)
        )
        return [_key(row) for row in self.session.scalars(query)]

    def active_keys(self, partner_ids: list[str]) -> dict[str, list[PartnerKey]]:
        if not partner_ids:
            return {}
        query = (
            select(PartnerKeyRow)
            .where(
                PartnerKeyRow.partner_id.in_(partner_ids),
                PartnerKeyRow.state == KeyState.ACTIVE.value,
            )
            .order_by(PartnerKeyRow.created_at_us, PartnerKeyRow.key_id)
        )
        found: dict[str, list[PartnerKey]] = {}
        for row in self.session.scalars(query):
            found.setdefault(row.partner_id, []).append(_key(row))
        return found

    def get_key(self, key_id: str) -> PartnerKey | None:
        row = fetch_by_key(self.session, PARTNER_KEYS, key_id=key_id)
        return _key(row) if row is not None else None

    def add_key(self, key: PartnerKey) -> None:
        self.session.execute(
            insert(PartnerKeyRow).values(
                key_id=key.key_id,
                partner_id=key.partner_id,
                public_key=key.public_key,
                state=key.state.value,
                created_at_us=key.created_at_us,
                revoked_at_us=key.revoked_at_us,
            )
        )

    def save_key(self, key: PartnerKey) -> None:
        row = self.session.get(PartnerKeyRow, key.key_id)
        assert row is not None and row.partner_id == key.partner_id, "saving a key never added"
        row.state = key.state.value
        row.revoked_at_us = key.revoked_at_us
        self.session.flush()


def _advisory_lock_id(partner_id: str, idempotency_key: str) -> int:
    digest = hashlib.sha256(f"{partner_id}\n{idempotency_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


GCM_NONCE_BYTES = 12
PARTNERS = cast(Table, PartnerRow.__table__)
PARTNER_KEYS = cast(Table, PartnerKeyRow.__table__)
NONCES = cast(Table, RequestNonceRow.__table__)
TRY_ADVISORY_LOCK = text("SELECT pg_try_advisory_xact_lock(:lock_id)")
# Built once: constructing and cache-keying a statement costs more than running it.
NONCE_INSERTS = {
    name: dialect_insert(NONCES).on_conflict_do_nothing().returning(NONCES.c.nonce)
    for name, dialect_insert in (("postgresql", postgres_insert), ("sqlite", sqlite_insert))
}
IDEMPOTENCY_RECORDS = cast(Table, IdempotencyRecordRow.__table__)
STORED_RESPONSE_BY_KEY = select(IDEMPOTENCY_RECORDS).where(
    IDEMPOTENCY_RECORDS.c.partner_id == bindparam("partner_id"),
    IDEMPOTENCY_RECORDS.c.idempotency_key == bindparam("idempotency_key"),
)


class SqlRequestLedger:
    """Nonces and idempotent responses. Stored responses are sealed (AES-GCM): some carry
    secrets for their caller only, such as a live link code."""

    def __init__(self, session: Session, response_key: bytes | None = None) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name
        self._response_key = response_key

    def _cipher(self) -> AESGCM:
        if self._response_key is None:
            raise RuntimeError("storing responses needs the hub's response key")
        return AESGCM(self._response_key)

    def record_nonce(self, partner_id: str, nonce: str, created_s: int) -> bool:
        values = {"partner_id": partner_id, "nonce": nonce, "created_s": created_s}
        # RETURNING, not rowcount: a conflict returns no row. On PostgreSQL the key is
        # (partner_id, nonce, created_s) and the table is partitioned by created_s: a replay
        # carries the same signed created_s, lands in the same partition and conflicts there.
        return self.session.execute(NONCE_INSERTS[self.dialect], values).first() is not None

    def lock_idempotency_key(self, partner_id: str, idempotency_key: str) -> bool:
        if self.dialect != "postgresql":
            # SQLite transactions start with BEGIN IMMEDIATE: one writer at a time already.
            return True
        lock_id = _advisory_lock_id(partner_id, idempotency_key)
        acquired = self.session.scalar(TRY_ADVISORY_LOCK, {"lock_id": lock_id})
        return bool(acquired)

    def stored_response(self, partner_id: str, idempotency_key: str) -> StoredResponse | None:
        # By (partner_id, idempotency_key), not the primary key: on PostgreSQL that also holds
        # created_at_us (the partition key), and a key has one record whatever its day.
        values = {"partner_id": partner_id, "idempotency_key": idempotency_key}
        row = self.session.execute(STORED_RESPONSE_BY_KEY, values).first()
        return self._opened(row) if row is not None else None

    def _opened(self, row: IdempotencyRecordRow | Row[Any]) -> StoredResponse:
        nonce, sealed = row.response[:GCM_NONCE_BYTES], row.response[GCM_NONCE_BYTES:]
        aad = f"{row.partner_id}\n{row.idempotency_key}".encode()
        response = self._cipher().decrypt(nonce, sealed, aad)
        return StoredResponse(row.method, row.request_sha256, response)

    def store_response(
        self, partner_id: str, idempotency_key: str, stored: StoredResponse, at_us: int
    ) -> None:
        self.store_responses(partner_id, [(idempotency_key, stored)], at_us)

    def lock_idempotency_keys(self, partner_id: str, idempotency_keys: Sequence[str]) -> set[str]:
        if self.dialect != "postgresql" or not idempotency_keys:
            return set()
        lock_ids = [_advisory_lock_id(partner_id, key) for key in idempotency_keys]
        # WITH ORDINALITY keeps the locks taken in the given order.
        acquired = self.session.execute(
            text(
                "SELECT pg_try_advisory_xact_lock(lock_id) FROM unnest(CAST(:lock_ids AS bigint[]))"
                " WITH ORDINALITY AS k(lock_id, position) ORDER BY position"
            ),
            {"lock_ids": lock_ids},
        ).scalars()
        return {key for key, ok in zip(idempotency_keys, acquired, strict=True) if not ok}

    def stored_responses(
        self, partner_id: str, idempotency_keys: Sequence[str]
    ) -> dict[str, StoredResponse]:
        if not idempotency_keys:
            return {}
        query = select(IdempotencyRecordRow).where(
            IdempotencyRecordRow.partner_id == partner_id,
            IdempotencyRecordRow.idempotency_key.in_(sorted(set(idempotency_keys))),
        )
        return {row.idempotency_key: self._opened(row) for row in self.session.scalars(query)}

    def store_responses(
        self, partner_id: str, stored: Sequence[tuple[str, StoredResponse]], at_us: int
    ) -> None:
        if not stored:
            return
        cipher = self._cipher()
        rows = []
        for idempotency_key, record in stored:
            nonce = os.urandom(GCM_NONCE_BYTES)
            aad = f"{partner_id}\n{idempotency_key}".encode()
            rows.append(
                {
                    "partner_id": partner_id,
                    "idempotency_key": idempotency_key,
                    "method": record.method,
                    "request_sha256": record.request_sha256,
                    "response": nonce + cipher.encrypt(nonce, record.response, aad),
                    "created_at_us": at_us,
                }
            )
        insert_rows(self.session, IDEMPOTENCY_RECORDS, rows)

    def purge(self, nonces_before_s: int, responses_before_us: int) -> int:
        """Removes nonces and stored responses created before the cutoffs.

        PostgreSQL: drops the expired day partitions, deletes what DEFAULT caught and makes
        the days ahead, each step a short transaction of its own (partitions.py) so no lock
        is held past its statement; this unit of work's own transaction writes nothing."""
        if self.dialect == "postgresql":
            return partitions.purge_expired(
                self.session.get_bind(),
                nonces_before_s=nonces_before_s,
                responses_before_us=responses_before_us,
            )
        nonces = self.session.execute(
            delete(RequestNonceRow).where(RequestNonceRow.created_s < nonces_before_s)
        )
        responses = self.session.execute(
            delete(IdempotencyRecordRow).where(
                IdempotencyRecordRow.created_at_us < responses_before_us
            )
        )
        return int(getattr(nonces, "rowcount", 0)) + int(getattr(responses, "rowcount", 0))
