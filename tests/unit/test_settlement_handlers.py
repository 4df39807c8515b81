"""Settling a day, reading its statements and disputing a line, on the in-memory fakes."""

from __future__ import annotations

from dataclasses import replace

from coalition import merkle
from exchange.adapters.memory import FixedClock, InMemoryUnitOfWorkFactory
from exchange.domain import disputes as dispute_states
from exchange.domain.partners import Partner, PartnerKind
from exchange.domain.settlement import record_bytes
from exchange.domain.transfers import TransferState
from exchange.services import disputes, export_files, statements
from exchange.services.settlement import settle_day
from settlement.calendar import CoalitionCalendar
from settlement.model import PartnerRecord
from tests.unit.transfer_values import AT_US, a_transfer

DAY = "2023-11-14"
CALENDAR = CoalitionCalendar()


def coalition_day() -> tuple[InMemoryUnitOfWorkFactory, FixedClock]:
    clock = FixedClock()
    uows = InMemoryUnitOfWorkFactory(clock=clock)
    with uows() as uow:
        for partner_id in ("harbor", "skyway"):
            program = f"{partner_id.upper()}_POINTS"
            uow.partners.add(Partner(partner_id, partner_id, PartnerKind.OTHER, program, AT_US))
        uow.members.add_member("cm_1", AT_US)
        for number, amount in ((1, 300), (2, 450), (3, 120)):
            source, destination = ("skyway", "harbor") if number != 3 else ("harbor", "skyway")
            uow.transfers.add(
                a_transfer(
                    transfer_id=f"tr_{number}",
                    source_partner_id=source,
                    destination_partner_id=destination,
                    settlement_amount_minor=amount,
                    fee_minor=10,
                    state=TransferState.COMPLETED,
                    resolved_at_us=AT_US + number,
                    business_day=DAY,
                )
            )
        uow.commit()
    return uows, clock


def test_a_day_settles_once_with_its_root_and_nets_summing_to_zero() -> None:
    uows, clock = coalition_day()
    settled = settle_day(uows, CALENDAR, clock, DAY, close_early=True)
    with uows() as uow:
        records = list(uow.settlement.day_records(DAY))
    leaves = [merkle.leaf_hash(record_bytes(r)) for r in records]
    assert (settled.merkle_root, settled.tree_size) == (merkle.root(leaves), 3)
    assert sum(p.net_minor for p in settled.positions["USD"]) == 0
    again = settle_day(uows, CALENDAR, clock, DAY)
    assert again.already_settled and again.alarm is None
    assert again.merkle_root == settled.merkle_root


def test_a_changed_record_of_a_settled_day_is_an_alarm_and_changes_nothing() -> None:
    uows, clock = coalition_day()
    settled = settle_day(uows, CALENDAR, clock, DAY, close_early=True)
    with uows() as uow:
        changed = uow.transfers.get("tr_2")
        assert changed is not None
        uow.transfers.save(replace(changed, resolved_at_us=AT_US + 99))
        uow.commit()
    again = settle_day(uows, CALENDAR, clock, DAY)
    assert again.alarm is not None and again.merkle_root == settled.merkle_root


def test_statements_proofs_and_files_come_from_the_settled_day() -> None:
    uows, clock = coalition_day()
    settle_day(uows, CALENDAR, clock, DAY, close_early=True)
    with uows() as uow:
        day = statements.settled(uow, DAY)
        lines = list(statements.statement_lines(uow, "harbor", DAY, "USD"))
        assert [line.record.transfer_id for line in lines] == ["tr_1", "tr_2", "tr_3"]
        own = statements.own_position(uow, "harbor", DAY, "USD")
        assert own is not None and own.net_minor == statements.totals(lines).net_minor
        index, size, path, data = statements.inclusion_proof(uow, "skyway", DAY, "tr_2")
        assert merkle.verify_inclusion(merkle.leaf_hash(data), index, size, path, day.merkle_root)
        files, _notes = export_files.day_files(uow, DAY, {})
    assert {"positions.csv", "statement-harbor-USD.csv", "statement-skyway-USD.csv"} <= set(files)


def test_an_accepted_dispute_books_its_adjustment_in_the_next_open_day() -> None:
    uows, clock = coalition_day()
    settle_day(uows, CALENDAR, clock, DAY, close_early=True)
    command = disputes.OpenDispute("harbor", DAY, "tr_1", 350, "USD", "we agreed 3.50")
    with uows() as uow:
        opened = disputes.open_dispute(uow, clock, command)
        uow.commit()
    with uows() as uow:
        resolved = disputes.resolve_dispute(
            uow, clock, CALENDAR, "skyway", opened.dispute_id, (True, "agreed")
        )
        uow.commit()
    assert resolved.state == dispute_states.ACCEPTED
    next_day = resolved.adjustment_business_day
    assert next_day is not None and next_day > DAY
    settled = settle_day(uows, CALENDAR, clock, next_day, close_early=True)
    nets = {p.participant: p.net_minor for p in settled.positions["USD"]}
    assert (nets["harbor"], nets["skyway"]) == (50, -50)
    with uows() as uow:
        assert disputes.disputes_of(uow, "skyway") == [resolved]


def test_the_same_upload_gets_the_same_reconciliation() -> None:
    uows, clock = coalition_day()
    settle_day(uows, CALENDAR, clock, DAY, close_early=True)
    upload = [PartnerRecord("tr_1", "outgoing", 1_000, 300, "USD")]
    with uows() as uow:
        first, breaks = disputes.submit_reconciliation(uow, clock, "skyway", DAY, upload)
        uow.commit()
    with uows() as uow:
        second, again = disputes.submit_reconciliation(uow, clock, "skyway", DAY, upload)
    assert first == second and breaks == again
    assert {b.transfer_id for b in breaks} == {"tr_2", "tr_3"}
