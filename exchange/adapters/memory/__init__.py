"""In-memory fakes of the storage ports and the clock, behaving like the SQL adapters.

The modules are named like their counterparts in exchange.adapters.sql; the public names are
re-exported here.
"""

from exchange.adapters.memory.business_days import InMemoryBusinessDayRepository
from exchange.adapters.memory.clock import (
    FIXED_CLOCK_START_US,
    MICROSECONDS_PER_SECOND,
    FixedClock,
)
from exchange.adapters.memory.dispute_repository import InMemoryDisputeRepository
from exchange.adapters.memory.feed_repository import InMemoryEventFeed
from exchange.adapters.memory.ledger_check import check_ledger
from exchange.adapters.memory.ledger_repository import InMemoryLedger
from exchange.adapters.memory.member_repositories import (
    InMemoryMemberRepository,
    InMemoryMemberVault,
)
from exchange.adapters.memory.metrics_repository import InMemoryMetricsRepository
from exchange.adapters.memory.rate_repository import InMemoryRateAgreementRepository
from exchange.adapters.memory.repositories import InMemoryPartnerRepository, InMemoryRequestLedger
from exchange.adapters.memory.settlement_repository import (
    InMemoryLeafSink,
    InMemorySettlementRepository,
)
from exchange.adapters.memory.store import InMemoryStore
from exchange.adapters.memory.tier_repository import InMemoryTierRepository
from exchange.adapters.memory.transfer_repository import InMemoryTransferRepository
from exchange.adapters.memory.unit_of_work import (
    LOCK_WAIT_S_MAX,
    FeedListener,
    InMemoryUnitOfWork,
    InMemoryUnitOfWorkFactory,
)

__all__ = [
    "FIXED_CLOCK_START_US",
    "LOCK_WAIT_S_MAX",
    "MICROSECONDS_PER_SECOND",
    "FeedListener",
    "FixedClock",
    "InMemoryBusinessDayRepository",
    "InMemoryDisputeRepository",
    "InMemoryEventFeed",
    "InMemoryLeafSink",
    "InMemoryLedger",
    "InMemoryMemberRepository",
    "InMemoryMemberVault",
    "InMemoryMetricsRepository",
    "InMemoryPartnerRepository",
    "InMemoryRateAgreementRepository",
    "InMemoryRequestLedger",
    "InMemorySettlementRepository",
    "InMemoryStore",
    "InMemoryTierRepository",
    "InMemoryTransferRepository",
    "InMemoryUnitOfWork",
    "InMemoryUnitOfWorkFactory",
    "check_ledger",
]
