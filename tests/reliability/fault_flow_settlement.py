"""Administration stages of the database-fault scenarios: reconciliation uploads and
disputes on a settled day, and members unlinked and erased.

Disputes are rejected by the counterparty, so no adjustment changes what a settled day owes.
Only fresh members are unlinked and erased: no transfer of the run loses its member.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from coalition.v1 import common_pb2 as cpb
from coalition.v1 import identity_pb2 as ipb
from coalition.v1 import settlement_pb2 as spb
from tests.reliability.fault_admin_calls import AdminCalls, Chains, Round, each
from tests.reliability.fault_load import Task

UPLOADS_PER_PARTNER = 8
UPLOAD_RECORDS_MAX = 6
DISPUTES_PER_ROUND = 24
DISPUTE_REASON = "the line is short of what we booked"
REJECT_REASON = "the line matches our records"
MEMBERS_PER_ROUND = 16


@dataclass(frozen=True)
class SettledLine:
    """A record of a settled day: who pays (the payer) and who is paid."""

    business_day: str
    transfer_id: str
    payer: str
    payee: str
    currency: str
    amount_minor: int


class SettlementStages:
    def __init__(self, calls: AdminCalls, partners: tuple[str, ...], lines: list[SettledLine]):
        self.calls = calls
        self.partners = partners
        self.lines = lines
        self.outcome = calls.outcome
        self._disputable = [(line, opener) for line in lines for opener in (line.payer, line.payee)]

    def stages(self) -> list[tuple[str, Round]]:
        return [
            ("SubmitReconciliation", self._uploads),
            ("OpenDispute", lambda: each(self._disputes())),
            ("ResolveDispute", self._resolutions),
        ]

    def _uploads(self) -> Chains:
        tasks = []
        for partner_id in self.partners:
            own = [line for line in self.lines if partner_id in (line.payer, line.payee)]
            for count in range(UPLOADS_PER_PARTNER):
                tasks.append(self._upload(partner_id, own[: count % UPLOAD_RECORDS_MAX]))
        return each(tasks)

    def _upload(self, partner_id: str, lines: list[SettledLine]) -> Task:
        """The partner's records of some lines, and one the hub never saw: every upload is
        its own (two equal uploads at once are a race, not a database fault)."""
        records = [
            spb.ReconciliationRecord(
                transfer_id=line.transfer_id,
                direction="outgoing" if line.payer == partner_id else "incoming",
                points=0,
                amount=cpb.Money(amount_minor=line.amount_minor, currency_code=line.currency),
            )
            for line in lines
        ]
        unknown = spb.ReconciliationRecord(
            transfer_id="tr_" + secrets.token_hex(12),
            direction="outgoing",
            points=0,
            amount=cpb.Money(amount_minor=1, currency_code="USD"),
        )
        request = spb.SubmitReconciliationRequest(
            business_day=self.lines[0].business_day, records=[*records, unknown]
        )

        def told(response: bytes) -> None:
            answer = spb.SubmitReconciliationResponse.FromString(response)
            self.outcome.reconciliations.add(answer.reconciliation_id)

        return self.calls.task("SubmitReconciliation", partner_id, request, told)

    def _disputes(self) -> list[Task]:
        """Each (line, opener) once: a party has one open dispute on a line at a time."""
        chosen = self._disputable[:DISPUTES_PER_ROUND]
        del self._disputable[:DISPUTES_PER_ROUND]
        return [self._dispute(line, opener) for line, opener in chosen]

    def _dispute(self, line: SettledLine, opener: str) -> Task:
        claimed = cpb.Money(amount_minor=line.amount_minor + 1, currency_code=line.currency)
        request = spb.OpenDisputeRequest(
            business_day=line.business_day,
            transfer_id=line.transfer_id,
            claimed_amount=claimed,
            reason=DISPUTE_REASON,
        )

        def told(response: bytes) -> None:
            dispute = spb.OpenDisputeResponse.FromString(response).dispute
            parties = (dispute.opened_by_partner_id, dispute.counterparty_id)
            self.outcome.disputes[dispute.dispute_id] = parties

        return self.calls.task("OpenDispute", opener, request, told)

    def _open(self) -> dict[str, str]:
        """dispute id -> the counterparty, who resolves it."""
        return {
            dispute_id: counterparty
            for dispute_id, (_opener, counterparty) in self.outcome.disputes.items()
            if dispute_id not in self.outcome.disputes_rejected
        }

    def _resolutions(self) -> Chains:
        if not self._open():
            self.calls.setup(each(self._disputes()))
        tasks = []
        for dispute_id, counterparty in self._open().items():
            request = spb.ResolveDisputeRequest(
                dispute_id=dispute_id, accept=False, reason=REJECT_REASON
            )

            def told(_response: bytes, rejected: str = dispute_id) -> None:
                self.outcome.disputes_rejected.add(rejected)

            tasks.append(self.calls.task("ResolveDispute", counterparty, request, told))
        return each(tasks)


class MemberStages:
    """Fresh members linked at skyway and harbor, unlinked by skyway, then erased."""

    def __init__(self, calls: AdminCalls) -> None:
        self.calls = calls
        self.outcome = calls.outcome
        # (partner, ppid) of members no longer linked, to erase.
        self._detached: list[tuple[str, str]] = []

    def stages(self) -> list[tuple[str, Round]]:
        return [("Unlink", self._unlinks), ("EraseMember", self._erasures)]

    def _unlinks(self) -> Chains:
        tasks = []
        for skyway_ppid, harbor_ppid in self._fresh_pairs(MEMBERS_PER_ROUND):
            request = ipb.UnlinkRequest(ppid=skyway_ppid, partner_id="harbor")

            def told(_response: bytes, pair: tuple[str, str] = (skyway_ppid, harbor_ppid)) -> None:
                self.outcome.unlinked.add(pair[0])
                self._detached.extend([("skyway", pair[0]), ("harbor", pair[1])])

            tasks.append(self.calls.task("Unlink", "skyway", request, told))
        return each(tasks)

    def _erasures(self) -> Chains:
        if not self._detached:
            self._detached = [
                ("skyway", ppid) for ppid in self._enrolled("skyway", MEMBERS_PER_ROUND)
            ]
        chosen, self._detached = self._detached, []
        tasks = []
        for partner_id, ppid in chosen:

            def told(_response: bytes, erased: str = ppid) -> None:
                self.outcome.erased.add(erased)

            request = ipb.EraseMemberRequest(ppid=ppid)
            tasks.append(self.calls.task("EraseMember", partner_id, request, told))
        return each(tasks)

    def _enrolled(self, partner_id: str, count: int) -> list[str]:
        task = self.calls.task("EnrollMember", partner_id, ipb.EnrollMemberRequest())
        answers = self.calls.setup(each([task] * count))
        return [
            ipb.EnrollMemberResponse.FromString(a.response or b"").ppid for a in answers if a.ok
        ]

    def _fresh_pairs(self, count: int) -> list[tuple[str, str]]:
        skyway, harbor = self._enrolled("skyway", count), self._enrolled("harbor", count)
        pairs = list(zip(skyway, harbor, strict=True))
        codes = self.calls.setup(
            each(
                [
                    self.calls.task("CreateLinkCode", "skyway", ipb.CreateLinkCodeRequest(ppid=s))
                    for s, _h in pairs
                ]
            )
        )
        redeems, linked = [], []
        for (skyway_ppid, harbor_ppid), code in zip(pairs, codes, strict=True):
            if code.ok:
                link_code = ipb.CreateLinkCodeResponse.FromString(code.response or b"").link_code
                request = ipb.RedeemLinkCodeRequest(link_code=link_code, ppid=harbor_ppid)
                redeems.append(self.calls.task("RedeemLinkCode", "harbor", request))
                linked.append((skyway_ppid, harbor_ppid))
        answers = self.calls.setup(each(redeems))
        return [pair for pair, answer in zip(linked, answers, strict=True) if answer.ok]
