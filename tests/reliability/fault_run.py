"""One database-fault run: the hub as a real process whose every database connection goes
through a cuttable proxy, the transfer flow twice, and what the clients were told.

Phase one terminates the hub's PostgreSQL backends while each stage's calls are in flight;
phase two cuts the connection between hub and database, drops it and refuses new ones for a
while, then lets it through again. The hub is never restarted: it must recover by itself.
Afterwards every OK answer is replayed with its key, the ledger is checked after each phase,
and the day is settled. Nothing here asserts; the test judges the result.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url

from coalition.keys import PRIVATE_KEY_FILE, SigningKey, load_signing_key
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.tables import TransferRow
from exchange.config import ENVIRONMENT_NAMES, Settings
from partners.sdk.connection import connect
from tests.reliability import crash_harness
from tests.reliability.crash_harness import CommandResult, HubProcess
from tests.reliability.db_faults import (
    BackendTerminator,
    ConnectionCutter,
    Cut,
    CutPlan,
    Termination,
    TerminationTargets,
)
from tests.reliability.db_proxy import DatabaseProxy, database_proxy
from tests.reliability.fault_flow import FlowOutcome, FlowSize, TransferFlow
from tests.reliability.fault_load import Answer, LoadRecord, RetryingClient, run_stage
from tests.support import databases
from tests.support.transfer_setup import agree_rates, linked_member

AUDIENCE = crash_harness.AUDIENCE
MEMBERS = 8
# Far above what the run moves: caps are not under test here.
DAILY_CAP_POINTS = 100_000_000
# Nothing the clients leave unresolved may be voided behind their backs during the run.
TRANSFER_TIMEOUT_S = 900
RATE_LIMIT_PER_S = 100_000
TERMINATION_STAGES = frozenset(
    {
        "CreateQuote",
        "CreateTransfer",
        "ConfirmCredit",
        "RejectCredit",
        "CreateTransferBatch",
        "ConfirmCredits",
        "CreateReversal",
        "AckEvents",
        "EnrollMember",
        "CreateLinkCode",
        "RedeemLinkCode",
    }
)
TERMINATIONS_PER_STAGE_MAX = 5
TERMINATION_FLOW = FlowSize(quotes=36, batches=10, reversals=10, new_members=8)
CUT_FLOW = FlowSize(quotes=36, batches=10, reversals=10, new_members=6)


@dataclass
class PhaseResult:
    name: str
    record: LoadRecord
    outcome: FlowOutcome
    check: CommandResult
    seconds: float
    terminations: list[Termination] = field(default_factory=list)
    cuts: list[Cut] = field(default_factory=list)


@dataclass
class FaultRunResult:
    phases: list[PhaseResult]
    replays: list[tuple[Answer, Answer]]
    settlements: list[CommandResult]
    final_check: CommandResult
    hub_starts: int
    hub_exit_code: int

    def answers(self) -> list[Answer]:
        return [answer for phase in self.phases for answer in phase.record.answers]


@dataclass
class FaultRun:
    directory: Path
    database_url: str
    proxy: DatabaseProxy
    seed: int

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.hub_key_path = self.directory / "hub" / PRIVATE_KEY_FILE
        proxied = make_url(self.database_url).set(host="127.0.0.1", port=self.proxy.port)
        environment = crash_harness.hub_environment(
            proxied.render_as_string(hide_password=False),
            crash_harness.free_port(),
            self.hub_key_path,
        )
        environment[ENVIRONMENT_NAMES["transfer_timeout_s"]] = str(TRANSFER_TIMEOUT_S)
        environment[ENVIRONMENT_NAMES["rate_limit_per_s"]] = str(RATE_LIMIT_PER_S)
        environment[ENVIRONMENT_NAMES["rate_limit_burst"]] = str(RATE_LIMIT_PER_S)
        self.environment = environment
        port = int(environment[ENVIRONMENT_NAMES["listen_address"]].rsplit(":", 1)[1])
        self.hub = HubProcess(environment, port, self.directory)

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
        phases = [self._terminations(keys, members), self._cuts(keys, members)]
        replays = self._replays(keys, [a for p in phases for a in p.record.answers])
        settlements = self._settle()
        final_check = crash_harness.run_cli(self.environment, "check", cwd=self.directory)
        starts = self.hub.starts
        exit_code = self.hub.stop()
        return FaultRunResult(phases, replays, settlements, final_check, starts, exit_code)

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
        members: list[tuple[str, str]],
        size: FlowSize,
        faults: BackendTerminator | ConnectionCutter,
        record: LoadRecord,
    ) -> PhaseResult:
        client = RetryingClient(self.hub.target, keys, AUDIENCE, record)
        flow = TransferFlow(client, record, members, random.Random(self.rng.random()))
        began = time.monotonic()
        try:
            with faults:
                flow.run(size, lambda stage: None)
        finally:
            client.close()
        seconds = time.monotonic() - began
        check = crash_harness.run_cli(self.environment, "check", cwd=self.directory)
        return PhaseResult(name, record, flow.outcome, check, seconds)

    def _terminations(
        self, keys: dict[str, SigningKey], members: list[tuple[str, str]]
    ) -> PhaseResult:
        record = LoadRecord()
        targets = TerminationTargets(TERMINATIONS_PER_STAGE_MAX, TERMINATION_STAGES)
        terminator = BackendTerminator(
            databases.postgres_admin_url(), self.database_name, record, targets
        )
        result = self._phase(
            "backend terminations", keys, members, TERMINATION_FLOW, terminator, record
        )
        result.terminations = terminator.terminations
        return result

    def _cuts(self, keys: dict[str, SigningKey], members: list[tuple[str, str]]) -> PhaseResult:
        record = LoadRecord()
        cutter = ConnectionCutter(self.proxy, record, CutPlan(seed=self.rng.randrange(2**31)))
        result = self._phase("connection cuts", keys, members, CUT_FLOW, cutter, record)
        result.cuts = cutter.cuts
        return result

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
def fault_run(directory: Path, seed: int) -> Iterator[tuple[FaultRun, FaultRunResult]]:
    admin = make_url(databases.postgres_admin_url())
    with ExitStack() as stack:
        database_url = stack.enter_context(crash_harness.scratch_database())
        proxy = stack.enter_context(database_proxy(admin.host or "127.0.0.1", admin.port or 5432))
        run = FaultRun(directory, database_url, proxy, seed)
        stack.callback(run.close)
        yield run, run.execute()
