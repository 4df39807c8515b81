"""The in-memory fakes' tables: one store per unit of work, copied on begin, published on commit."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields

from exchange.adapters.memory.metrics_tables import MetricTables
from exchange.adapters.memory.settlement_tables import SettlementTables
from exchange.domain.events import FeedPosition, StoredEvent
from exchange.domain.ledger import AccountRef, Counters, Entry, JournalKind
from exchange.domain.members import LinkCode, MemberId
from exchange.domain.partners import Partner, PartnerKey
from exchange.domain.ports import StoredResponse
from exchange.domain.rates import RateAgreement
from exchange.domain.tiers import RecognitionAgreement, TierLadder
from exchange.domain.transfers import Quote, Transfer


@dataclass(frozen=True)
class MemberRow:
    created_at_us: int
    erased_at_us: int | None = None


@dataclass(frozen=True)
class GrantRow:
    cmid: str
    source_partner_id: str
    target_partner_id: str
    tier_code: str
    agreement: tuple[str, int] | None
    granted_at_us: int
    expires_at_us: int


@dataclass(frozen=True)
class JournalRow:
    kind: JournalKind
    transfer_id: str
    created_at_us: int


@dataclass(frozen=True)
class EntryRow:
    journal_id: str
    entry: Entry


@dataclass(frozen=True)
class AccountRow:
    """A ledger account and its cached counters; frozen, so an update replaces the row."""

    account: AccountRef
    debits_pending: int = 0
    credits_pending: int = 0
    debits_posted: int = 0
    credits_posted: int = 0

    def counters(self) -> Counters:
        return Counters(
            self.debits_pending, self.credits_pending, self.debits_posted, self.credits_posted
        )


@dataclass
class InMemoryStore:
    """The tables, keyed like their primary keys. Values are frozen, so copies may share them."""

    partners: dict[str, Partner] = field(default_factory=dict)
    keys: dict[str, PartnerKey] = field(default_factory=dict)
    nonces: dict[tuple[str, str], int] = field(default_factory=dict)
    responses: dict[tuple[str, str], tuple[StoredResponse, int]] = field(default_factory=dict)
    feeds: dict[str, FeedPosition] = field(default_factory=dict)
    events: dict[tuple[str, int], StoredEvent] = field(default_factory=dict)
    members: dict[str, MemberRow] = field(default_factory=dict)
    # Plain data keys: the SQL vault wraps them under the hub's key, which a fake has no use for.
    member_keys: dict[str, bytes] = field(default_factory=dict)
    ppids: dict[str, MemberId] = field(default_factory=dict)
    link_codes: dict[bytes, LinkCode] = field(default_factory=dict)
    link_failures: list[tuple[str, int]] = field(default_factory=list)
    # Keyed (partner_id, version) and (agreement_id, version), like their primary keys.
    ladders: dict[tuple[str, int], TierLadder] = field(default_factory=dict)
    agreements: dict[tuple[str, int], RecognitionAgreement] = field(default_factory=dict)
    member_tiers: dict[tuple[str, str], bytes] = field(default_factory=dict)
    grants: dict[str, GrantRow] = field(default_factory=dict)
    rate_agreements: dict[tuple[str, int], RateAgreement] = field(default_factory=dict)
    quotes: dict[str, Quote] = field(default_factory=dict)
    transfers: dict[str, Transfer] = field(default_factory=dict)
    journals: dict[str, JournalRow] = field(default_factory=dict)
    # In insertion order, like the entries' autoincrement key.
    ledger_entries: list[EntryRow] = field(default_factory=list)
    ledger_accounts: dict[str, AccountRow] = field(default_factory=dict)
    business_days: dict[str, str] = field(default_factory=dict)
    metrics: MetricTables = field(default_factory=MetricTables)
    settlement: SettlementTables = field(default_factory=SettlementTables)

    def copy(self) -> InMemoryStore:
        copied = InMemoryStore()
        copied.load(self)
        return copied

    def load(self, source: InMemoryStore) -> None:
        """Replaces this store's rows in place, so repositories holding it see the change."""
        for table in fields(self):
            # A shallow copy of each table is enough: the rows in it are immutable.
            setattr(self, table.name, copy.copy(getattr(source, table.name)))
