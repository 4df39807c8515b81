"""The hub's other state-changing RPCs under database faults, one RPC per stage.

Tier ladders, recognition agreements, tier reports and status matches; rate agreements;
partner keys; programme totals; reconciliation uploads and disputes on a settled day;
unlinking and erasure (fresh members, so no transfer's member goes). Some RPCs cannot run
many at once (one partner's versions of one thing; at most two active keys), so a stage is
a round of chains, each chain's calls one after another. A stage runs again (a bounded
number of rounds) until a backend was terminated during it; what each round needs first
runs in a "setup" stage that no fault targets. What the clients were told is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from coalition.v1 import tier_pb2 as tpb
from tests.reliability.fault_admin_calls import AdminCalls, Chains, Round, Told, each
from tests.reliability.fault_flow_settlement import MemberStages, SettlementStages
from tests.reliability.fault_flow_terms import KeyStages, ProgrammeStages, RateStages
from tests.reliability.fault_load import Task

PARTNERS = ("skyway", "harbor", "orbit")
PAIRS = tuple((s, t) for s in PARTNERS for t in PARTNERS if s != t)
STAGE_ROUNDS_MAX = 8
TIERS = (("BLUE", 1), ("SILVER", 2), ("GOLD", 3))
LADDERS_PER_PARTNER = 6
PROPOSALS_PER_PAIR = 3
GRANT_VALIDITY_DAYS = 30
TIER_EXPIRY_S = 30 * 86_400


class TierStages:
    def __init__(self, calls: AdminCalls, members: list[tuple[str, str]]) -> None:
        self.calls = calls
        self.members = members
        self.outcome = calls.outcome

    def stages(self) -> list[tuple[str, Round]]:
        return [
            ("PublishTierLadder", self._ladders),
            ("ProposeRecognition", lambda: [self._proposals(p, PROPOSALS_PER_PAIR) for p in PAIRS]),
            ("AcceptRecognition", self._acceptances),
            ("ReportMemberTier", self._tier_reports),
            ("RequestStatusMatch", self._status_matches),
        ]

    def _ladders(self) -> Chains:
        tiers = [
            tpb.Tier(code=c, display_name=c.title(), rank=r, canonical_level=r) for c, r in TIERS
        ]
        request = tpb.PublishTierLadderRequest(tiers=tiers, canonical_matching=True)

        def told(partner_id: str) -> Told:
            def keep(response: bytes) -> None:
                version = tpb.PublishTierLadderResponse.FromString(response).version
                self.outcome.ladder_versions.setdefault(partner_id, []).append(version)

            return keep

        return [
            [self.calls.task("PublishTierLadder", p, request, told(p))] * LADDERS_PER_PARTNER
            for p in PARTNERS
        ]

    def _proposals(self, pair: tuple[str, str], count: int) -> list[Task]:
        source, target = pair
        request = tpb.ProposeRecognitionRequest(
            source_partner_id=source,
            target_partner_id=target,
            rules=[tpb.RecognitionRule(source_tier_code=c, target_tier_code=c) for c, _ in TIERS],
            validity_days=GRANT_VALIDITY_DAYS,
            min_days_between_grants=0,
        )

        def told(response: bytes) -> None:
            agreement = tpb.ProposeRecognitionResponse.FromString(response).agreement
            version = (agreement.agreement_id, agreement.version)
            self.outcome.recognitions.setdefault(pair, []).append(version)

        return [self.calls.task("ProposeRecognition", source, request, told)] * count

    def _acceptances(self) -> Chains:
        """Only a pair's newest version can be accepted: one acceptance per pair a round."""
        stale = [p for p in PAIRS if self._newest(p) in self.outcome.recognitions_accepted]
        self.calls.setup([self._proposals(pair, 1) for pair in stale])
        tasks = []
        for pair in PAIRS:
            agreement_id, version = self._newest(pair)
            request = tpb.AcceptRecognitionRequest(agreement_id=agreement_id, version=version)

            def told(_response: bytes, accepted: tuple[str, int] = (agreement_id, version)) -> None:
                self.outcome.recognitions_accepted.add(accepted)

            tasks.append(self.calls.task("AcceptRecognition", pair[1], request, told))
        return each(tasks)

    def _newest(self, pair: tuple[str, str]) -> tuple[str, int]:
        return max(self.outcome.recognitions.get(pair, [("", 0)]), key=lambda v: v[1])

    def _tier_reports(self) -> Chains:
        expire_us = self.calls.now_us() + TIER_EXPIRY_S * 1_000_000
        tasks = []
        for pair in self.members:
            for partner_id, ppid in zip(("skyway", "harbor"), pair, strict=True):
                request = tpb.ReportMemberTierRequest(ppid=ppid, tier_code="GOLD")
                request.expire_time.FromMicroseconds(expire_us)
                tasks.append(
                    self.calls.task("ReportMemberTier", partner_id, request, self._reported)
                )
        return each(tasks)

    def _reported(self, _response: bytes) -> None:
        self.outcome.tiers_reported += 1

    def _status_matches(self) -> Chains:
        def told(response: bytes) -> None:
            self.outcome.grants.add(tpb.RequestStatusMatchResponse.FromString(response).grant_id)

        tasks = []
        for skyway_ppid, harbor_ppid in self.members:
            for source, ppid, target in (
                ("skyway", skyway_ppid, "harbor"),
                ("harbor", harbor_ppid, "skyway"),
            ):
                request = tpb.RequestStatusMatchRequest(ppid=ppid, target_partner_id=target)
                tasks.append(self.calls.task("RequestStatusMatch", source, request, told))
        return each(tasks)


@dataclass
class AdminFlow:
    """Runs every stage set's stages in order, each until a backend died during it."""

    calls: AdminCalls
    members: list[tuple[str, str]]
    settled: SettlementStages
    terminated: Callable[[str], int]
    rounds: dict[str, int] = field(default_factory=dict)

    def run(self) -> None:
        stage_sets = (
            TierStages(self.calls, self.members),
            RateStages(self.calls, PAIRS),
            KeyStages(self.calls, PARTNERS),
            ProgrammeStages(self.calls, PARTNERS),
            MemberStages(self.calls),
            self.settled,
        )
        for stage_set in stage_sets:
            for rpc, round_ in stage_set.stages():
                self._until_terminated(rpc, round_)

    def _until_terminated(self, rpc: str, round_: Round) -> None:
        for count in range(1, STAGE_ROUNDS_MAX + 1):
            chains = round_()
            if not any(chains):
                return  # the setup was refused: the test reports that, not the rounds
            self.calls.run(rpc, chains)
            self.rounds[rpc] = count
            if self.terminated(rpc) > 0:
                return
