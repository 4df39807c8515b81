"""Ports the domain needs from the outside world; adapters implement them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from exchange.domain.disputes import DisputeRepository
from exchange.domain.events import FeedEvent, FeedPosition, StoredEvent
from exchange.domain.ledger import Journal
from exchange.domain.members import LinkCode, MemberId
from exchange.domain.metrics import MetricsRepository
from exchange.domain.partners import Partner, PartnerKey
from exchange.domain.rates import RateAgreement
from exchange.domain.settlement import SettlementRepository
from exchange.domain.tiers import RecognitionAgreement, TierLadder
from exchange.domain.transfers import Quote, Transfer, TransferState


class Clock(Protocol):
    def now_us(self) -> int:
        """Microseconds since the Unix epoch."""


class PartnerRepository(Protocol):
    def get(self, partner_id: str) -> Partner | None: ...

    def lock(self, partner_id: str) -> None:
        """Holds the partner row until commit, so concurrent key changes run one at a time."""

    def list_after(self, after_partner_id: str, limit: int) -> list[Partner]:
        """Partners ordered by id, strictly after `after_partner_id`."""

    def add(self, partner: Partner) -> None: ...

    def program_exists(self, program_code: str) -> bool: ...

    def keys(self, partner_id: str) -> list[PartnerKey]:
        """All keys of one partner, active and revoked, oldest first."""

    def active_keys(self, partner_ids: list[str]) -> dict[str, list[PartnerKey]]: ...

    def get_key(self, key_id: str) -> PartnerKey | None: ...

    def add_key(self, key: PartnerKey) -> None: ...

    def save_key(self, key: PartnerKey) -> None: ...


@dataclass(frozen=True)
class StoredResponse:
    method: str
    request_sha256: bytes
    response: bytes


class RequestLedger(Protocol):
    """Replay protection (nonces) and idempotent responses, both kept in the database."""

    def record_nonce(self, partner_id: str, nonce: str, created_s: int) -> bool:
        """False if this partner already used this nonce."""

    def lock_idempotency_key(self, partner_id: str, idempotency_key: str) -> bool:
        """Serialises calls with one key; False if another call holds it now."""

    def stored_response(self, partner_id: str, idempotency_key: str) -> StoredResponse | None: ...

    def store_response(
        self, partner_id: str, idempotency_key: str, stored: StoredResponse, at_us: int
    ) -> None: ...

    def lock_idempotency_keys(self, partner_id: str, idempotency_keys: Sequence[str]) -> set[str]:
        """Tries every key at once, in the given order; returns the keys another call holds."""

    def stored_responses(
        self, partner_id: str, idempotency_keys: Sequence[str]
    ) -> dict[str, StoredResponse]: ...

    def store_responses(
        self, partner_id: str, stored: Sequence[tuple[str, StoredResponse]], at_us: int
    ) -> None: ...

    def purge(self, nonces_before_s: int, responses_before_us: int) -> int:
        """Deletes expired nonces and idempotency records; returns how many rows went."""


class MemberRepository(Protocol):
    def add_member(self, cmid: str, at_us: int) -> None:
        """A new member with a fresh data key."""

    def erase_member(self, cmid: str, at_us: int) -> None:
        """Leaves a tombstone; the member's data key is destroyed with it."""

    def delete_member(self, cmid: str) -> None:
        """Removes a member that no longer holds any ppid (after a merge)."""

    def add_ppid(self, member: MemberId, at_us: int) -> None: ...

    def get_ppid(self, partner_id: str, ppid: str) -> MemberId | None:
        """The ppid only if it is this partner's: another partner's ppid is not found."""

    def ppids_of(self, cmid: str) -> list[MemberId]:
        """Every ppid of one member, ordered by partner id."""

    def get_ppids(self, partner_id: str, ppids: Sequence[str]) -> dict[str, MemberId]:
        """The ppids among these that are this partner's; others are simply absent."""

    def ppids_of_members(self, cmids: Sequence[str]) -> dict[str, list[MemberId]]:
        """Every ppid of each member, ordered by partner id."""

    def lock_members(self, cmids: Sequence[str]) -> None:
        """lock_member for many members, taken in sorted order so that batches cannot
        deadlock with each other or with single transfers."""

    def move_ppid(self, member: MemberId, cmid: str) -> None: ...

    def lock_member(self, cmid: str) -> None:
        """Holds the member row until commit: one money-moving change per member at a time."""

    def delete_ppid(self, member: MemberId) -> None: ...

    def add_link_code(self, code: LinkCode, at_us: int) -> None: ...

    def get_link_code(self, code_sha256: bytes) -> LinkCode | None: ...

    def mark_link_code_redeemed(self, code_sha256: bytes, at_us: int) -> None: ...

    def record_link_failure(self, partner_id: str, at_us: int) -> None: ...

    def link_failures_since(self, partner_id: str, since_us: int) -> int: ...


class MemberVault(Protocol):
    """Per-member encryption: destroying a member's key makes its sealed data unreadable."""

    def create_key(self, cmid: str) -> None: ...

    def destroy_key(self, cmid: str) -> None: ...

    def seal(self, cmid: str, plaintext: bytes) -> bytes: ...

    def open(self, cmid: str, sealed: bytes) -> bytes | None:
        """The plaintext, or None once the member's key is destroyed."""


class EventEncoder(Protocol):
    """Turns a feed event into its signed, stored form (the API layer owns the format)."""

    def __call__(
        self, event: FeedEvent, *, event_id: str, partner_id: str, sequence: int, at_us: int
    ) -> StoredEvent: ...


class EventFeed(Protocol):
    def append(self, partner_id: str, event: FeedEvent) -> StoredEvent:
        """Appends to one partner's feed in the current transaction."""

    def append_many(self, partner_id: str, events: Sequence[FeedEvent]) -> None:
        """Appends events in order, with consecutive sequences, in the current transaction."""

    def after(self, partner_id: str, after_sequence: int, limit: int) -> list[StoredEvent]: ...

    def position(self, partner_id: str) -> FeedPosition: ...

    def last_sequences(self, partner_ids: Collection[str]) -> dict[str, int]:
        """The last sequence of each named partner's feed (partners with no feed left out)."""
        ...

    def acknowledge(self, partner_id: str, up_to_sequence: int) -> None: ...

    def create_feed(self, partner_id: str) -> None: ...


class TierRepository(Protocol):
    def current_ladder(self, partner_id: str) -> TierLadder | None: ...

    def add_ladder(self, ladder: TierLadder, at_us: int) -> None: ...

    def agreement_versions(
        self, source_partner_id: str, target_partner_id: str
    ) -> list[RecognitionAgreement]:
        """Every version of the source → target agreement, oldest first."""

    def get_agreement(self, agreement_id: str, version: int) -> RecognitionAgreement | None: ...

    def agreement_id_for(self, source_partner_id: str, target_partner_id: str) -> str | None: ...

    def add_agreement(self, agreement: RecognitionAgreement) -> None: ...

    def mark_accepted(self, agreement_id: str, version: int, at_us: int) -> None: ...

    def save_member_tier(self, cmid: str, partner_id: str, sealed: bytes, at_us: int) -> None: ...

    def member_tier(self, cmid: str, partner_id: str) -> bytes | None: ...

    def delete_member_tiers(self, cmid: str, partner_id: str | None = None) -> None: ...

    def last_grant_at_us(self, cmid: str, source: str, target: str) -> int | None: ...

    def add_grant(
        self,
        grant_id: str,
        cmid: str,
        recognition: tuple[str, str, str],
        agreement: tuple[str, int] | None,
        granted_at_us: int,
        expires_at_us: int,
    ) -> None:
        """`recognition` is (source partner, target partner, granted tier code)."""

    def move_grants(self, from_cmid: str, to_cmid: str) -> None:
        """Grant history follows the member, so re-linking cannot reset the grant interval."""

    def delete_grants(self, cmid: str) -> None: ...


class UnitOfWork(Protocol):
    """One database transaction: commit explicitly, roll back by default on exit."""

    @property
    def partners(self) -> PartnerRepository: ...

    @property
    def requests(self) -> RequestLedger: ...

    @property
    def members(self) -> MemberRepository: ...

    @property
    def vault(self) -> MemberVault: ...

    @property
    def events(self) -> EventFeed: ...

    @property
    def tiers(self) -> TierRepository: ...

    @property
    def rates(self) -> RateAgreementRepository: ...

    @property
    def transfers(self) -> TransferRepository: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def business_days(self) -> BusinessDayRepository: ...

    @property
    def metrics(self) -> MetricsRepository: ...

    @property
    def settlement(self) -> SettlementRepository: ...

    @property
    def disputes(self) -> DisputeRepository: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


_Result = TypeVar("_Result")


class WriteConflict(Exception):
    """A unique key another transaction took first: what it stored is the result."""


class StorageUnavailable(Exception):
    """The database could not be reached, or went away, and retrying did not help: nothing the
    work did is known to be committed unless it said so. Not a bug: the caller may retry."""


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...

    def retrying(self, work: Callable[[], _Result]) -> _Result:
        """Runs `work` (which opens its own units) again on transient failures; a database
        that stays unreachable raises StorageUnavailable."""

    def run(self, work: Callable[[UnitOfWork], _Result]) -> _Result:
        """Runs `work` in a unit of its own and commits it; runs it again, in a new unit, on
        transient failures (serialization, deadlock, a connection lost before COMMIT). A unique
        key taken by another transaction raises WriteConflict."""


class RateAgreementRepository(Protocol):
    def versions(self, source_partner_id: str, destination_partner_id: str) -> list[RateAgreement]:
        """Every version of one direction's agreement, oldest first."""

    def get(self, agreement_id: str, version: int) -> RateAgreement | None: ...

    def agreement_id_for(
        self, source_partner_id: str, destination_partner_id: str
    ) -> str | None: ...

    def add(self, agreement: RateAgreement) -> None: ...

    def mark_accepted(self, agreement_id: str, version: int, at_us: int) -> None: ...

    def list_for(
        self, partner_id: str, after: tuple[str, int] | None, limit: int
    ) -> list[RateAgreement]:
        """Agreements the partner is party to, by (agreement id, version), after a position."""


class QuoteSealer(Protocol):
    """Serializes and signs a quote's payload (the API layer owns the format)."""

    def __call__(self, quote: Quote) -> tuple[bytes, bytes]: ...


class TransferRepository(Protocol):
    def add_quote(self, quote: Quote) -> None: ...

    def get_quote(self, quote_id: str, *, for_update: bool = False) -> Quote | None: ...

    def mark_quote_used(self, quote_id: str, transfer_id: str) -> None: ...

    def add(self, transfer: Transfer) -> None: ...

    def add_many(self, transfers: Sequence[Transfer]) -> None: ...

    def get(self, transfer_id: str, *, for_update: bool = False) -> Transfer | None:
        """`for_update` holds the row until commit, so a transfer resolves exactly once."""

    def get_many(
        self, transfer_ids: Sequence[str], *, for_update: bool = False
    ) -> dict[str, Transfer]:
        """Rows are locked in sorted id order, the order every batch takes them in."""

    def save(self, transfer: Transfer) -> None:
        """Stores a resolution (state, time, reasons); nothing else ever changes."""

    def save_many(self, transfers: Sequence[Transfer]) -> None: ...

    def source_points_since(
        self, cmid: str, source_partner_id: str, destination_partner_id: str, since_us: int
    ) -> int:
        """Source points of the member's transfers in this direction since a time, not voided."""

    def source_points_since_by_member(
        self,
        cmids: Sequence[str],
        source_partner_id: str,
        destination_partner_id: str,
        since_us: int,
    ) -> dict[str, int]:
        """source_points_since for many members; members with none are absent."""

    def live_reversal_of(self, transfer_id: str) -> Transfer | None: ...

    def list_for(
        self,
        partner_id: str,
        state: TransferState | None,
        window_us: tuple[int | None, int | None],
        before: tuple[int, str] | None,
        limit: int,
    ) -> list[Transfer]:
        """The partner's transfers, newest first, strictly before (created_at_us, id)."""

    def timed_out(self, now_us: int, limit: int) -> list[str]: ...

    def move_member(self, from_cmid: str, to_cmid: str) -> None:
        """When two members merge on linking, their transfer history goes to the survivor."""

    def scrub_member(self, cmid: str) -> None:
        """After erasure: amounts stay under the cmid tombstone, the ppids go."""


class Ledger(Protocol):
    def record(self, journal: Journal, at_us: int) -> None:
        """Appends a journal and its entries and updates the accounts' cached counters."""

    def record_many(self, journals: Sequence[Journal], at_us: int) -> None: ...


class BusinessDayRepository(Protocol):
    def open_day_at_or_after(self, business_day: str) -> str:
        """The first business day on or after this one that is still open, held open (shared
        lock) until commit: a day cannot close under a completion that is landing in it."""

    def close(self, business_day: str, at_us: int) -> bool:
        """Closes the day, waiting for completions landing in it; False if already closed."""

    def state(self, business_day: str) -> str | None: ...
