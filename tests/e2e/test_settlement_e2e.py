"""Nightly settlement end to end: the real hub, the reference programs and the partner SDK.

Transfers completed through the hub are settled per business day (DESIGN §3.7): nets sum to
zero, pay-ins equal pay-outs, each completed transfer is in exactly one day, a re-run returns
the stored run and the same file bytes, a changed closed day raises an alarm and changes
nothing (§7 inv. 6, 7). Statements verify in one SDK call and stop verifying when tampered
with; reconciliation finds every kind of break, and disputes end in an adjustment on the next
open day (§3.8). The `coalition settle/export/reconcile` commands run the same, in-process.
After every test the ledger checks clean.
"""

from __future__ import annotations

import importlib.resources
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
import xmlschema
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from coalition import wire
from coalition.keys import SigningKey
from coalition.records import decode_record, encode_record
from coalition.v1 import common_pb2, settlement_pb2
from exchange.adapters.memory import FixedClock
from exchange.adapters.sql import settlement_store
from exchange.adapters.sql.ledger_check import check_ledger
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.cli import main
from exchange.config import ENVIRONMENT_NAMES, Settings
from exchange.domain.errors import DomainError, ErrorCode
from exchange.services.export_files import day_files
from exchange.services.settlement import DaySettlement, settle_day
from partners.demo import nightly_settlement
from partners.demo_kpis import show_kpis
from partners.programs.program import LoyaltyProgram, accept_every_credit, refuse_every_credit
from partners.programs.transfer_store import OutgoingState
from partners.sdk import SettlementClient, StatementVerificationError, verify_statement
from settlement.model import BankAccount, Direction
from tests.support.databases import table_snapshot
from tests.support.programs import (
    ClockedCoalition,
    brand_programs,
    clocked_coalition,
    query_rows,
    refused,
)
from tests.support.transfers import Member, agree, linked_member, terms

USD = "USD"
DAY_S = 86_400
PAY_IN = settlement_pb2.PAYMENT_DIRECTION_PAY_IN
PAY_OUT = settlement_pb2.PAYMENT_DIRECTION_PAY_OUT
PAYABLE = settlement_pb2.LINE_DIRECTION_PAYABLE
RECEIVABLE = settlement_pb2.LINE_DIRECTION_RECEIVABLE
BREAK = settlement_pb2.BreakKind
PARTNERS = ("skyway", "harbor", "orbit")
OPENING = {"skyway": 40_000, "harbor": 20_000, "orbit": 20_000}
BANK_ACCOUNTS = {
    "hub": BankAccount("Coalition Exchange Clearing", "DE89370400440532013000", "COBADEFFXXX"),
    "skyway": BankAccount("Skyway Airlines", "GB29NWBK60161331926819", "NWBKGB2L"),
    "harbor": BankAccount("Harbor Hotels", "FR1420041010050500013M02606", "PSSTFRPPPAR"),
    "orbit": BankAccount("Orbit Card", "NL91ABNA0417164300", "ABNANL2A"),
}
PAIN_001_FILE = "payouts-USD.pain.001.001.09.xml"
# Tables a repeated or refused request may write: its nonce, and its idempotency record.
REQUEST_BOOKKEEPING = frozenset({"request_nonces", "idempotency_records"})
UNKNOWN_TRANSFER_ID = "tr_000000000000000000000000"


@pytest.fixture(autouse=True)
def ledger_checks_clean(engine: Engine) -> Iterator[None]:
    yield
    assert check_ledger(engine) == []


@pytest.fixture
def clock() -> FixedClock:
    """Midday UTC today: the default calendar (UTC, midnight cut-off) is half a day from a
    cut-off either way, so a business day ends only when a test says so."""
    noon = datetime.combine(datetime.now(UTC).date(), time(12), tzinfo=UTC)
    return FixedClock(int(noon.timestamp()) * 1_000_000)


@pytest.fixture
def hub(
    settings: Settings, hub_key: SigningKey, engine: Engine, clock: FixedClock
) -> Iterator[ClockedCoalition]:
    with clocked_coalition(settings, hub_key, engine, clock) as coalition:
        yield coalition


@pytest.fixture
def programs(hub: ClockedCoalition, clock: FixedClock, tmp_path: Path) -> dict[str, LoyaltyProgram]:
    """The three brands, with an agreement along each side of a triangle."""
    programs = brand_programs(hub, tmp_path / "programs")
    now = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=clock.now_us())
    agree(programs["skyway"], programs["harbor"], terms(now))
    agree(programs["orbit"], programs["skyway"], terms(now, ratio=(1_000, 800)))
    agree(programs["harbor"], programs["orbit"], terms(now, ratio=(1_000, 500)))
    return programs


@pytest.fixture
def member(programs: dict[str, LoyaltyProgram]) -> Member:
    return linked_member(programs, "1", OPENING)


def today(hub: ClockedCoalition) -> str:
    return hub.hub.settings.calendar.business_day_of(hub.clock.now_us()).isoformat()


def next_day(business_day: str) -> str:
    return (date.fromisoformat(business_day) + timedelta(days=1)).isoformat()


def settle(hub: ClockedCoalition, business_day: str, *, close_early: bool = True) -> DaySettlement:
    return settle_day(
        hub.hub.uow_factory,
        hub.hub.settings.calendar,
        hub.clock,
        business_day,
        close_early=close_early,
    )


def settlement(hub: ClockedCoalition, partner_id: str) -> SettlementClient:
    return SettlementClient(hub.connection(partner_id))


def move(
    programs: dict[str, LoyaltyProgram], member: Member, route: tuple[str, str], points: int
) -> str:
    """One transfer the destination confirms; returns its id once it completed."""
    source, destination = programs[route[0]], programs[route[1]]
    sent = source.transfer_out(member.at(source), route[1], points)
    destination.sync_feed()  # credits the member and confirms
    source.sync_feed()  # learns that it completed
    assert sent.transfer_id is not None
    row = source.outgoing(sent.transfer_id)
    assert row is not None and row.state is OutgoingState.COMPLETED
    return sent.transfer_id


def trade(programs: dict[str, LoyaltyProgram], member: Member) -> list[str]:
    """A day's business: transfers around the triangle, a reversal and a rejected transfer.

    Returns the ids of what completed, in order: skyway→harbor twice, orbit→skyway,
    harbor→orbit, and the reversal of the first.
    """
    skyway, harbor = programs["skyway"], programs["harbor"]
    completed = [
        move(programs, member, ("skyway", "harbor"), 4_000),
        move(programs, member, ("skyway", "harbor"), 8_000),
        move(programs, member, ("orbit", "skyway"), 5_000),
        move(programs, member, ("harbor", "orbit"), 2_000),
    ]
    reversal = skyway.request_reversal(completed[0])
    harbor.sync_feed()  # debits the member back and confirms
    skyway.sync_feed()
    assert reversal.transfer_id is not None
    completed.append(reversal.transfer_id)
    harbor.credit_policy = refuse_every_credit("account under review")
    skyway.transfer_out(member.at(skyway), "harbor", 2_000)
    harbor.sync_feed()  # rejects it: voided, it settles nowhere
    skyway.sync_feed()
    harbor.credit_policy = accept_every_credit
    return completed


@dataclass(frozen=True)
class HubTransfer:
    """A completed transfer as the hub's own row says, for expectations built independently."""

    transfer_id: str
    kind: str
    source: str
    destination: str
    amount_minor: int
    fee_minor: int
    business_day: str

    @property
    def payer(self) -> str:
        return self.destination if self.kind == "reversal" else self.source

    @property
    def payee(self) -> str:
        return self.source if self.kind == "reversal" else self.destination


def completed_transfers(engine: Engine) -> list[HubTransfer]:
    rows = query_rows(
        engine,
        "SELECT transfer_id, kind, source_partner_id, destination_partner_id,"
        " settlement_amount_minor, fee_minor, business_day FROM transfers"
        " WHERE state = 'completed' ORDER BY transfer_id",
    )
    return [
        HubTransfer(str(t), str(k), str(s), str(d), int(str(a)), int(str(f)), str(day))
        for t, k, s, d, a, f, day in rows
    ]


def leaves_by_day(engine: Engine) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for day, transfer_id in query_rows(
        engine, "SELECT business_day, transfer_id FROM settlement_leaves ORDER BY leaf_index"
    ):
        found[str(day)].append(str(transfer_id))
    return found


def expected_nets(transfers: list[HubTransfer]) -> dict[str, int]:
    """N[p] = Σ what others owe p - Σ what p owes others, fees owed to "hub"; from the rows."""
    nets: dict[str, int] = defaultdict(int)
    for transfer in transfers:
        nets[transfer.payee] += transfer.amount_minor
        nets[transfer.payer] -= transfer.amount_minor + transfer.fee_minor
        if transfer.fee_minor:
            nets["hub"] += transfer.fee_minor
    return dict(nets)


def files_of(
    engine: Engine, business_day: str, banks: dict[str, BankAccount] | None = None
) -> tuple[dict[str, bytes], list[str]]:
    with SqlUnitOfWorkFactory(engine)() as uow:
        return day_files(uow, business_day, BANK_ACCOUNTS if banks is None else banks)


def money(amount_minor: int, currency: str = USD) -> common_pb2.Money:
    return common_pb2.Money(amount_minor=amount_minor, currency_code=currency)


def add_to_amount(engine: Engine, transfer_id: str, delta_minor: int) -> None:
    """What must never happen to a closed day: its input edited underneath the hub."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE transfers SET settlement_amount_minor = settlement_amount_minor + :delta"
                " WHERE transfer_id = :transfer_id"
            ),
            {"transfer_id": transfer_id, "delta": delta_minor},
        )


# Netting, pay-ins and pay-outs, journals, statements


def test_a_settled_day_nets_to_zero_pays_in_what_it_pays_out_and_agrees_with_statements(
    hub: ClockedCoalition, programs: dict[str, LoyaltyProgram], member: Member, engine: Engine
) -> None:
    trade(programs, member)
    day = today(hub)

    result = settle(hub, day)

    transfers = completed_transfers(engine)
    assert len(transfers) == 5 and {t.business_day for t in transfers} == {day}
    assert (result.already_settled, result.alarm, result.tree_size) == (False, None, 5)
    positions = {p.participant: p for p in result.positions[USD]}
    assert {p: positions[p].net_minor for p in positions} == expected_nets(transfers)
    assert sum(p.net_minor for p in positions.values()) == 0
    fees = sum(t.fee_minor for t in transfers)
    assert fees > 0 and positions["hub"].net_minor == fees
    assert sum(t.fee_minor for t in transfers if t.kind == "reversal") == 0

    # Pay-ins equal pay-outs; of the pay-outs, the hub's is exactly its fees, which stay in
    # its clearing account (no partner is paid them).
    with Session(engine) as session:
        stored = settlement_store.instructions(session, day)
    pay_ins = sum(i.amount_minor for i in stored if i.direction is Direction.PAY_IN)
    pay_outs = sum(i.amount_minor for i in stored if i.direction is Direction.PAY_OUT)
    hub_pay_outs = [(i.direction, i.amount_minor) for i in stored if i.participant == "hub"]
    assert pay_ins == pay_outs and hub_pay_outs == [(Direction.PAY_OUT, fees)]

    for partner_id in PARTNERS:
        client = settlement(hub, partner_id)
        [instruction] = client.list_payment_instructions(day)
        run = client.get_settlement_run(day, USD)
        statement = client.verified_statement(day, USD)
        [position] = run.positions
        net = positions[partner_id].net_minor
        suffix = "OUT" if net > 0 else "IN"
        assert (instruction.participant, instruction.amount.amount_minor) == (partner_id, abs(net))
        assert instruction.direction == (PAY_OUT if net > 0 else PAY_IN)
        reference = f"CX-{day.replace('-', '')}-USD-{partner_id}-{suffix}"
        assert instruction.clearing_reference == reference
        assert (run.merkle_root, run.tree_size) == (result.merkle_root, result.tree_size)
        assert (statement.merkle_root, statement.tree_size) == (run.merkle_root, run.tree_size)
        assert (position.participant, position.net.amount_minor) == (partner_id, net)
        assert statement.net.amount_minor == net
        assert position.receivable.amount_minor == statement.total_receivable.amount_minor
        assert position.payable.amount_minor == (
            statement.total_payable.amount_minor + statement.total_fees.amount_minor
        )
        involved = {t.transfer_id for t in transfers if partner_id in (t.source, t.destination)}
        assert {line.transfer_id for line in statement.lines} == involved

    # Posted as journals through the hub's clearing account: with its only day settled, every
    # settlement, fee and clearing account of the currency is back to zero.
    balances = query_rows(
        engine,
        "SELECT account_id, debits_posted, credits_posted, debits_pending, credits_pending"
        " FROM ledger_accounts WHERE asset = 'USD'",
    )
    assert {row[0] for row in balances} >= {"hub/clearing/USD", "hub/fees/USD"}
    assert all(row[1] == row[2] and row[3] == row[4] == 0 for row in balances), balances


# Business days: closing, late completions, exactly one run per transfer


def test_each_completed_transfer_is_in_exactly_one_days_run(
    hub: ClockedCoalition, programs: dict[str, LoyaltyProgram], member: Member, engine: Engine
) -> None:
    first_ids = trade(programs, member)
    day = today(hub)
    settle(hub, day)
    late = move(programs, member, ("orbit", "skyway"), 2_000)  # the same hour, after closing
    settle(hub, next_day(day))

    leaves = leaves_by_day(engine)
    counts = Counter(transfer_id for ids in leaves.values() for transfer_id in ids)
    transfers = completed_transfers(engine)
    assert set(counts) == {t.transfer_id for t in transfers}
    assert set(counts.values()) == {1}
    assert sorted(leaves[day]) == sorted(first_ids)
    assert leaves[next_day(day)] == [late]
    assert {t.transfer_id: t.business_day for t in transfers}[late] == next_day(day)


def test_a_day_ends_at_its_cut_off_and_completions_after_it_belong_to_the_next_day(
    hub: ClockedCoalition, programs: dict[str, LoyaltyProgram], member: Member, engine: Engine
) -> None:
    day = today(hub)
    before = move(programs, member, ("skyway", "harbor"), 4_000)
    with pytest.raises(DomainError) as not_over:
        settle(hub, day, close_early=False)
    assert not_over.value.code is ErrorCode.DAY_NOT_OVER

    hub.clock.advance_s(DAY_S // 2)  # midnight UTC: the cut-off itself; nobody settled yet
    after = move(programs, member, ("skyway", "harbor"), 4_000)
    result = settle(hub, day, close_early=False)

    assert (result.tree_size, leaves_by_day(engine)[day]) == (1, [before])
    days = {t.transfer_id: t.business_day for t in completed_transfers(engine)}
    assert (days[before], days[after]) == (day, next_day(day))


def test_the_nightly_run_catches_up_on_every_day_that_ended_while_the_hub_was_down(
    hub: ClockedCoalition, programs: dict[str, LoyaltyProgram], member: Member, engine: Engine
) -> None:
    transfer_id = move(programs, member, ("skyway", "harbor"), 4_000)
    day = today(hub)
    hub.clock.advance_s(2 * DAY_S + hub.hub.settings.settlement_delay_s)  # down since midday

    hub.hub.settle_ended_days()

    assert leaves_by_day(engine).get(day) == [transfer_id]


def test_the_nightly_run_writes_the_days_files_as_coalition_settle_does(
    hub: ClockedCoalition, programs: dict[str, LoyaltyProgram], member: Member, engine: Engine
) -> None:
    move(programs, member, ("skyway", "harbor"), 4_000)
    day = today(hub)
    hub.clock.advance_s(DAY_S + hub.hub.settings.settlement_delay_s)

    [settled] = hub.hub.settle_ended_days()

    out = hub.hub.settings.export_directory / day
    with SqlUnitOfWorkFactory(engine)() as uow:
        expected, _ = day_files(uow, day, {})
    assert settled.business_day == day
    assert {p.name: p.read_bytes() for p in out.iterdir()} == expected
    assert "statement-skyway-USD.csv" in expected  # no bank accounts set: no pain.001


# Re-runs, alarms and files


@pytest.fixture(scope="module")
def pain001_schema() -> xmlschema.XMLSchema:
    path = importlib.resources.files("sepaxml") / "schemas" / "pain.001.001.09.xsd"
    return xmlschema.XMLSchema(str(path))


def test_a_rerun_returns_the_stored_run_and_the_same_file_bytes_and_pain001_validates(
    hub: ClockedCoalition,
    programs: dict[str, LoyaltyProgram],
    member: Member,
    engine: Engine,
    pain001_schema: xmlschema.XMLSchema,
) -> None:
    trade(programs, member)
    day = today(hub)
    first = settle(hub, day)
    files, notes = files_of(engine, day)
    before = table_snapshot(engine)

    again = settle(hub, day)
    hub.clock.advance_s(DAY_S)  # long after the cut-off, as the nightly loop would run it
    nightly = settle(hub, day, close_early=False)

    for rerun in (again, nightly):
        assert (rerun.already_settled, rerun.alarm) == (True, None)
        assert (rerun.merkle_root, rerun.tree_size, rerun.settled_at_us) == (
            first.merkle_root,
            first.tree_size,
            first.settled_at_us,
        )
        assert rerun.positions == first.positions
    assert table_snapshot(engine) == before
    assert files_of(engine, day) == (files, notes)
    assert notes == []
    assert set(files) == {
        "positions.csv",
        "instructions.csv",
        "settlement.json",
        "statement-harbor-USD.csv",
        "statement-orbit-USD.csv",
        "statement-skyway-USD.csv",
        PAIN_001_FILE,
    }
    document = json.loads(files["settlement.json"])
    assert (document["merkle_root"], document["tree_size"]) == (
        first.merkle_root.hex(),
        first.tree_size,
    )

    xml = files[PAIN_001_FILE].decode()
    pain001_schema.validate(xml)
    transactions = pain001_schema.to_dict(xml)["CstmrCdtTrfInitn"]["PmtInf"][0]["CdtTrfTxInf"]
    paid = {t["PmtId"]["EndToEndId"]: t["Amt"]["InstdAmt"]["$"] for t in transactions}
    creditors = [p for p in first.positions[USD] if p.net_minor > 0 and p.participant != "hub"]
    assert creditors and paid == {
        f"CX-{day.replace('-', '')}-USD-{p.participant}-OUT": Decimal(p.net_minor).scaleb(-2)
        for p in creditors
    }

    without_banks, notes = files_of(engine, day, {})
    assert notes and "no bank account" in notes[0]
    assert without_banks == {k: v for k, v in files.items() if k != PAIN_001_FILE}


def current_amount(engine: Engine, transfer_id: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT settlement_amount_minor FROM transfers WHERE transfer_id = :t"),
                {"t": transfer_id},
            ).scalar_one()
        )


def test_a_changed_record_of_a_closed_day_is_an_alarm_and_changes_nothing(
    hub: ClockedCoalition, programs: dict[str, LoyaltyProgram], member: Member, engine: Engine
) -> None:
    transfer_ids = trade(programs, member)
    day = today(hub)
    first = settle(hub, day)
    harbor = settlement(hub, "harbor")
    run = harbor.get_settlement_run(day, USD)
    add_to_amount(engine, transfer_ids[1], 100)
    before = table_snapshot(engine)

    rerun = settle(hub, day)

    assert rerun.alarm is not None and "ALARM" in rerun.alarm and day in rerun.alarm
    assert (rerun.merkle_root, rerun.tree_size, rerun.positions) == (
        first.merkle_root,
        first.tree_size,
        first.positions,
    )
    assert table_snapshot(engine) == before
    assert harbor.get_settlement_run(day, USD) == run
    # Statements of a closed day come from what was settled: still verified, still the same.
    statement = harbor.verified_statement(day, USD)
    settled_line = next(line for line in statement.lines if line.transfer_id == transfer_ids[1])
    assert settled_line.amount.amount_minor != current_amount(engine, transfer_ids[1])


def test_the_files_of_a_closed_day_keep_their_bytes_after_its_input_changed(
    hub: ClockedCoalition, programs: dict[str, LoyaltyProgram], member: Member, engine: Engine
) -> None:
    transfer_id = move(programs, member, ("skyway", "harbor"), 4_000)
    day = today(hub)
    settle(hub, day)
    files, _ = files_of(engine, day)
    add_to_amount(engine, transfer_id, 100)

    assert settle(hub, day).alarm is not None
    assert files_of(engine, day)[0] == files


# Statements: signatures and inclusion proofs


def resigned(
    signer: SigningKey, payload: settlement_pb2.StatementPayload
) -> settlement_pb2.Statement:
    """A statement over `payload` with a valid signature by `signer`: what a lying hub sends."""
    data = payload.SerializeToString(deterministic=True)
    return settlement_pb2.Statement(
        payload=data,
        signing_key_id=signer.key_id,
        signature=signer.sign(wire.payload_signing_bytes(kind="statement", payload=data)),
    )


def copy(payload: settlement_pb2.StatementPayload) -> settlement_pb2.StatementPayload:
    duplicate = settlement_pb2.StatementPayload()
    duplicate.CopyFrom(payload)
    return duplicate


def test_a_statement_verifies_in_one_call_and_any_tampering_is_named(
    hub: ClockedCoalition, programs: dict[str, LoyaltyProgram], member: Member
) -> None:
    trade(programs, member)
    day = today(hub)
    settle(hub, day)
    client = settlement(hub, "skyway")
    keys, hub_key = hub.hub_public_keys, hub.hub.hub_key
    statement = client.get_statement(day, USD)
    fetched: list[str] = []

    def fetcher(business_day: str, transfer_id: str) -> settlement_pb2.GetInclusionProofResponse:
        fetched.append(transfer_id)
        return client.get_inclusion_proof(business_day, transfer_id)

    payload = verify_statement(statement, keys, "skyway", fetcher)
    assert client.verify_statement(statement, keys, "skyway") == payload
    assert sorted(fetched) == sorted(line.transfer_id for line in payload.lines)
    assert len(payload.lines) == 5 - 1  # all but harbor → orbit

    # The hub signs a line (amount, record and totals consistent) it never committed to.
    changed = copy(payload)
    line = next(line for line in changed.lines if line.direction == PAYABLE)
    fields = decode_record(line.record)
    fields["amount_minor"] = int(fields["amount_minor"]) + 1
    line.record = encode_record(**fields)  # type: ignore[arg-type]
    line.amount.amount_minor += 1
    changed.total_payable.amount_minor += 1
    changed.net.amount_minor -= 1
    with pytest.raises(StatementVerificationError, match="another record, index or tree"):
        client.verify_statement(resigned(hub_key, changed), keys, "skyway")

    # Even a proof server that agrees with the changed record cannot place it in the root.
    def agreeing(business_day: str, transfer_id: str) -> settlement_pb2.GetInclusionProofResponse:
        proof = client.get_inclusion_proof(business_day, transfer_id)
        if transfer_id == line.transfer_id:
            proof.record = line.record
        return proof

    with pytest.raises(StatementVerificationError, match="not in the signed Merkle root") as caught:
        client.verify_statement(resigned(hub_key, changed), keys, "skyway", agreeing)
    assert caught.value.transfer_id == line.transfer_id

    # A proof for another size or index is refused, though the walk would use the signed ones.
    for field in ("tree_size", "leaf_index"):

        def lying(
            business_day: str, transfer_id: str, field: str = field
        ) -> settlement_pb2.GetInclusionProofResponse:
            proof = client.get_inclusion_proof(business_day, transfer_id)
            setattr(proof, field, getattr(proof, field) + 1)
            return proof

        with pytest.raises(StatementVerificationError, match="another record, index or tree"):
            client.verify_statement(statement, keys, "skyway", lying)

    flipped_signature = settlement_pb2.Statement()
    flipped_signature.CopyFrom(statement)
    flipped_signature.signature = bytes([statement.signature[0] ^ 1]) + statement.signature[1:]
    flipped_payload = settlement_pb2.Statement()
    flipped_payload.CopyFrom(statement)
    flipped_payload.payload = statement.payload[:-1] + bytes([statement.payload[-1] ^ 1])
    wrong_net = copy(payload)
    wrong_net.net.amount_minor += 1
    wrong_direction = copy(payload)
    next(x for x in wrong_direction.lines if x.direction == RECEIVABLE).direction = PAYABLE
    wrong_counterparty = copy(payload)
    first_line = wrong_counterparty.lines[0]
    first_line.counterparty_id = "harbor" if first_line.counterparty_id == "orbit" else "orbit"
    twice = copy(payload)
    twice.lines.append(twice.lines[0])
    not_a_record = copy(payload)
    not_a_record.lines[0].record += b"\n"
    cases = [
        (flipped_signature, "skyway", "bad hub signature"),
        (flipped_payload, "skyway", "bad hub signature"),
        (resigned(SigningKey.generate(), payload), "skyway", "not signed by a trusted hub key"),
        (statement, "harbor", "is for 'skyway', not 'harbor'"),
        (resigned(hub_key, wrong_net), "skyway", "the net is"),
        (resigned(hub_key, wrong_direction), "skyway", "direction"),
        (resigned(hub_key, wrong_counterparty), "skyway", "counterparty"),
        (resigned(hub_key, twice), "skyway", "appears twice"),
        (resigned(hub_key, not_a_record), "skyway", "does not decode"),
    ]
    for tampered, partner_id, message in cases:
        with pytest.raises(StatementVerificationError, match=message):
            client.verify_statement(tampered, keys, partner_id)


def test_statements_and_proofs_are_only_for_settled_days_and_own_lines(
    hub: ClockedCoalition, programs: dict[str, LoyaltyProgram], member: Member, engine: Engine
) -> None:
    transfer_id = move(programs, member, ("harbor", "orbit"), 2_000)
    day = today(hub)
    skyway = settlement(hub, "skyway")
    unsettled = refused(engine, lambda: skyway.get_statement(day, USD))
    assert (unsettled.code, unsettled.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOT_SETTLED",
    )
    upload = refused(engine, lambda: skyway.submit_reconciliation(day, []))
    assert upload.reason == "NOT_SETTLED"
    settle(hub, day)

    foreign = refused(engine, lambda: skyway.get_inclusion_proof(day, transfer_id))
    assert (foreign.code, foreign.reason) == (grpc.StatusCode.NOT_FOUND, "RECORD_NOT_FOUND")
    assert skyway.verified_statement(day, USD).lines == []
    malformed = refused(engine, lambda: skyway.get_settlement_run("2026-2-1", USD))
    assert malformed.code == grpc.StatusCode.INVALID_ARGUMENT


# Reconciliation


def partner_records(
    engine: Engine, partner_id: str, business_day: str
) -> dict[str, settlement_pb2.ReconciliationRecord]:
    """How `partner_id` should have booked each of its transfers of the day, by transfer id."""
    rows = query_rows(
        engine,
        "SELECT transfer_id, kind, source_partner_id, destination_partner_id, source_points,"
        " destination_points, settlement_amount_minor FROM transfers"
        " WHERE state = 'completed' AND business_day = :day",
        day=business_day,
    )
    records = {}
    for transfer_id, kind, source, destination, source_points, destination_points, amount in rows:
        if partner_id not in (source, destination):
            continue
        payer = destination if kind == "reversal" else source
        points = source_points if partner_id == source else destination_points
        records[str(transfer_id)] = settlement_pb2.ReconciliationRecord(
            transfer_id=str(transfer_id),
            direction="outgoing" if partner_id == payer else "incoming",
            points=int(str(points)),
            amount=money(int(str(amount))),
        )
    return records


def test_reconciliation_reports_every_kind_of_break_and_the_same_upload_is_not_stored_twice(
    hub: ClockedCoalition, programs: dict[str, LoyaltyProgram], member: Member, engine: Engine
) -> None:
    trade(programs, member)
    day = today(hub)
    settle(hub, day)
    late = move(programs, member, ("skyway", "harbor"), 2_000)  # settles on the next day
    client = settlement(hub, "skyway")
    expected = partner_records(engine, "skyway", day)
    matched, amount_off, duplicated, missing = sorted(expected)
    wrong_amount = settlement_pb2.ReconciliationRecord()
    wrong_amount.CopyFrom(expected[amount_off])
    wrong_amount.amount.amount_minor += 7
    upload = [
        expected[matched],
        wrong_amount,
        expected[duplicated],
        expected[duplicated],
        settlement_pb2.ReconciliationRecord(
            transfer_id=UNKNOWN_TRANSFER_ID, direction="incoming", points=1, amount=money(1)
        ),
        settlement_pb2.ReconciliationRecord(
            transfer_id=late, direction="outgoing", points=2_000, amount=money(600)
        ),
    ]

    response = client.submit_reconciliation(day, upload)

    assert sorted((b.kind, b.transfer_id) for b in response.breaks) == sorted(
        [
            (BREAK.BREAK_KIND_AMOUNT_MISMATCH, amount_off),
            (BREAK.BREAK_KIND_DUPLICATE, duplicated),
            (BREAK.BREAK_KIND_MISSING_AT_HUB, UNKNOWN_TRANSFER_ID),
            (BREAK.BREAK_KIND_TIMING, late),
            (BREAK.BREAK_KIND_MISSING_AT_PARTNER, missing),
        ]
    )
    details = {b.kind: b.detail for b in response.breaks}
    assert "amount_minor" in details[BREAK.BREAK_KIND_AMOUNT_MISMATCH]
    assert next_day(day) in details[BREAK.BREAK_KIND_TIMING]
    clean = client.submit_reconciliation(day, [expected[t] for t in sorted(expected)])
    assert list(clean.breaks) == []
    empty = client.submit_reconciliation(day, [])
    assert [(b.kind, b.transfer_id) for b in empty.breaks] == [(BREAK.BREAK_KIND_NO_DATA, "")]
    ids = {response.reconciliation_id, clean.reconciliation_id, empty.reconciliation_id}
    assert len(ids) == 3 and all(i.startswith("rc_") for i in ids)

    before = table_snapshot(engine, exclude=REQUEST_BOOKKEEPING)
    again = client.submit_reconciliation(day, upload)  # a new idempotency key: a new request
    assert again == response
    assert client.submit_reconciliation(day, []) == empty
    assert table_snapshot(engine, exclude=REQUEST_BOOKKEEPING) == before
    assert query_rows(engine, "SELECT count(*) FROM reconciliations") == [(3,)]


# Disputes


def test_disputes_refusals_rejection_and_an_accepted_adjustment_on_the_next_open_day(
    hub: ClockedCoalition, programs: dict[str, LoyaltyProgram], member: Member, engine: Engine
) -> None:
    ids = trade(programs, member)
    day = today(hub)
    settle(hub, day)
    skyway, harbor, orbit = (settlement(hub, p) for p in PARTNERS)
    transfers = {t.transfer_id: t for t in completed_transfers(engine)}
    second, harbor_orbit = transfers[ids[1]], transfers[ids[3]]  # skyway→harbor, harbor→orbit

    not_yours = refused(
        engine, lambda: skyway.open_dispute(day, harbor_orbit.transfer_id, money(1), "not mine")
    )
    assert (not_yours.code, not_yours.reason) == (grpc.StatusCode.NOT_FOUND, "RECORD_NOT_FOUND")
    wrong_currency = refused(
        engine, lambda: harbor.open_dispute(day, second.transfer_id, money(1, "EUR"), "fx")
    )
    assert wrong_currency.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "claimed_amount.currency_code" in wrong_currency.field_violations
    wrong_day = refused(
        engine,
        lambda: harbor.open_dispute(next_day(day), second.transfer_id, money(1), "which day?"),
    )
    assert wrong_day.reason == "NOT_SETTLED"

    # harbor, paid for `second`, says it was owed 1.00 USD more.
    claimed = second.amount_minor + 100
    opened = harbor.open_dispute(day, second.transfer_id, money(claimed), "price was 0.0042")
    assert (opened.state, opened.opened_by_partner_id, opened.counterparty_id) == (
        settlement_pb2.DISPUTE_STATE_OPEN,
        "harbor",
        "skyway",
    )
    assert (opened.recorded_amount.amount_minor, opened.claimed_amount.amount_minor) == (
        second.amount_minor,
        claimed,
    )
    already = refused(
        engine, lambda: harbor.open_dispute(day, second.transfer_id, money(claimed), "again")
    )
    assert (already.code, already.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "DISPUTE_ALREADY_OPEN",
    )
    by_opener = refused(engine, lambda: harbor.resolve_dispute(opened.dispute_id, True, "yes"))
    assert (by_opener.code, by_opener.reason) == (grpc.StatusCode.PERMISSION_DENIED, "NOT_A_PARTY")
    stranger = refused(engine, lambda: orbit.resolve_dispute(opened.dispute_id, True, "yes"))
    assert stranger.reason == "DISPUTE_NOT_FOUND"

    # orbit, paid for harbor→orbit, claims more too; harbor rejects it with a reason.
    claim = orbit.open_dispute(
        day, harbor_orbit.transfer_id, money(harbor_orbit.amount_minor + 50), "short paid"
    )
    rejected = harbor.resolve_dispute(claim.dispute_id, False, "price as agreed, version 1")
    assert (rejected.state, rejected.resolution_reason, rejected.adjustment_business_day) == (
        settlement_pb2.DISPUTE_STATE_REJECTED,
        "price as agreed, version 1",
        "",
    )
    # skyway accepts harbor's: the closed day is not touched, the next open day gets it.
    accepted = skyway.resolve_dispute(opened.dispute_id, True, "our price table was stale")
    assert (accepted.state, accepted.adjustment_business_day) == (
        settlement_pb2.DISPUTE_STATE_ACCEPTED,
        next_day(day),
    )
    twice = refused(engine, lambda: skyway.resolve_dispute(opened.dispute_id, False, "changed"))
    assert twice.reason == "DISPUTE_NOT_OPEN"
    assert [d.dispute_id for d in skyway.list_disputes()] == [opened.dispute_id]
    assert {d.dispute_id for d in harbor.list_disputes()} == {opened.dispute_id, claim.dispute_id}
    assert [d.state for d in orbit.list_disputes()] == [settlement_pb2.DISPUTE_STATE_REJECTED]

    assert settle(hub, day).alarm is None
    result = settle(hub, next_day(day))
    assert result.tree_size == 1
    assert {p.participant: p.net_minor for p in result.positions[USD]} == {
        "harbor": 100,
        "skyway": -100,
    }
    statement = harbor.verified_statement(next_day(day), USD)
    [line] = statement.lines
    record = decode_record(line.record)
    assert (record["kind"], record["source_partner_id"], record["destination_partner_id"]) == (
        "adjustment",
        "skyway",
        "harbor",
    )
    assert (line.direction, line.amount.amount_minor, statement.net.amount_minor) == (
        RECEIVABLE,
        100,
        100,
    )
    assert skyway.verified_statement(next_day(day), USD).net.amount_minor == -100
    [pay_in] = skyway.list_payment_instructions(next_day(day))
    assert (pay_in.direction, pay_in.amount.amount_minor) == (PAY_IN, 100)


def test_the_files_of_the_day_with_an_adjustment_show_it(
    hub: ClockedCoalition, programs: dict[str, LoyaltyProgram], member: Member, engine: Engine
) -> None:
    transfer_id = move(programs, member, ("skyway", "harbor"), 4_000)
    day = today(hub)
    settle(hub, day)
    opened = settlement(hub, "harbor").open_dispute(day, transfer_id, money(1_300), "owed more")
    settlement(hub, "skyway").resolve_dispute(opened.dispute_id, True, "agreed")
    settle(hub, next_day(day))

    files, _ = files_of(engine, next_day(day))

    assert b"adjustment" in files["statement-harbor-USD.csv"]


# The demo's last section


def test_the_demos_settlement_section_shows_positions_instructions_and_verified_statements(
    hub: ClockedCoalition,
    programs: dict[str, LoyaltyProgram],
    member: Member,
    capsys: pytest.CaptureFixture[str],
) -> None:
    move(programs, member, ("skyway", "harbor"), 4_000)
    move(programs, member, ("orbit", "skyway"), 5_000)
    day = today(hub)

    def settle_today() -> str:
        settle(hub, day)
        return day

    capsys.readouterr()
    nightly_settlement({p: hub.connection(p) for p in PARTNERS}, settle_today)
    out = capsys.readouterr().out

    assert "== the night's settlement ==" in out
    assert f"the hub closed business day {day} early and settled it" in out
    # 4,000 miles: 12.00 USD + 0.03 fee; 5,000 card points: 4,000 miles, 16.00 + 0.04.
    assert "skyway  receivable 16.00 USD, payable 12.03 USD (fees included), net 3.97 USD" in out
    assert "harbor  receivable 12.00 USD, payable 0.00 USD (fees included), net 12.00 USD" in out
    assert f"pays in 16.04 USD, reference CX-{day.replace('-', '')}-USD-orbit-IN" in out
    assert out.count("statement verified: ") == 3
    assert "statement verified: 2 lines, every proof checks, net 3.97 USD" in out
    assert "the statements show 1 Merkle root(s) for the day" in out


def test_the_demo_ends_with_the_measures_each_brand_may_see(
    hub: ClockedCoalition,
    programs: dict[str, LoyaltyProgram],
    member: Member,
    capsys: pytest.CaptureFixture[str],
) -> None:
    move(programs, member, ("skyway", "harbor"), 4_000)
    move(programs, member, ("orbit", "skyway"), 5_000)
    day = today(hub)
    settle(hub, day)

    capsys.readouterr()
    show_kpis({p: hub.connection(p) for p in PARTNERS}, day)
    out = capsys.readouterr().out

    assert f"== the coalition's measures for {day}, as each brand sees them ==" in out
    skyway = out.split("skyway asks for transfer_count")[1].split("asks for")[0]
    assert "skyway -> harbor         1" in skyway and "orbit -> skyway          1" in skyway
    assert "skyway -> harbor         4,000" in out  # transfer_points_out, as skyway sees it
    # One member: orbit's count of active members is withheld, never printed as a number.
    orbit = out.split("orbit asks for active_members_30d")[1]
    assert "withheld (fewer than 11 members)" in orbit
    assert not any(ch.isdigit() for ch in orbit.split(":", 1)[1].replace("11", ""))


# The operator's commands


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    exit_code = main(list(argv))
    out, err = capsys.readouterr()
    return exit_code, out, err


def written(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_the_settle_export_and_reconcile_commands(
    hub: ClockedCoalition,
    programs: dict[str, LoyaltyProgram],
    member: Member,
    engine: Engine,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ENVIRONMENT_NAMES.values():
        monkeypatch.delenv(variable, raising=False)  # the default calendar, like the hub's
    transfer_ids = trade(programs, member)
    day = today(hub)
    banks = tmp_path / "banks.json"
    banks.write_text(json.dumps({p: vars(account) for p, account in BANK_ACCOUNTS.items()}))
    database = ("--database-url", database_url)

    def reconcile(partner_id: str, path: Path) -> tuple[int, str, str]:
        arguments = ("--partner", partner_id, "--date", day, str(path), *database)
        return run_cli(capsys, "reconcile", *arguments)

    settled_files, exported_files = tmp_path / "settled", tmp_path / "exported"
    capsys.readouterr()

    code, _, err = run_cli(capsys, "settle", "--date", day, "--out", str(settled_files), *database)
    assert (code, err.startswith("coalition: error: "), "has not ended" in err) == (1, True, True)
    code, _, err = run_cli(capsys, "export", "--date", day, "--out", str(exported_files), *database)
    assert (code, "not settled" in err) == (1, True)

    code, out, err = run_cli(
        capsys, "settle", "--date", day, "--close-now", "--out", str(settled_files),
        "--bank-accounts", str(banks), *database,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert f"business day {day} settled: 5 records" in out
    assert written(settled_files) == files_of(engine, day)[0]
    assert PAIN_001_FILE in written(settled_files)

    code, out, _ = run_cli(
        capsys, "export", "--date", day, "--out", str(exported_files),
        "--bank-accounts", str(banks), *database,
    )  # fmt: skip
    assert code == 0 and written(exported_files) == written(settled_files)
    code, out, _ = run_cli(capsys, "settle", "--date", day, "--out", str(exported_files), *database)
    assert code == 0 and "already settled; stored result" in out

    own = partner_records(engine, "orbit", day)
    rows = ["transfer_id,direction,points,amount_minor,currency"] + [
        f"{r.transfer_id},{r.direction},{r.points},{r.amount.amount_minor},USD"
        for r in sorted(own.values(), key=lambda r: r.transfer_id)[1:]
    ]
    upload = tmp_path / "orbit.csv"
    upload.write_text("\n".join(rows) + "\n")
    code, out, _ = reconcile("orbit", upload)
    assert code == 0
    first_line, header, *breaks = out.splitlines()
    assert first_line.startswith("reconciliation rc_") and first_line.endswith(": 1 break(s)")
    assert (header, len(breaks)) == ("kind,transfer_id,detail", 1)
    assert breaks[0].startswith(f"missing_at_partner,{sorted(own)[0]},")
    code, again, _ = reconcile("orbit", upload)
    assert (code, again) == (0, out)

    upload.write_text("transfer_id,direction\n")
    code, _, err = reconcile("orbit", upload)
    assert code == 1 and "header" in err and err.count("\n") == 1
    upload.write_text(rows[0] + "\n")
    code, _, err = reconcile("nobody", upload)
    assert (code, "no partner nobody" in err) == (1, True)

    add_to_amount(engine, transfer_ids[2], 1)
    code, out, err = run_cli(
        capsys, "settle", "--date", day, "--out", str(exported_files), *database
    )
    assert code == 1 and "ALARM" in err and day in err
    assert "already settled; stored result" in out
