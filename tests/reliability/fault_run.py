"""One database-fault run: the hub as a real process (one, or several sharing the port) whose
every database connection goes through a cuttable proxy, the transfer flow twice, and what the
clients were told.

Phase one terminates the hub's PostgreSQL backends while each stage's calls are in flight;
phase two cuts the connection between hub and database, drops it and refuses new ones for a
while, then lets it through again. The day is then settled, and phase three terminates
backends during every other state-changing RPC (some need the settled day). The hub is never
restarted and none of its processes may die: it must recover by itself. Afterwards every OK
answer is replayed with its key; the ledger is checked after each phase. Nothing here
asserts; the test judges the result.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url

from coalition.keys import PRIVATE_KEY_FILE, SigningKey, load_signing_key
from coalition.v1 import identity_pb2 as ipb
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.tables import TransferRow
from exchange.config import ENVIRONMENT_NAMES, Settings
from partners.sdk.connection import connect
from tests.reliability import crash_harness
from tests.reliability.crash_harness import CommandResult
from tests.reliability.db_faults import (
    BackendTerminator,
    ConnectionCutter,
    Cut,
    CutPlan,
    Termination,
    TerminationTargets,
)
from tests.reliability.db_proxy import DatabaseProxy, database_proxy
from tests.reliability.fault_admin_calls import AdminCalls, AdminOutcome
from tests.reliability.fault_flow import FlowOutcome, FlowSize, TransferFlow
from tests.reliability.fault_flow_admin import PARTNERS, AdminFlow
from tests.reliability.fault_flow_settlement import SettledLine, SettlementStages
from tests.reliability.fault_load import Answer, LoadRecord, RetryingClient, run_stage
from tests.reliability.fault_rpcs import state_changing_rpcs
from tests.reliability.hub_process import HubProcess
from tests.support import databases
from tests.support.transfer_setup import agree_rates, linked_member

AUDIENCE = crash_harness.AUDIENCE
MEMBERS = 8
# Far above what the run moves: caps are not under test here.
DAILY_CAP_POINTS = 100_000_000
# Nothing the clients leave unresolved may be voided behind their backs during the run.
TRANSFER_TIMEOUT_S = 900
RATE_LIMIT_PER_S = 100_000
# Every state-changing RPC the hub declares has its backends terminated mid-call.
TERMINATION_STAGES = state_changing_rpcs()
TERMINATIONS_PER_STAGE_MAX = 5
TERMINATION_FLOW = FlowSize(quotes=36, batches=10, reversals=10, new_members=8)
CUT_FLOW = FlowSize(quotes=36, batches=10, reversals=10, new_members=6)
CUTS_MIN = 5
ADMINISTRATION_PHASE = "backend terminations: administration"
# Should the flow end before CUTS_MIN cuts, enrolments go on (rounds of this many) until then.
CUT_FILLER_CALLS = 24
CUT_FILLER_ROUNDS_MAX = 20


@dataclass
class PhaseResult:
    name: str
    record: LoadRecord
    outcome: FlowOutcome
    check: CommandResult
    seconds: float
    terminations: list[Termination] = field(default_factory=list)
    cuts: list[Cut] = field(default_factory=list)
    administration: AdminOutcome | None = None
    # Rounds each administration stage ran until a backend was terminated during it.
    rounds: dict[str, int] = field(default_factory=dict)


@dataclass
class FaultRunResult:
    phases: list[PhaseResult]
    replays: list[tuple[Answer, Answer]]
    settlements: list[CommandResult]
    final_check: CommandResult
    hub_starts: int
    hub_exit_code: int
    processes: int
    # The hub's serving processes when the faults began, and when they ended: the same pids
    # unless a process died and was replaced.
    workers_before: set[int]
    workers_after: set[int]

    def answers(self) -> list[Answer]:
        return [answer for phase in self.phases for answer in phase.record.answers]


@dataclass
class FaultRun:
    directory: Path
    database_url: str
    proxy: DatabaseProxy
    seed: int
    processes: int

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.hub_key_path = self.directory / "hub" / PRIVATE_KEY_FILE
        proxied = make_url(self.database_url).set(host="127.0.0.1", port=self.proxy.port)
        environment = crash_harness.hub_environment(
            proxied.render_as_string(hide_password=False),
            crash_harness.free_port(),
            self.hub_key_path,
            self.processes,
        )
        environment[ENVIRONMENT_NAMES["transfer_timeout_s"]] = str(TRANSFER_TIMEOUT_S)
        environment[ENVIRONMENT_NAMES["rate_limit_per_s"]] = str(RATE_LIMIT_PER_S)
        environment[ENVIRONMENT_NAMES["rate_limit_burst"]] = str(RATE_LIMIT_PER_S)
        self.environment = environment
        port = int(environment[ENVIRONMENT_NAMES["listen_address"]].rsplit(":", 1)[1])
        self.hub = HubProcess(environment, port, self.directory, self.processes)

    @property
    def database_name(self) -> str:
        return str(make_url(self.database_url).database)

    def execute(self) -> FaultRunResult:
        crash_harness.onboard(self.directory, self.environment, self.hub_key_path)
        self.hub.start()
        keys = {
            p: load_signing_key(self.directory / "partners" / p / PRIVATE_KEY_FILE)
            for p in ("skyway", "harbor", "orbit")
        }
        members = self._agree_and_link(keys)
        workers_before = self.hub.workers()
        phases = [self._terminations(keys, members), self._cuts(keys, members)]
        settlements = self._settle()
        # Reconciliation and disputes need a settled day: this phase comes after settling.
        phases.append(self._administration(keys, members))
        replays = self._replays(keys, [a for p in phases for a in p.record.answers])
        final_check = crash_harness.run_cli(self.environment, "check", cwd=self.directory)
        workers_after = self.hub.workers()
        starts = self.hub.starts
        exit_code = self.hub.stop()
        return FaultRunResult(
            phases,
            replays,
            settlements,
            final_check,
            starts,
            exit_code,
            self.processes,
            workers_before,
            workers_after,
        )

    def close(self) -> None:
        self.hub.stop()

    def _agree_and_link(self, keys: dict[str, SigningKey]) -> list[tuple[str, str]]:
        hub_key = load_signing_key(self.hub_key_path)
        trusted = {hub_key.key_id: hub_key.public_key_bytes}
        skyway, harbor = (
            connect(self.hub.target, p, keys[p], AUDIENCE, trusted) for p in ("skyway", "harbor")
        )
        try:
            agree_rates(skyway, harbor, daily_cap_source_points=DAILY_CAP_POINTS)
            agree_rates(harbor, skyway, daily_cap_source_points=DAILY_CAP_POINTS)
            return [linked_member(skyway, harbor) for _ in range(MEMBERS)]
        finally:
            skyway.close()
            harbor.close()

    def _phase(
        self,
        name: str,
        keys: dict[str, SigningKey],
        faults: BackendTerminator | ConnectionCutter,
        drive: Callable[[RetryingClient], FlowOutcome],
    ) -> PhaseResult:
        record = faults.record
        client = RetryingClient(self.hub.target, keys, AUDIENCE, record)
        began = time.monotonic()
        try:
            with faults:
                outcome = drive(client)
        finally:
            client.close()
        seconds = time.monotonic() - began
        check = crash_harness.run_cli(self.environment, "check", cwd=self.directory)
        return PhaseResult(name, record, outcome, check, seconds)

    def _flow(
        self, client: RetryingClient, members: list[tuple[str, str]], size: FlowSize
    ) -> FlowOutcome:
        flow = TransferFlow(client, client.record, members, random.Random(self.rng.random()))
        flow.run(size, lambda stage: None)
        return flow.outcome

    def _terminator(self) -> BackendTerminator:
        targets = TerminationTargets(TERMINATIONS_PER_STAGE_MAX, TERMINATION_STAGES)
        admin_url = databases.postgres_admin_url()
        return BackendTerminator(admin_url, self.database_name, LoadRecord(), targets)

    def _terminations(
        self, keys: dict[str, SigningKey], members: list[tuple[str, str]]
    ) -> PhaseResult:
        terminator = self._terminator()
        result = self._phase(
            "backend terminations",
            keys,
            terminator,
            lambda client: self._flow(client, members, TERMINATION_FLOW),
        )
        result.terminations = terminator.terminations
        return result

    def _cuts(self, keys: dict[str, SigningKey], members: list[tuple[str, str]]) -> PhaseResult:
        plan = CutPlan(seed=self.rng.randrange(2**31))
        cutter = ConnectionCutter(self.proxy, LoadRecord(), plan)

        def drive(client: RetryingClient) -> FlowOutcome:
            outcome = self._flow(client, members, CUT_FLOW)
            self._enrol_until_cut(client, cutter)
            return outcome

        result = self._phase("connection cuts", keys, cutter, drive)
        result.cuts = cutter.cuts
        return result

    @staticmethod
    def _enrol_until_cut(client: RetryingClient, cutter: ConnectionCutter) -> None:
        """A quick flow can end before the cutter has cut often enough: load goes on."""

        def enrol() -> Answer:
            return client.call("EnrollMember", "skyway", ipb.EnrollMemberRequest())

        for _ in range(CUT_FILLER_ROUNDS_MAX):
            if len(cutter.cuts) >= CUTS_MIN:
                return
            run_stage(client.record, "EnrollMember", [enrol] * CUT_FILLER_CALLS)

    def _administration(
        self, keys: dict[str, SigningKey], members: list[tuple[str, str]]
    ) -> PhaseResult:
        terminator = self._terminator()
        calls: list[AdminCalls] = []
        rounds: dict[str, int] = {}

        def drive(client: RetryingClient) -> FlowOutcome:
            calls.append(AdminCalls(client, client.record, lambda: time.time_ns() // 1000))
            settled = SettlementStages(calls[0], PARTNERS, self._settled_lines())
            flow = AdminFlow(calls[0], members, settled, lambda rpc: terminator.by_stage[rpc])
            flow.rounds = rounds
            flow.run()
            return FlowOutcome(refused=calls[0].refused)

        result = self._phase(ADMINISTRATION_PHASE, keys, terminator, drive)
        result.terminations = terminator.terminations
        result.administration = calls[0].outcome
        result.rounds = rounds
        return result

    def _settled_lines(self) -> list[SettledLine]:
        """The settled day with the most records, as lines: who paid whom how much."""
        engine = create_database_engine(self.database_url, pool_size=1)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    select(
                        TransferRow.business_day,
                        TransferRow.transfer_id,
                        TransferRow.kind,
                        TransferRow.source_partner_id,
                        TransferRow.destination_partner_id,
                        TransferRow.currency,
                        TransferRow.settlement_amount_minor,
                    ).where(TransferRow.state == "completed", TransferRow.business_day.is_not(None))
                ).all()
        finally:
            engine.dispose()
        lines = [
            SettledLine(day, tid, *((d, s) if kind == "reversal" else (s, d)), currency, amount)
            for day, tid, kind, s, d, currency, amount in rows
            if day is not None
        ]
        busiest = Counter(line.business_day for line in lines).most_common(1)[0][0]
        return sorted(
            (line for line in lines if line.business_day == busiest),
            key=lambda line: line.transfer_id,
        )

    def _replays(
        self, keys: dict[str, SigningKey], answers: list[Answer]
    ) -> list[tuple[Answer, Answer]]:
        """Every OK answer asked again with its key and body, with no fault injected."""
        record = LoadRecord()
        client = RetryingClient(self.hub.target, keys, AUDIENCE, record)
        originals = [answer for answer in answers if answer.ok]
        tasks = [(lambda a=a: client.send(a.rpc, a.partner_id, a.body, a.key)) for a in originals]
        try:
            replayed = run_stage(record, "replays", tasks)
        finally:
            client.close()
        return list(zip(originals, replayed, strict=True))

    def _settle(self) -> list[CommandResult]:
        """Settles every day a transfer completed in (today, and yesterday should the run
        have crossed the cut-off)."""
        calendar = Settings.load(environ=self.environment).calendar
        today = calendar.business_day_of(time.time_ns() // 1000).isoformat()
        engine = create_database_engine(self.database_url, pool_size=1)
        try:
            with engine.connect() as connection:
                days = set(connection.scalars(select(TransferRow.business_day).distinct()))
        finally:
            engine.dispose()
        results = []
        for day in sorted({today} | {d for d in days if d}):
            out = str(self.directory / "exports" / day)
            arguments = ("settle", "--date", day, "--close-now", "--out", out)
            results.append(crash_harness.run_cli(self.environment, *arguments, cwd=self.directory))
        return results


@contextmanager
def fault_run(
    directory: Path, seed: int, processes: int
) -> Iterator[tuple[FaultRun, FaultRunResult]]:
    admin = make_url(databases.postgres_admin_url())
    with ExitStack() as stack:
        database_url = stack.enter_context(crash_harness.scratch_database())
        proxy = stack.enter_context(database_proxy(admin.host or "127.0.0.1", admin.port or 5432))
        run = FaultRun(directory, database_url, proxy, seed, processes)
        stack.callback(run.close)
        yield run, run.execute()
