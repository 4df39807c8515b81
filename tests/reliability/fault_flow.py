"""The transfer flow the database-fault scenarios run, one state-changing RPC per stage.

Quotes, transfers from them, confirmations and rejections by the destination, batches of
inline transfers and their batch confirmations, reversals and their confirmations, feed
acknowledgements, and member enrolment and linking. What each client was told is kept, so
the test can hold the hub to it afterwards.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from coalition.v1 import event_pb2 as epb
from coalition.v1 import exchange_pb2 as xpb
from coalition.v1 import identity_pb2 as ipb
from tests.reliability.fault_load import Answer, LoadRecord, RetryingClient, Task, run_stage

POINTS = (1_000, 2_000, 3_000, 4_000, 5_000)
BATCH_ENTRIES = 4
CONFIRM_BATCH_IDS = 4
REJECT_ONE_IN = 3
REJECT_REASON = "account on hold"
ACK_STEP = 2
PARTNERS = ("skyway", "harbor")
ALL_PARTNERS = ("skyway", "harbor", "orbit")


@dataclass(frozen=True)
class FlowSize:
    quotes: int
    batches: int
    reversals: int
    new_members: int


@dataclass
class FlowOutcome:
    """What the clients were told, by transfer: created (key -> id), and resolved."""

    created: dict[str, str] = field(default_factory=dict)
    reversals: dict[str, str] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)
    rejected: set[str] = field(default_factory=set)
    refused: list[Answer] = field(default_factory=list)


@dataclass
class TransferFlow:
    """Members are (skyway ppid, harbor ppid) pairs, linked; both directions agreed."""

    client: RetryingClient
    record: LoadRecord
    members: list[tuple[str, str]]
    rng: random.Random
    outcome: FlowOutcome = field(default_factory=FlowOutcome)
    # (transfer id, source, destination) of every transfer created, in order.
    transfers: list[tuple[str, str, str]] = field(default_factory=list)
    _batch_ids: set[str] = field(default_factory=set)

    def run(self, size: FlowSize, on_stage: Callable[[str], None]) -> None:
        stages: list[tuple[str, Callable[[], None]]] = [
            ("CreateQuote", lambda: self._quotes_and_transfers(size.quotes, on_stage)),
            ("CreateTransferBatch", lambda: self._batches(size.batches)),
        ]
        for name, stage in stages:
            on_stage(name)
            stage()
        singles = [t for t in self.transfers if t[0] not in self._batch_ids]
        self._resolve(singles, on_stage)
        on_stage("ConfirmCredits")
        self._confirm_batches()
        on_stage("CreateReversal")
        reversals = self._reversals(size.reversals)
        on_stage("ConfirmCredit")
        self._stage("ConfirmCredit", [self._confirm_task(*t) for t in reversals])
        on_stage("AckEvents")
        self._acks()
        on_stage("EnrollMember")
        self._new_members(size.new_members, on_stage)

    # --- stages ----------------------------------------------------------------------------

    def _stage(self, name: str, tasks: list[Task]) -> list[Answer]:
        answers = run_stage(self.record, name, tasks)
        self.outcome.refused.extend(a for a in answers if not a.ok)
        return answers

    def _quotes_and_transfers(self, count: int, on_stage: Callable[[str], None]) -> None:
        asks = [self._direction() for _ in range(count)]
        quotes = self._stage("CreateQuote", [self._quote_task(*ask) for ask in asks])
        tasks = []
        for (source, _destination, _ppid, _points), quote in zip(asks, quotes, strict=True):
            if quote.ok:
                payload = xpb.CreateQuoteResponse.FromString(quote.response or b"").quote.payload
                quote_id = xpb.QuotePayload.FromString(payload).quote_id
                tasks.append(self._transfer_task(source, quote_id))
        on_stage("CreateTransfer")
        for answer in self._stage("CreateTransfer", tasks):
            if answer.ok:
                transfer = xpb.CreateTransferResponse.FromString(answer.response or b"").transfer
                self._created(answer.key, transfer)

    def _batches(self, count: int) -> None:
        tasks = []
        for _ in range(count):
            source = self.rng.choice(PARTNERS)
            entries = []
            for _ in range(BATCH_ENTRIES):
                _s, destination, ppid, points = self._direction(source)
                inline = xpb.CreateTransferRequest(
                    ppid=ppid, destination_partner_id=destination, source_points=points
                )
                entries.append(xpb.TransferBatchEntry(idempotency_key=_key(), transfer=inline))
            request = xpb.CreateTransferBatchRequest(entries=entries)
            tasks.append(self._task("CreateTransferBatch", source, request))
        for answer in self._stage("CreateTransferBatch", tasks):
            if not answer.ok:
                continue
            response = xpb.CreateTransferBatchResponse.FromString(answer.response or b"")
            for result in response.results:
                if result.HasField("transfer"):
                    self._created(result.idempotency_key, result.transfer)
                    self._batch_ids.add(result.transfer.transfer_id)

    def _resolve(
        self, singles: list[tuple[str, str, str]], on_stage: Callable[[str], None]
    ) -> None:
        rejects = [t for n, t in enumerate(singles) if n % REJECT_ONE_IN == REJECT_ONE_IN - 1]
        confirms = [t for t in singles if t not in rejects]
        on_stage("ConfirmCredit")
        self._stage("ConfirmCredit", [self._confirm_task(*t) for t in confirms])
        on_stage("RejectCredit")
        tasks = []
        for transfer_id, _source, destination in rejects:
            request = xpb.RejectCreditRequest(transfer_id=transfer_id, reason=REJECT_REASON)
            tasks.append(self._task("RejectCredit", destination, request))
        for answer in self._stage("RejectCredit", tasks):
            if answer.ok:
                response = xpb.RejectCreditResponse.FromString(answer.response or b"")
                self.outcome.rejected.add(response.transfer.transfer_id)

    def _confirm_batches(self) -> None:
        by_destination: dict[str, list[str]] = {}
        for transfer_id, _source, destination in self.transfers:
            if transfer_id in self._batch_ids:
                by_destination.setdefault(destination, []).append(transfer_id)
        tasks = []
        for destination, ids in by_destination.items():
            for start in range(0, len(ids), CONFIRM_BATCH_IDS):
                chunk = ids[start : start + CONFIRM_BATCH_IDS]
                request = xpb.ConfirmCreditsRequest(transfer_ids=chunk)
                tasks.append(self._task("ConfirmCredits", destination, request))
        for answer in self._stage("ConfirmCredits", tasks):
            if answer.ok:
                response = xpb.ConfirmCreditsResponse.FromString(answer.response or b"")
                for result in response.results:
                    if result.HasField("transfer"):
                        self.outcome.confirmed.add(result.transfer_id)

    def _reversals(self, count: int) -> list[tuple[str, str, str]]:
        completed = [t for t in self.transfers if t[0] in self.outcome.confirmed]
        chosen = self.rng.sample(completed, min(count, len(completed)))
        tasks = [
            self._task("CreateReversal", source, xpb.CreateReversalRequest(transfer_id=tid))
            for tid, source, _destination in chosen
        ]
        reversals = []
        for answer in self._stage("CreateReversal", tasks):
            if answer.ok:
                reversal = xpb.CreateReversalResponse.FromString(answer.response or b"").reversal
                self.outcome.reversals[answer.key] = reversal.transfer_id
                source, destination = reversal.source_partner_id, reversal.destination_partner_id
                reversals.append((reversal.transfer_id, source, destination))
        return reversals

    def _acks(self) -> None:
        tasks = []
        for partner_id in ALL_PARTNERS:
            listed = self.client.call("ListEvents", partner_id, epb.ListEventsRequest(page_size=1))
            if not listed.ok:
                self.outcome.refused.append(listed)
                continue
            last = epb.ListEventsResponse.FromString(listed.response or b"").last_sequence
            for up_to in [*range(1, last, ACK_STEP), last]:
                request = epb.AckEventsRequest(up_to_sequence=up_to)
                tasks.append(self._task("AckEvents", partner_id, request))
        self._stage("AckEvents", tasks)

    def _new_members(self, count: int, on_stage: Callable[[str], None]) -> None:
        enrol = [self._task("EnrollMember", p, ipb.EnrollMemberRequest()) for p in PARTNERS]
        answers = self._stage("EnrollMember", enrol * count)
        ppids = [ipb.EnrollMemberResponse.FromString(a.response or b"").ppid for a in answers]
        pairs = [(ppids[n], ppids[n + 1]) for n in range(0, len(ppids) - 1, 2)]
        pairs = [(s, h) for s, h in pairs if s and h]
        on_stage("CreateLinkCode")
        codes = self._stage(
            "CreateLinkCode",
            [
                self._task("CreateLinkCode", "skyway", ipb.CreateLinkCodeRequest(ppid=s))
                for s, _ in pairs
            ],
        )
        on_stage("RedeemLinkCode")
        tasks, linked = [], []
        for (skyway_ppid, harbor_ppid), code in zip(pairs, codes, strict=True):
            if code.ok:
                link_code = ipb.CreateLinkCodeResponse.FromString(code.response or b"").link_code
                redeem = ipb.RedeemLinkCodeRequest(link_code=link_code, ppid=harbor_ppid)
                tasks.append(self._task("RedeemLinkCode", "harbor", redeem))
                linked.append((skyway_ppid, harbor_ppid))
        for pair, answer in zip(linked, self._stage("RedeemLinkCode", tasks), strict=True):
            if answer.ok:
                self.members.append(pair)

    # --- single calls ----------------------------------------------------------------------

    def _task(self, rpc: str, partner_id: str, request: object) -> Task:
        return lambda: self.client.call(rpc, partner_id, request)  # type: ignore[arg-type]

    def _quote_task(self, source: str, destination: str, ppid: str, points: int) -> Task:
        request = xpb.CreateQuoteRequest(
            ppid=ppid, destination_partner_id=destination, source_points=points
        )
        return self._task("CreateQuote", source, request)

    def _transfer_task(self, source: str, quote_id: str) -> Task:
        return self._task("CreateTransfer", source, xpb.CreateTransferRequest(quote_id=quote_id))

    def _confirm_task(self, transfer_id: str, _source: str, destination: str) -> Task:
        request = xpb.ConfirmCreditRequest(transfer_id=transfer_id)

        def confirm() -> Answer:
            answer = self.client.call("ConfirmCredit", destination, request)
            if answer.ok:
                self.outcome.confirmed.add(transfer_id)
            return answer

        return confirm

    def _created(self, key: str, transfer: xpb.Transfer) -> None:
        self.outcome.created[key] = transfer.transfer_id
        self.transfers.append(
            (transfer.transfer_id, transfer.source_partner_id, transfer.destination_partner_id)
        )

    def _direction(self, source: str | None = None) -> tuple[str, str, str, int]:
        """(source, destination, the source's ppid of a linked member, points)."""
        source = source or self.rng.choice(PARTNERS)
        skyway_ppid, harbor_ppid = self.rng.choice(self.members)
        destination = "harbor" if source == "skyway" else "skyway"
        ppid = skyway_ppid if source == "skyway" else harbor_ppid
        return source, destination, ppid, self.rng.choice(POINTS)


def _key() -> str:
    return str(uuid.uuid4())
