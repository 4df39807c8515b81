"""`coalition check` passes on a real ledger and exits 1 on every kind of tampering."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from exchange.adapters.sql.ledger_check import check_ledger
from exchange.cli import main
from partners.programs import brands
from partners.programs.program import LoyaltyProgram
from tests.support.coalition import TestCoalition
from tests.support.transfers import agree, linked_member, sync_all, terms


@pytest.fixture
def ledger_with_transfers(coalition: TestCoalition, tmp_path: Path) -> Engine:
    """A completed transfer, a rejected one and a pending one, all through the real hub."""
    keys = coalition.hub_public_keys
    programs: dict[str, LoyaltyProgram] = {
        "skyway": brands.airline(tmp_path / "sky.db", coalition.connection("skyway"), keys),
        "harbor": brands.hotel(tmp_path / "hbr.db", coalition.connection("harbor"), keys),
    }
    agree(programs["skyway"], programs["harbor"], terms(datetime.now(UTC)))
    member = linked_member(programs, "CHK", {"skyway": 50_000})
    skyway = programs["skyway"]
    skyway.transfer_out(member.at(skyway), "harbor", 4_000)
    sync_all(programs)
    skyway.transfer_out(member.at(skyway), "harbor", 2_000)
    return coalition.hub.engine


def run_check(database_url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["check", "--database-url", database_url])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_real_ledger_checks_clean(
    ledger_with_transfers: Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check_ledger(ledger_with_transfers) == []
    code, output = run_check(database_url, capsys)
    assert code == 0
    assert "ledger consistent" in output


TAMPERING: dict[str, tuple[str, str]] = {
    "a cached counter": (
        "UPDATE ledger_accounts SET debits_posted = debits_posted + 1 "
        "WHERE account_id = (SELECT MIN(account_id) FROM ledger_accounts WHERE debits_posted > 0)",
        "caches",
    ),
    "an entry amount": (
        "UPDATE ledger_entries SET amount = amount + 1 "
        "WHERE entry_id = (SELECT MIN(entry_id) FROM ledger_entries)",
        "off by",
    ),
    "a transfer's state": (
        "UPDATE transfers SET state = 'completed' WHERE state = 'pending'",
        "has journals",
    ),
}


@pytest.mark.parametrize("what", list(TAMPERING))
def test_tampering_is_reported_and_exits_non_zero(
    what: str,
    ledger_with_transfers: Engine,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    statement, expected = TAMPERING[what]
    with ledger_with_transfers.begin() as connection:
        assert connection.execute(text(statement)).rowcount == 1
    code, output = run_check(database_url, capsys)
    assert code == 1
    assert expected in output
    assert "difference" in output
