"""The database fails under the hub (issue 18, items 5 and 6): PostgreSQL backends terminated
mid-call, and the connection between hub and database cut under load, while partners run the
whole transfer flow and retry on the same idempotency keys; then, on the settled day, backends
terminated during every other RPC the hub declares state-changing (keys, rate and recognition
agreements, tiers, programme totals, reconciliation, disputes, unlinking, erasure). The list
the test demands is the hub's own policy table, so a new RPC cannot be left out. The hub
recovers by itself.

Afterwards: no answer was INTERNAL (a lost database is UNAVAILABLE, to be retried); every
call got a definitive answer (none lost); each idempotency key is exactly one transfer and
its replay is byte-identical (none duplicated); every transfer, and every administrative
change, is as its clients were told; `coalition check` passes after each phase; settling the
day conserves money.

The whole scenario runs twice: against one hub process, and against two sharing the port,
whose clients spread their calls (and retries on the same keys) over both. Each run (a module
fixture, under a minute) feeds every test. COALITION_FAULT_SEED replays its random choices;
the timing of faults against calls differs run to run.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import grpc
import pytest
from sqlalchemy import Engine, select

from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.tables import TransferRow
from tests.reliability import fault_admin_state, fault_run
from tests.reliability.conftest import ReliabilityTally, processes_label
from tests.reliability.fault_rpcs import state_changing_rpcs
from tests.reliability.fault_run import (
    ADMINISTRATION_PHASE,
    CUTS_MIN,
    FaultRun,
    FaultRunResult,
    PhaseResult,
)
from tests.reliability.ledger_checks import expected_nets, settled_day
from tests.support import databases

Code = grpc.StatusCode
# Every RPC the hub declares state-changing must have had a backend terminated mid-call.
TERMINATED_RPCS_REQUIRED = state_changing_rpcs()
TERMINATIONS_MIN = 20
# The scenario runs against each of these numbers of hub processes.
HUB_PROCESSES = (1, 2)
SHOWN_MAX = 10
# The application_name of a hub process's database connections, then its pid.
HUB_PREFIX = "coalition-hub-"

RunAndResult = tuple[FaultRun, FaultRunResult]


@pytest.fixture(scope="module", params=HUB_PROCESSES, ids=processes_label)
def run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunAndResult]:
    databases.require_or_skip_postgres()
    processes = int(request.param)
    seed = int(os.environ.get("COALITION_FAULT_SEED") or random.randrange(2**31))
    directory = tmp_path_factory.mktemp(f"database-faults-{processes_label(processes)}")
    print(f"\ndatabase faults, {processes_label(processes)}: seed {seed}, files in {directory}")
    with fault_run.fault_run(directory, seed, processes) as (fault, result):
        for phase in result.phases:
            print(f"database faults: {describe(phase)}")
        for settled in result.settlements:
            print(f"database faults: {' '.join(settled.arguments[:3])} exited {settled.exit_code}")
        yield fault, result


@pytest.fixture(scope="module")
def result(run: RunAndResult) -> FaultRunResult:
    return run[1]


@pytest.fixture(scope="module")
def tally(result: FaultRunResult, reliability_tally: ReliabilityTally) -> ReliabilityTally:
    """The run's figures, counted for its number of hub processes."""
    return reliability_tally.per_processes(result.processes)


@pytest.fixture(scope="module")
def phases(result: FaultRunResult) -> dict[str, PhaseResult]:
    return {phase.name: phase for phase in result.phases}


@dataclass(frozen=True)
class HubTransfer:
    transfer_id: str
    kind: str
    state: str
    void_reason: str | None
    source: str
    destination: str
    currency: str
    amount_minor: int
    fee_minor: int
    business_day: str | None


@pytest.fixture(scope="module")
def engine(run: RunAndResult) -> Iterator[Engine]:
    engine = create_database_engine(run[0].database_url, pool_size=1)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def transfers(engine: Engine) -> dict[str, HubTransfer]:
    columns = (
        TransferRow.transfer_id,
        TransferRow.kind,
        TransferRow.state,
        TransferRow.void_reason,
        TransferRow.source_partner_id,
        TransferRow.destination_partner_id,
        TransferRow.currency,
        TransferRow.settlement_amount_minor,
        TransferRow.fee_minor,
        TransferRow.business_day,
    )
    with engine.connect() as connection:
        rows = connection.execute(select(*columns))
        return {row[0]: HubTransfer(*row) for row in rows}  # type: ignore[call-arg]


def describe(phase: PhaseResult) -> str:
    by_code: Counter[str] = Counter()
    for (_rpc, code_name), count in phase.record.attempts.items():
        by_code[code_name] += count
    by_stage = dict(Counter(t.stage for t in phase.terminations))
    faults = (
        f"{len(phase.terminations)} terminations {by_stage}"
        if phase.terminations
        else f"{len(phase.cuts)} cuts, {sum(c.dropped for c in phase.cuts)} connections dropped"
    )
    rounds = f"; rounds until a termination {phase.rounds}" if phase.rounds else ""
    refused = Counter(f"{a.rpc} {a.code.name}" for a in phase.record.answers if not a.ok)
    refusals = f"; refused {dict(refused)}" if refused else ""
    return (
        f"{phase.name}: {phase.seconds:.1f} s, {faults}; attempts {dict(by_code)}{rounds}{refusals}"
    )


def shown(items: Sequence[object]) -> str:
    more = f" (and {len(items) - SHOWN_MAX} more)" if len(items) > SHOWN_MAX else ""
    return f"{items[:SHOWN_MAX]}{more}"


# --- the faults happened -----------------------------------------------------------------------


def test_backends_were_terminated_mid_call_in_every_state_changing_rpc(
    phases: dict[str, PhaseResult], tally: ReliabilityTally
) -> None:
    terminations = [t for phase in phases.values() for t in phase.terminations]
    by_rpc = Counter(t.stage for t in terminations)
    for rpc, count in sorted(by_rpc.items()):
        tally.add(f"backend terminations mid-call: {rpc}", count)
    tally.add("database backends terminated mid-call", len(terminations))
    hubs = Counter(t.application for t in terminations if t.application.startswith(HUB_PREFIX))
    tally.add("database backends terminated mid-call: hub processes hit", len(hubs))
    missing = sorted(TERMINATED_RPCS_REQUIRED - set(by_rpc))
    assert missing == [], f"no backend terminated during {missing}; got {dict(by_rpc)}"
    assert len(terminations) >= TERMINATIONS_MIN, dict(by_rpc)


def test_every_hub_process_had_backends_terminated_mid_call(
    result: FaultRunResult, phases: dict[str, PhaseResult]
) -> None:
    """With two processes the clients' calls, and so the faults, reach both of them."""
    terminations = [t for phase in phases.values() for t in phase.terminations]
    hubs = Counter(t.application for t in terminations if t.application.startswith(HUB_PREFIX))
    assert hubs.keys() == {f"{HUB_PREFIX}{pid}" for pid in result.workers_before}, dict(hubs)


def test_the_database_connection_was_cut_under_load(
    phases: dict[str, PhaseResult], tally: ReliabilityTally
) -> None:
    cuts = phases["connection cuts"].cuts
    tally.add("database connection cuts under load", len(cuts))
    tally.add("database connections dropped by the cuts", sum(c.dropped for c in cuts))
    assert len(cuts) >= CUTS_MIN, f"only {len(cuts)} cuts"
    assert sum(c.dropped for c in cuts) > 0, "no cut found a connection to drop"


def test_the_hub_recovered_by_itself(result: FaultRunResult) -> None:
    assert result.hub_starts == 1, "the hub was restarted"
    assert len(result.workers_before) == result.processes
    assert result.workers_after == result.workers_before, "a hub process died and was replaced"
    assert result.hub_exit_code == 0, "the hub did not stop cleanly on SIGTERM"


# --- what the clients were told ----------------------------------------------------------------


def test_no_answer_was_internal(result: FaultRunResult, tally: ReliabilityTally) -> None:
    """Each attempt counts, not only the final answer: a retry must not hide an INTERNAL."""
    internal: Counter[str] = Counter()
    for phase in result.phases:
        for code in (Code.INTERNAL, Code.UNKNOWN):
            internal.update(phase.record.attempts_with(code))
        for (rpc, code_name), count in phase.record.attempts.items():
            tally.add(f"database faults: {phase.name}: {rpc} {code_name}", count)
    tally.add("INTERNAL answers", sum(internal.values()))
    assert internal == Counter(), f"INTERNAL or UNKNOWN answers by RPC: {dict(internal)}"


def test_every_call_got_a_definitive_answer_and_none_was_refused(
    result: FaultRunResult, tally: ReliabilityTally
) -> None:
    """The flow asks only what the hub must grant: a refusal means a retry met the state its
    first attempt left (e.g. "not pending" after the first confirmation committed)."""
    answers = result.answers()
    unanswered = [(a.rpc, a.code.name, a.attempts) for a in answers if a.unanswered]
    tally.add("lost", len(unanswered))
    tally.add("database faults: calls answered", len(answers))
    tally.add(
        "database faults: calls retried with the same key", sum(a.attempts > 1 for a in answers)
    )
    assert unanswered == [], f"no definitive answer: {shown(unanswered)}"
    refused = [(a.stage, a.rpc, a.code.name, a.reason) for a in answers if not a.ok]
    assert refused == [], f"refused: {shown(refused)}"


def test_each_idempotency_key_is_exactly_one_transfer(
    phases: dict[str, PhaseResult],
    transfers: dict[str, HubTransfer],
    tally: ReliabilityTally,
) -> None:
    created: dict[str, str] = {}
    for phase in phases.values():
        created.update(phase.outcome.created)
        created.update(phase.outcome.reversals)
    told = Counter(created.values())
    shared = sorted(tid for tid, keys in told.items() if keys > 1)
    at_hub_only = sorted(set(transfers) - set(told))
    told_only = sorted(set(told) - set(transfers))
    tally.add("duplicated", len(shared) + len(at_hub_only))
    tally.add("lost", len(told_only))
    tally.add("database faults: transfers checked exactly-once", len(transfers))
    assert shared == [], f"one transfer under several keys: {shown(shared)}"
    assert at_hub_only == [], f"transfers no client was told of: {shown(at_hub_only)}"
    assert told_only == [], f"transfers clients were told of, missing at the hub: {told_only}"


def test_every_replay_is_byte_identical(result: FaultRunResult, tally: ReliabilityTally) -> None:
    differing = [
        (first.rpc, first.key, replay.code.name)
        for first, replay in result.replays
        if replay.code is not Code.OK or replay.response != first.response
    ]
    tally.add("database faults: replays byte-identical", len(result.replays))
    tally.add("duplicated", len(differing))
    assert result.replays, "nothing was replayed"
    assert differing == [], f"replays that differ from the first answer: {shown(differing)}"


def test_every_transfer_is_in_the_state_its_clients_were_told(
    phases: dict[str, PhaseResult], transfers: dict[str, HubTransfer]
) -> None:
    confirmed = set().union(*(p.outcome.confirmed for p in phases.values()))
    rejected = set().union(*(p.outcome.rejected for p in phases.values()))
    wrong = [
        (tid, t.state, t.void_reason)
        for tid, t in transfers.items()
        if (tid in confirmed and t.state != "completed")
        or (tid in rejected and (t.state, t.void_reason) != ("voided", "rejected"))
        or (tid not in confirmed | rejected)
    ]
    assert wrong == [], f"(transfer, state, void reason) unlike what was answered: {shown(wrong)}"


def test_every_administration_call_left_the_state_its_client_was_told(
    phases: dict[str, PhaseResult], engine: Engine, tally: ReliabilityTally
) -> None:
    """Versions, keys, grants, reports, uploads, disputes and members: each OK answer is one
    change at the hub, and the hub holds no change that no client was told of."""
    told = phases[ADMINISTRATION_PHASE].administration
    assert told is not None
    found = fault_admin_state.differences(engine, told)
    tally.add("database faults: administration states checked", len(found))
    wrong = {check: shown(items) for check, items in found.items() if items}
    assert wrong == {}, f"unlike what the clients were told: {wrong}"


# --- the ledger ----------------------------------------------------------------------------------


def test_the_ledger_checker_passes_after_each_phase(
    result: FaultRunResult, tally: ReliabilityTally
) -> None:
    for phase in result.phases:
        assert phase.check.exit_code == 0, f"after {phase.name}: {phase.check.describe()}"
        tally.add("`coalition check` runs passed", 1)
    assert result.final_check.exit_code == 0, f"after settling: {result.final_check.describe()}"
    tally.add("`coalition check` runs passed", 1)


def test_settling_conserves_money(
    result: FaultRunResult,
    transfers: dict[str, HubTransfer],
    engine: Engine,
    tally: ReliabilityTally,
) -> None:
    for settlement in result.settlements:
        assert settlement.exit_code == 0, settlement.describe()
    completed = [t for t in transfers.values() if t.state == "completed"]
    for day in sorted({t.business_day for t in completed if t.business_day}):
        on_day = [t for t in completed if t.business_day == day]
        settled = settled_day(engine, day)
        assert all(total == 0 for total in settled.net_totals.values()), settled.net_totals
        assert settled.nets == expected_nets(on_day), f"{day}: positions differ from transfers"
        assert settled.transfer_ids == sorted(t.transfer_id for t in on_day), f"{day}: records"
        assert settled.paid["pay_in"] == settled.paid["pay_out"], f"{day}: {settled.paid}"
        tally.add("settlement days netted to zero", 1)
