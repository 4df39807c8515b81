"""The crash runs and their checks. Each run (a module fixture, once per hub process count)
feeds every test here, so they stay in this one module."""

from __future__ import annotations

import os
import random
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from coalition.v1 import event_pb2
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.tables import EventRow, TransferRow
from tests.reliability import crash_harness
from tests.reliability.conftest import ReliabilityTally, processes_label
from tests.reliability.crash_kills import HUB, HUB_KILL_COUNT_MIN, WORKER, WORKER_KILL_COUNT_MIN
from tests.reliability.crash_recovery.support import (
    EVENTS_OF_STATE,
    HUB_PROCESSES,
    TRANSFER_BODIES,
    CrashRunAndResult,
    FeedEvent,
    HubTransfer,
    hub_transfer,
    shown,
)
from tests.reliability.ledger_checks import expected_nets, settled_day
from tests.support import databases


@pytest.fixture(scope="module", params=HUB_PROCESSES, ids=processes_label)
def crash_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CrashRunAndResult]:
    databases.require_or_skip_postgres()
    processes = int(request.param)
    seed = int(os.environ.get("COALITION_CRASH_SEED") or random.randrange(2**31))
    directory = tmp_path_factory.mktemp(f"crash-recovery-{processes_label(processes)}")
    print(f"\ncrash recovery, {processes_label(processes)}: seed {seed}, files in {directory}")
    with crash_harness.scratch_database() as database_url:
        run = crash_harness.CrashRun(directory, database_url, seed, processes)
        try:
            result = run.execute()
            print(f"crash recovery: {result.describe()}")
            yield run, result
        finally:
            run.close()


@pytest.fixture(scope="module")
def result(crash_run: CrashRunAndResult) -> crash_harness.CrashRunResult:
    return crash_run[1]


@pytest.fixture(scope="module")
def tally(
    result: crash_harness.CrashRunResult, reliability_tally: ReliabilityTally
) -> ReliabilityTally:
    """The run's figures, counted for its number of hub processes."""
    return reliability_tally.per_processes(result.processes)


@pytest.fixture(scope="module")
def engine(crash_run: CrashRunAndResult) -> Iterator[Engine]:
    engine = create_database_engine(crash_run[0].database_url, pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def transfers(engine: Engine) -> dict[str, HubTransfer]:
    with Session(engine) as session:
        rows = session.scalars(select(TransferRow)).all()
        return {row.transfer_id: hub_transfer(row) for row in rows}


@pytest.fixture(scope="module")
def events(engine: Engine) -> list[FeedEvent]:
    """Every event of every feed, read from its signed payload."""
    query = select(EventRow.event_id, EventRow.partner_id, EventRow.sequence, EventRow.payload)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    found = []
    for event_id, partner_id, sequence, payload_bytes in rows:
        payload = event_pb2.EventPayload.FromString(payload_bytes)
        body = payload.WhichOneof("body") or ""
        transfer_id = getattr(payload, body).transfer_id if body in TRANSFER_BODIES else ""
        found.append(FeedEvent(event_id, partner_id, sequence, body, transfer_id))
    return found


# --- the run itself ---------------------------------------------------------------------------


def test_the_hub_was_killed_and_restarted_and_every_partner_drained(
    crash_run: CrashRunAndResult, tally: ReliabilityTally
) -> None:
    run, result = crash_run
    hub_kills, worker_kills = result.kills_of(HUB), result.kills_of(WORKER)
    assert HUB_KILL_COUNT_MIN <= len(hub_kills) <= run.plan.hub_kills, result.describe()
    if run.processes > 1:
        assert WORKER_KILL_COUNT_MIN <= len(worker_kills) <= run.plan.worker_kills, (
            result.describe()
        )
    else:
        assert worker_kills == [], "one process: every kill is of the whole hub"
    assert result.hub_starts == len(hub_kills) + 1
    assert result.hub_exit_code == 0, "the last hub did not stop cleanly on SIGTERM"
    for partner_id, report in result.reports.items():
        assert report["errors"] == [], f"{partner_id}: {report['errors']}"
        assert report["drained"], f"{partner_id} still owed answers or held transfers"
        assert result.partner_exit_codes[partner_id] == 0
    internal = sum(
        count
        for report in result.reports.values()
        for outcome, count in report["outcomes"].items()
        if " INTERNAL" in outcome or " UNKNOWN" in outcome
    )
    tally.add("INTERNAL answers", internal)
    assert internal == 0, {p: report["outcomes"] for p, report in result.reports.items()}
    tally.add("hub crashes survived (SIGKILL)", len(hub_kills))
    tally.add("hub restarts on the same port", result.hub_starts - 1)
    if worker_kills:
        tally.add("hub workers killed (SIGKILL)", len(worker_kills))
        holders = sum(kill.lease_holder for kill in worker_kills)
        tally.add("hub workers killed holding the scheduler lease", holders)


# --- transfers --------------------------------------------------------------------------------


def test_every_accepted_transfer_reached_exactly_one_final_state(
    transfers: dict[str, HubTransfer],
    events: list[FeedEvent],
    tally: ReliabilityTally,
) -> None:
    assert transfers, "the run started no transfer at all"
    unresolved = [t.transfer_id for t in transfers.values() if t.state not in EVENTS_OF_STATE]
    assert unresolved == [], f"not final after recovery: {shown(unresolved)}"

    found: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    strays = []
    for event in events:
        transfer = transfers.get(event.transfer_id)
        if event.body not in TRANSFER_BODIES:
            continue
        if transfer is None:
            strays.append(event.event_id)
            continue
        role = "destination" if event.partner_id == transfer.destination else "source"
        found[event.transfer_id][(role, event.body)] += 1
    assert strays == [], f"events for transfers the hub does not hold: {shown(strays)}"
    wrong = [
        (t.transfer_id, t.state, dict(found[t.transfer_id]))
        for t in transfers.values()
        if found[t.transfer_id] != Counter(EVENTS_OF_STATE[t.state])
    ]
    assert wrong == [], f"feeds disagree with the final state: {shown(wrong)}"

    outcomes = Counter(t.void_reason or t.state for t in transfers.values())
    # The destinations refuse some credits, so refunds are exercised in every run. (Timeouts,
    # from the paused feed, depend on the hub being up during the pause: tallied, not required.)
    assert outcomes["rejected"] > 0, f"no transfer was voided by a rejection: {outcomes}"
    tally.add("transfers checked exactly-once", len(transfers))
    tally.add("transfers completed", outcomes["completed"])
    tally.add("transfers voided (credit rejected)", outcomes["rejected"])
    tally.add("transfers voided (timed out)", outcomes["timed_out"])


def test_each_source_program_agrees_with_the_hub_on_every_transfer(
    result: crash_harness.CrashRunResult,
    transfers: dict[str, HubTransfer],
    tally: ReliabilityTally,
) -> None:
    hub_quotes = {t.quote_id for t in transfers.values()}
    checked = 0
    for partner_id, report in result.reports.items():
        rows = report["outgoing"]
        started = {row["transfer_id"]: row for row in rows if row["transfer_id"] is not None}
        at_hub = {t.transfer_id for t in transfers.values() if t.source == partner_id}
        assert set(started) == at_hub, (
            f"{partner_id}: transfers only the hub holds "
            f"{shown(sorted(at_hub - set(started)))}, only the program "
            f"{shown(sorted(set(started) - at_hub))}"
        )
        disagreeing = [
            (transfer_id, row["state"], transfers[transfer_id].state)
            for transfer_id, row in started.items()
            if row["state"] != transfers[transfer_id].state
        ]
        assert disagreeing == [], f"{partner_id}: program vs hub state {shown(disagreeing)}"
        never_started = [row for row in rows if row["transfer_id"] is None]
        not_refused = [row["idempotency_key"] for row in never_started if row["state"] != "refused"]
        assert not_refused == [], f"{partner_id}: rows neither started nor refused {not_refused}"
        # A refused row was refunded: the hub must not hold a transfer under its quote.
        refunded_but_live = [
            row["quote_id"] for row in never_started if row["quote_id"] in hub_quotes
        ]
        assert refunded_but_live == [], f"{partner_id}: refunded yet at the hub {refunded_but_live}"
        assert report["early_outcomes"] == [], f"{partner_id}: outcomes never matched to a row"
        checked += len(rows)
    tally.add("source transfer records matched to the hub", checked)
    unknown_at_first = sum(
        report["outcomes"].get("transfer_out -> pending", 0) for report in result.reports.values()
    )
    tally.add("transfers resumed with the same key after a crash", unknown_at_first)


# --- feeds ------------------------------------------------------------------------------------


def test_every_feed_event_was_applied_exactly_once_by_its_program(
    result: crash_harness.CrashRunResult,
    events: list[FeedEvent],
    engine: Engine,
    tally: ReliabilityTally,
) -> None:
    positions = crash_harness.feed_positions(engine)
    behind = {p: position for p, position in positions.items() if position[0] != position[1]}
    assert behind == {}, f"feeds not acknowledged to the end (last, acked): {behind}"
    for partner_id, report in result.reports.items():
        applications = Counter(row["event_id"] for row in report["applications"])
        twice = sorted(event_id for event_id, count in applications.items() if count > 1)
        tally.add("duplicated", len(twice))
        assert twice == [], f"{partner_id} applied events more than once: {shown(twice)}"
        in_feed = {event.event_id for event in events if event.partner_id == partner_id}
        missed = sorted(in_feed - set(applications))
        tally.add("lost", len(missed))
        assert missed == [], f"{partner_id} never applied: {shown(missed)}"
        unknown = sorted(set(applications) - in_feed)
        assert unknown == [], f"{partner_id} applied events not in its feed: {shown(unknown)}"
        recorded = {row["event_id"] for row in report["processed_events"]}
        assert recorded == in_feed, f"{partner_id}: processed_events differs from the feed"
        unsent = [row["transfer_id"] for row in report["outbox"] if not row["sent"]]
        assert unsent == [], f"{partner_id} still owes the hub answers: {shown(unsent)}"
    tally.add("feed events checked applied-once", len(events))
    late = sum(
        row["outcome"] == "resolved_first"
        for report in result.reports.values()
        for row in report["outbox"]
    )
    tally.add("credits undone after a timeout won the race", late)


def test_every_member_balance_is_moved_by_exactly_the_completed_transfers(
    result: crash_harness.CrashRunResult,
    transfers: dict[str, HubTransfer],
    tally: ReliabilityTally,
) -> None:
    """Source debits less refunds, and destination credits less undone ones, equal what the
    hub completed: a lost credit, a double credit or a double refund each shows up here."""
    member_of = {
        (partner_id, member["ppid"]): member["member_number"]
        for partner_id, report in result.reports.items()
        for member in report["members"]
    }
    expected: dict[tuple[str, str], int] = {
        (partner_id, number): crash_harness.OPENING_POINTS
        for (partner_id, _ppid), number in member_of.items()
    }
    for transfer in transfers.values():
        assert transfer.kind == "transfer", "the run makes no reversals"
        if transfer.state != "completed":
            continue
        source = (transfer.source, member_of[(transfer.source, transfer.source_ppid)])
        destination = (
            transfer.destination,
            member_of[(transfer.destination, transfer.destination_ppid)],
        )
        expected[source] -= transfer.source_points
        expected[destination] += transfer.destination_points
    actual = {
        (partner_id, member["member_number"]): member["points"]
        for partner_id, report in result.reports.items()
        for member in report["members"]
    }
    off = sorted(
        (key, actual[key], points) for key, points in expected.items() if actual[key] != points
    )
    assert off == [], f"(partner, member), balance, expected: {shown(off)}"
    tally.add("member balances checked against the hub", len(actual))


# --- ledger and settlement --------------------------------------------------------------------


def test_the_ledger_checker_passes(crash_run: CrashRunAndResult, tally: ReliabilityTally) -> None:
    run, _ = crash_run
    check = crash_harness.run_cli(run.environment, "check", cwd=run.directory)
    assert check.exit_code == 0, check.describe()
    tally.add("`coalition check` runs passed", 1)


def test_settling_the_day_nets_to_zero_and_the_ledger_still_checks(
    crash_run: CrashRunAndResult,
    transfers: dict[str, HubTransfer],
    engine: Engine,
    tally: ReliabilityTally,
) -> None:
    run, result = crash_run
    completed = [t for t in transfers.values() if t.state == "completed"]
    # Today, and yesterday too should the run have crossed the cut-off.
    days = sorted({t.business_day for t in completed if t.business_day} | {result.today})
    for day in days:
        out = str(run.directory / "exports" / day)
        arguments = ("settle", "--date", day, "--close-now", "--out", out)
        settle = crash_harness.run_cli(run.environment, *arguments, cwd=run.directory)
        assert settle.exit_code == 0, settle.describe()
        on_day = [t for t in completed if t.business_day == day]
        settled = settled_day(engine, day)
        assert all(total == 0 for total in settled.net_totals.values()), settled.net_totals
        assert settled.nets == expected_nets(on_day), f"{day}: positions differ from transfers"
        assert settled.transfer_ids == sorted(t.transfer_id for t in on_day), f"{day}: records"
        assert settled.paid["pay_in"] == settled.paid["pay_out"], f"{day}: {settled.paid}"
        tally.add("settlement days netted to zero", 1)
        tally.add("completed transfers settled exactly once", len(on_day))
    check = crash_harness.run_cli(run.environment, "check", cwd=run.directory)
    assert check.exit_code == 0, f"after settlement: {check.describe()}"
