"""Transfers under concurrency (DESIGN §3.4, §4.2, §5, §6, §7.1-7.4), on SQLite and PostgreSQL.

Many calls are released at once by a barrier against a hub with 32 worker threads. Whatever
interleaving the database allows, a transfer resolves exactly once, an idempotency key yields
one response, a daily cap holds, hot accounts never surface a deadlock, and the ledger checker
finds nothing.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator

import grpc
import pytest
from sqlalchemy import Engine, func, select

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import exchange_pb2 as xpb
from exchange.adapters.sql.ledger_check import check_ledger
from exchange.adapters.sql.tables import (
    EventRow,
    IdempotencyRecordRow,
    LedgerAccountRow,
    TransferRow,
)
from exchange.bootstrap import bootstrap
from exchange.config import Settings
from tests.support.coalition import AUDIENCE, TestCoalition, seed_partners
from tests.support.raw_calls import SignedRequest, new_idempotency_key
from tests.support.transfer_setup import (
    CONFIRM_CREDIT,
    CREATE_TRANSFER,
    EXCHANGE,
    REJECT_CREDIT,
    OffsetClock,
    Outcome,
    agree_rates,
    all_at_once,
    create_transfer,
    journal_kinds,
    linked_member,
    quote_id,
    raw_outcome,
    sdk_outcome,
    tally,
    transfer_count,
    transfer_states,
)

OK = grpc.StatusCode.OK
ABORTED = grpc.StatusCode.ABORTED
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
NOT_PENDING = "FAILED_PRECONDITION TRANSFER_NOT_PENDING"
TIMED_OUT = "FAILED_PRECONDITION TRANSFER_TIMED_OUT"
NEVER = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})


def backend(engine: Engine) -> str:
    return engine.dialect.name


def report(engine: Engine, test: str, outcomes: Counter[str] | dict[str, object]) -> None:
    """Shown with `pytest -s`: what each backend actually did."""
    print(f"\n[{backend(engine)}] {test}: {dict(outcomes)}")


def assert_no_internal(outcomes: list[Outcome]) -> None:
    escaped = [o.label for o in outcomes if o.code in NEVER]
    assert not escaped, f"{len(escaped)} calls failed inside the hub: {Counter(escaped)}"


def events_by_type(engine: Engine) -> Counter[str]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(EventRow.event_type, func.count()).group_by(EventRow.event_type)
        )
        return Counter({event_type: count for event_type, count in rows})


@pytest.fixture
def skyway_to_harbor(coalition: TestCoalition) -> Iterator[tuple[str, str]]:
    """One member linked skyway -> harbor, with an accepted skyway -> harbor rate agreement."""
    skyway, harbor = coalition.connection("skyway"), coalition.connection("harbor")
    agree_rates(skyway, harbor)
    yield linked_member(skyway, harbor)


# --- 1. one idempotency key, a hundred callers ---------------------------------------------------

SAME_KEY_CALLERS = 100


def test_one_idempotency_key_from_a_hundred_callers_makes_one_transfer(
    coalition: TestCoalition, skyway_to_harbor: tuple[str, str]
) -> None:
    skyway = coalition.connection("skyway")
    engine = coalition.hub.engine
    source_ppid, _ = skyway_to_harbor
    quote = quote_id(skyway, source_ppid, "harbor", 5000)
    body = xpb.CreateTransferRequest(quote_id=quote).SerializeToString()
    key = new_idempotency_key()
    # Same bytes and key, a fresh nonce (and so signature) each: a client retrying hard.
    template = SignedRequest(
        CREATE_TRANSFER, body, "skyway", coalition.keys["skyway"], AUDIENCE, idempotency_key=key
    )
    requests = [template.with_changes(nonce=wire.new_nonce()) for _ in range(SAME_KEY_CALLERS)]
    assert len({r.nonce for r in requests}) == SAME_KEY_CALLERS

    with grpc.insecure_channel(coalition.target) as channel:
        outcomes = all_at_once(
            [lambda r=r: raw_outcome(coalition, channel, r)[0] for r in requests]  # type: ignore[misc]
        )
        report(engine, "same key x100", tally(outcomes))
        assert_no_internal(outcomes)

        responses = {o.response for o in outcomes if o.ok}
        assert len(responses) == 1, "every successful call returns the very same bytes"
        others = Counter(o.label for o in outcomes if not o.ok)
        assert set(others) <= {"ABORTED IDEMPOTENCY_IN_PROGRESS"}, others
        if backend(engine) == "sqlite":
            # Writers queue behind BEGIN IMMEDIATE: the first runs, the rest replay its bytes.
            assert not others

        # Those told "in progress" retry (same key, same bytes, a new nonce): the same bytes.
        retries = [
            raw_outcome(coalition, channel, template.with_changes(nonce=wire.new_nonce()))[0]
            for _ in range(sum(others.values()) or 1)
        ]
    assert {r.label for r in retries} == {"OK"}
    assert {r.response for r in retries} == responses

    response = responses.pop()
    assert response is not None
    transfer = xpb.CreateTransferResponse.FromString(response).transfer
    assert transfer.state == xpb.TRANSFER_STATE_PENDING
    assert transfer_count(engine) == 1
    with engine.connect() as connection:
        assert connection.scalar(select(TransferRow.quote_id)) == quote
        stored = connection.scalar(
            select(func.count())
            .select_from(IdempotencyRecordRow)
            .where(IdempotencyRecordRow.idempotency_key == key)
        )
    assert stored == 1
    assert events_by_type(engine)["credit_requested"] == 1
    assert journal_kinds(engine) == {transfer.transfer_id: ["hold"]}
    assert check_ledger(engine) == []


# --- 2. the daily cap under a burst --------------------------------------------------------------

CAP_POINTS = 10_000
CAP_TRANSFER_POINTS = 1_000
CAP_CALLERS = 100


def test_a_burst_of_transfers_never_exceeds_the_members_daily_cap(
    coalition: TestCoalition,
) -> None:
    skyway, harbor = coalition.connection("skyway"), coalition.connection("harbor")
    engine = coalition.hub.engine
    agree_rates(skyway, harbor, daily_cap_source_points=CAP_POINTS)
    source_ppid, _ = linked_member(skyway, harbor)
    # Quoting checks the cap too, but nothing is used yet: every quote is granted.
    quotes = all_at_once(
        [
            lambda: quote_id(skyway, source_ppid, "harbor", CAP_TRANSFER_POINTS)
            for _ in range(CAP_CALLERS)
        ]
    )
    assert len(set(quotes)) == CAP_CALLERS

    outcomes = all_at_once(
        [
            lambda q=q: sdk_outcome(  # type: ignore[misc]
                skyway,
                CREATE_TRANSFER,
                xpb.CreateTransferRequest(quote_id=q),
                xpb.CreateTransferResponse,
            )
            for q in quotes
        ]
    )
    report(engine, "daily cap x100", tally(outcomes))
    assert_no_internal(outcomes)
    refusals = Counter(o.label for o in outcomes if not o.ok)
    assert set(refusals) <= {"FAILED_PRECONDITION DAILY_CAP_EXCEEDED"}, refusals
    granted = sum(o.ok for o in outcomes)
    # At most the cap; and since each refusal says the cap is reached, exactly the cap.
    assert granted == CAP_POINTS // CAP_TRANSFER_POINTS

    with engine.connect() as connection:
        used = connection.scalar(
            select(func.coalesce(func.sum(TransferRow.source_points), 0)).where(
                TransferRow.source_ppid == source_ppid, TransferRow.state != "voided"
            )
        )
        rows = connection.scalar(select(func.count()).select_from(TransferRow))
    assert used is not None and used <= CAP_POINTS
    assert rows == granted
    assert check_ledger(engine) == []


# --- 3. one pending transfer, several resolutions at once ----------------------------------------

RACED_TRANSFERS = 12


def _pending_transfers(coalition: TestCoalition, count: int) -> list[str]:
    skyway, harbor = coalition.connection("skyway"), coalition.connection("harbor")
    agree_rates(skyway, harbor)
    source_ppid, _ = linked_member(skyway, harbor)
    return [
        create_transfer(skyway, quote_id(skyway, source_ppid, "harbor", 1000)) for _ in range(count)
    ]


def test_confirm_and_reject_racing_on_one_transfer_resolve_it_once(
    coalition: TestCoalition,
) -> None:
    engine = coalition.hub.engine
    transfer_ids = _pending_transfers(coalition, RACED_TRANSFERS)
    harbor = coalition.connection("harbor")

    def confirm(transfer_id: str) -> Outcome:
        return sdk_outcome(
            harbor,
            CONFIRM_CREDIT,
            xpb.ConfirmCreditRequest(transfer_id=transfer_id),
            xpb.ConfirmCreditResponse,
        )

    def reject(transfer_id: str) -> Outcome:
        return sdk_outcome(
            harbor,
            REJECT_CREDIT,
            xpb.RejectCreditRequest(transfer_id=transfer_id, reason="account closed"),
            xpb.RejectCreditResponse,
        )

    # Per transfer: two confirms and two rejects, each with its own idempotency key.
    calls = [
        (transfer_id, action, fn)
        for transfer_id in transfer_ids
        for action, fn in (("confirm", confirm), ("reject", reject)) * 2
    ]
    outcomes = all_at_once([lambda t=t, fn=fn: fn(t) for t, _, fn in calls])  # type: ignore[misc]
    assert_no_internal(outcomes)

    states = transfer_states(engine)
    journals = journal_kinds(engine)
    winners: Counter[str] = Counter()
    for transfer_id in transfer_ids:
        mine = [
            (action, o)
            for (t, action, _), o in zip(calls, outcomes, strict=True)
            if t == transfer_id
        ]
        state, void_reason = states[transfer_id]
        won = "confirm" if state == "completed" else "reject"
        winners[won] += 1
        assert (state, void_reason) in {("completed", None), ("voided", "rejected")}
        assert journals[transfer_id] == (["hold", "post"] if won == "confirm" else ["hold", "void"])
        for action, outcome in mine:
            if action == won:
                assert outcome.ok, (transfer_id, action, outcome.label)
            else:
                assert outcome.label == NOT_PENDING, (transfer_id, action, outcome.label)
        # The winner and its twin (an idempotent no-op) answer with the same transfer.
        assert len({o.response for a, o in mine if a == won}) == 1

    report(engine, "confirm vs reject", {"winners": dict(winners), "calls": tally(outcomes)})
    events = events_by_type(engine)
    assert events["transfer_completed"] == winners["confirm"]
    assert events["transfer_voided"] == winners["reject"]
    assert check_ledger(engine) == []


TIMEOUT_S = 30
SWEEPERS = 3


@pytest.fixture
def clocked_coalition(
    settings: Settings, hub_key: SigningKey, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestCoalition, OffsetClock]]:
    """A hub with a 30 s transfer timeout and a clock the test moves; no background sweeps."""
    clock = OffsetClock()
    hub = bootstrap(
        dataclasses.replace(settings, transfer_timeout_s=TIMEOUT_S, timeout_sweep_interval_s=3600),
        clock=clock,
        hub_key=hub_key,
        engine=engine,
    )
    keys = seed_partners(hub)
    hub.start()
    coalition = TestCoalition(hub, keys)
    yield coalition, clock
    coalition.close()
    hub.stop(0)


def test_late_answers_racing_timeout_sweeps_void_each_transfer_once(
    clocked_coalition: tuple[TestCoalition, OffsetClock],
) -> None:
    coalition, clock = clocked_coalition
    engine = coalition.hub.engine
    transfer_ids = _pending_transfers(coalition, RACED_TRANSFERS)
    harbor = coalition.connection("harbor")
    clock.advance_s(TIMEOUT_S + 1)  # every transfer is now past its timeout, none swept yet

    def confirm(transfer_id: str) -> Outcome:
        return sdk_outcome(
            harbor,
            CONFIRM_CREDIT,
            xpb.ConfirmCreditRequest(transfer_id=transfer_id),
            xpb.ConfirmCreditResponse,
        )

    def reject(transfer_id: str) -> Outcome:
        return sdk_outcome(
            harbor,
            REJECT_CREDIT,
            xpb.RejectCreditRequest(transfer_id=transfer_id, reason="no such account"),
            xpb.RejectCreditResponse,
        )

    calls: list[tuple[str, str, Callable[[], object]]] = []
    for index, transfer_id in enumerate(transfer_ids):
        calls.append((transfer_id, "confirm", lambda t=transfer_id: confirm(t)))  # type: ignore[misc]
        if index % 2:
            calls.append((transfer_id, "reject", lambda t=transfer_id: reject(t)))  # type: ignore[misc]
    calls += [("", "sweep", coalition.hub.void_timed_out_transfers) for _ in range(SWEEPERS)]
    results = all_at_once([fn for _, _, fn in calls])

    outcomes = [r for r in results if isinstance(r, Outcome)]
    assert_no_internal(outcomes)
    swept = sum(r for r in results if isinstance(r, int))
    states = transfer_states(engine)
    journals = journal_kinds(engine)
    # Every answer came after the timeout: whoever takes the row first voids it as timed out;
    # a late confirm or reject is told so, and nothing completes.
    late = Counter(o.label for o in outcomes)
    assert set(late) <= {TIMED_OUT, NOT_PENDING}, late
    for transfer_id in transfer_ids:
        assert states[transfer_id] == ("voided", "timed_out"), states[transfer_id]
        assert journals[transfer_id] == ["hold", "void"]
    report(
        engine,
        "timeout sweep vs late confirm/reject",
        {"answers": dict(late), "swept": swept},
    )
    assert swept + late[TIMED_OUT] == len(transfer_ids), "each transfer is voided exactly once"
    assert coalition.hub.void_timed_out_transfers() == 0, "nothing is left to sweep"
    events = events_by_type(engine)
    assert events.get("transfer_completed", 0) == 0
    assert events["transfer_voided"] == len(transfer_ids)
    assert check_ledger(engine) == []


# --- 4. hot settlement accounts ------------------------------------------------------------------

HOT_MEMBERS = 12


def test_many_members_moving_points_both_ways_between_two_partners_at_once(
    coalition: TestCoalition,
) -> None:
    """Every transfer touches both partners' settlement accounts and the hub's fee account."""
    engine = coalition.hub.engine
    skyway, harbor = coalition.connection("skyway"), coalition.connection("harbor")
    agree_rates(skyway, harbor)
    agree_rates(harbor, skyway)
    members = [linked_member(skyway, harbor) for _ in range(HOT_MEMBERS)]
    connections = {"skyway": skyway, "harbor": harbor}

    def journey(source: str, destination: str, ppid: str, reverse: bool) -> list[Outcome]:
        """Quote, transfer, confirm; every other one is then reversed by its source and the
        reversal confirmed by its destination."""
        src, dst = connections[source], connections[destination]
        steps: list[Outcome] = []
        quote = quote_id(src, ppid, destination, 2000)
        created = sdk_outcome(
            src,
            CREATE_TRANSFER,
            xpb.CreateTransferRequest(quote_id=quote),
            xpb.CreateTransferResponse,
        )
        steps.append(created)
        if not created.ok:
            return steps
        assert created.response is not None
        transfer_id = xpb.CreateTransferResponse.FromString(created.response).transfer.transfer_id
        steps.append(
            sdk_outcome(
                dst,
                CONFIRM_CREDIT,
                xpb.ConfirmCreditRequest(transfer_id=transfer_id),
                xpb.ConfirmCreditResponse,
            )
        )
        if reverse and steps[-1].ok:
            # The source asks for the reversal; the destination confirms it (DESIGN §3.4.5).
            reversal = sdk_outcome(
                src,
                EXCHANGE + "CreateReversal",
                xpb.CreateReversalRequest(transfer_id=transfer_id),
                xpb.CreateReversalResponse,
            )
            steps.append(reversal)
            if reversal.ok:
                assert reversal.response is not None
                reversal_id = xpb.CreateReversalResponse.FromString(
                    reversal.response
                ).reversal.transfer_id
                steps.append(
                    sdk_outcome(
                        dst,
                        CONFIRM_CREDIT,
                        xpb.ConfirmCreditRequest(transfer_id=reversal_id),
                        xpb.ConfirmCreditResponse,
                    )
                )
        return steps

    journeys = [
        lambda ppid=ppid, i=i: journey("skyway", "harbor", ppid, i % 2 == 0)
        for i, (ppid, _) in enumerate(members)
    ] + [
        lambda ppid=ppid, i=i: journey("harbor", "skyway", ppid, i % 2 == 1)
        for i, (_, ppid) in enumerate(members)
    ]
    outcomes = [step for steps in all_at_once(journeys) for step in steps]
    report(engine, "hot accounts", {"calls": tally(outcomes), "journeys": len(journeys)})
    assert_no_internal(outcomes)
    assert {o.label for o in outcomes} == {"OK"}

    expected_transfers = 2 * HOT_MEMBERS + HOT_MEMBERS  # half of each direction is reversed
    states = transfer_states(engine)
    assert len(states) == expected_transfers
    assert {state for state, _ in states.values()} == {"completed"}

    # The settlement accounts' cached posted counters, against the transfers themselves.
    expected: Counter[tuple[str, str]] = Counter()
    with engine.connect() as connection:
        for kind, source, destination, amount, fee in connection.execute(
            select(
                TransferRow.kind,
                TransferRow.source_partner_id,
                TransferRow.destination_partner_id,
                TransferRow.settlement_amount_minor,
                TransferRow.fee_minor,
            )
        ):
            if kind == "transfer":
                expected[(f"{source}/settlement/USD", "debit")] += amount + fee
                expected[(f"{destination}/settlement/USD", "credit")] += amount
            else:
                expected[(f"{destination}/settlement/USD", "debit")] += amount
                expected[(f"{source}/settlement/USD", "credit")] += amount
        accounts = {
            row.account_id: row
            for row in connection.execute(
                select(LedgerAccountRow).where(LedgerAccountRow.purpose == "settlement")
            )
        }
    for partner in ("skyway", "harbor"):
        account = accounts[f"{partner}/settlement/USD"]
        assert account.debits_posted == expected[(account.account_id, "debit")]
        assert account.credits_posted == expected[(account.account_id, "credit")]
    assert check_ledger(engine) == []


# --- 5. one quote, several idempotency keys ------------------------------------------------------

SAME_QUOTE_CALLERS = 8


def test_one_quote_under_several_idempotency_keys_starts_one_transfer(
    coalition: TestCoalition, skyway_to_harbor: tuple[str, str], request: pytest.FixtureRequest
) -> None:
    """Two app instances submitting the same quote: one transfer, the rest QUOTE_ALREADY_USED."""
    skyway = coalition.connection("skyway")
    engine = coalition.hub.engine
    source_ppid, _ = skyway_to_harbor
    quote = quote_id(skyway, source_ppid, "harbor", 5000)
    outcomes = all_at_once(
        [
            lambda: sdk_outcome(
                skyway,
                CREATE_TRANSFER,
                xpb.CreateTransferRequest(quote_id=quote),
                xpb.CreateTransferResponse,
            )
            for _ in range(SAME_QUOTE_CALLERS)
        ]
    )
    report(engine, "same quote, distinct keys", tally(outcomes))
    assert_no_internal(outcomes)
    assert tally(outcomes) == Counter(
        {"OK": 1, "FAILED_PRECONDITION QUOTE_ALREADY_USED": SAME_QUOTE_CALLERS - 1}
    )
    assert transfer_count(engine) == 1
    assert check_ledger(engine) == []


SAME_REVERSAL_CALLERS = 8


def test_one_transfer_reversed_by_several_callers_at_once_is_reversed_once(
    coalition: TestCoalition, skyway_to_harbor: tuple[str, str]
) -> None:
    skyway, harbor = coalition.connection("skyway"), coalition.connection("harbor")
    engine = coalition.hub.engine
    source_ppid, _ = skyway_to_harbor
    transfer_id = create_transfer(skyway, quote_id(skyway, source_ppid, "harbor", 3000))
    harbor.call(
        CONFIRM_CREDIT,
        xpb.ConfirmCreditRequest(transfer_id=transfer_id),
        xpb.ConfirmCreditResponse,
        changes_state=True,
    )
    outcomes = all_at_once(
        [
            lambda: sdk_outcome(
                skyway,
                EXCHANGE + "CreateReversal",
                xpb.CreateReversalRequest(transfer_id=transfer_id),
                xpb.CreateReversalResponse,
            )
            for _ in range(SAME_REVERSAL_CALLERS)
        ]
    )
    report(engine, "same transfer reversed x8", tally(outcomes))
    assert_no_internal(outcomes)
    assert tally(outcomes) == Counter(
        {"OK": 1, "FAILED_PRECONDITION ALREADY_REVERSED": SAME_REVERSAL_CALLERS - 1}
    )
    assert transfer_count(engine) == 2
    assert check_ledger(engine) == []
