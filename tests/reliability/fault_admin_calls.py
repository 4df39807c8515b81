"""What the administration stages of the database-fault scenarios share: the calls, and
what the clients were told.

A stage is a round of chains: each chain's calls run one after another, the chains side by
side. What a round needs first runs in a "setup" stage that no fault targets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from google.protobuf.message import Message

from tests.reliability.fault_load import Answer, LoadRecord, RetryingClient, Task, run_chains

SETUP_STAGE = "setup"

Chains = list[list[Task]]
Round = Callable[[], Chains]
Told = Callable[[bytes], None]


@dataclass
class AdminOutcome:
    """What the clients were told of the hub's state, by RPC."""

    ladder_versions: dict[str, list[int]] = field(default_factory=dict)
    recognitions: dict[tuple[str, str], list[tuple[str, int]]] = field(default_factory=dict)
    recognitions_accepted: set[tuple[str, int]] = field(default_factory=set)
    rates: dict[tuple[str, str], list[tuple[str, int]]] = field(default_factory=dict)
    rates_accepted: set[tuple[str, int]] = field(default_factory=set)
    keys_registered: dict[str, str] = field(default_factory=dict)
    keys_revoked: set[str] = field(default_factory=set)
    tiers_reported: int = 0
    grants: set[str] = field(default_factory=set)
    programme_reports: set[tuple[str, str]] = field(default_factory=set)
    reconciliations: set[str] = field(default_factory=set)
    disputes: dict[str, tuple[str, str]] = field(default_factory=dict)
    disputes_rejected: set[str] = field(default_factory=set)
    unlinked: set[str] = field(default_factory=set)
    erased: set[str] = field(default_factory=set)


@dataclass
class AdminCalls:
    """The client, the record and the outcome the stage sets share."""

    client: RetryingClient
    record: LoadRecord
    now_us: Callable[[], int]
    outcome: AdminOutcome = field(default_factory=AdminOutcome)
    refused: list[Answer] = field(default_factory=list)

    def task(self, rpc: str, partner_id: str, request: Message, told: Told | None = None) -> Task:
        def call() -> Answer:
            answer = self.client.call(rpc, partner_id, request)
            if answer.ok and told is not None:
                told(answer.response or b"")
            return answer

        return call

    def run(self, stage: str, chains: Sequence[Sequence[Task]]) -> list[Answer]:
        answers = run_chains(self.record, stage, chains)
        self.refused.extend(a for a in answers if not a.ok)
        return answers

    def setup(self, chains: Sequence[Sequence[Task]]) -> list[Answer]:
        return self.run(SETUP_STAGE, chains)


def each(tasks: Sequence[Task]) -> Chains:
    """Calls that may all run at once: a chain of one each."""
    return [[task] for task in tasks]
