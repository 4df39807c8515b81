"""Shared figures and checks: the coalition's opening balances, a hub without its sweeper, calls
whose answers are lost, and each member's balances checked against the hub's record."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import Engine, select

from coalition.keys import SigningKey
from coalition.v1 import exchange_pb2
from exchange.adapters.memory import FixedClock
from exchange.adapters.sql.tables import LedgerAccountRow
from exchange.bootstrap import bootstrap
from exchange.config import Settings
from partners.programs.program import LoyaltyProgram
from partners.programs.transfer_store import OutgoingState
from partners.sdk import HubError
from partners.sdk.exchange_client import ExchangeClient
from tests.support.coalition import seed_partners
from tests.support.programs import ClockedCoalition
from tests.support.transfers import Member

COMPLETED = exchange_pb2.TRANSFER_STATE_COMPLETED
VOIDED = exchange_pb2.TRANSFER_STATE_VOIDED
TRANSFER = exchange_pb2.TRANSFER_KIND_TRANSFER
REVERSAL = exchange_pb2.TRANSFER_KIND_REVERSAL
TIMEOUT_S = 60
OPENING = {"skyway": 10_000, "harbor": 0, "orbit": 10_000}
# 4,000 miles at 1000:750 are 3,000 hotel points, at 0.0040 USD each: 12.00 USD, fee 25 bp.
MILES, HOTEL_POINTS, AMOUNT_MINOR, FEE_MINOR = 4_000, 3_000, 1_200, 3


def clock_time(clock: FixedClock) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=clock.now_us())


def noon_today() -> FixedClock:
    """Midday UTC today: half a day from either edge of the daily cap's UTC day."""
    today = datetime.now(UTC).date()
    noon = datetime(today.year, today.month, today.day, 12, tzinfo=UTC)
    return FixedClock(int(noon.timestamp()) * 1_000_000)


@contextmanager
def hub_without_sweeper(
    settings: Settings, hub_key: SigningKey, engine: Engine, clock: FixedClock
) -> Iterator[ClockedCoalition]:
    """A serving hub whose timeout sweeper never runs: what happens before it gets to work."""
    hub = bootstrap(settings, clock=clock, hub_key=hub_key, engine=engine)
    keys = seed_partners(hub)
    hub.server.start()
    coalition = ClockedCoalition(hub, keys, clock=clock)
    try:
        yield coalition
    finally:
        coalition.close()
        hub.stop(0)


def intercept_once(
    monkeypatch: pytest.MonkeyPatch,
    client: ExchangeClient,
    method: str,
    around: Callable[[Callable[[], Any]], Any],
) -> None:
    """The next call of `client.method` runs `around(call_the_hub)` instead; later ones don't."""
    real = getattr(client, method)

    def once(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(client, method, real)
        return around(lambda: real(*args, **kwargs))

    monkeypatch.setattr(client, method, once)


def connection_reset() -> HubError:
    return HubError(grpc.StatusCode.UNAVAILABLE, "connection reset")


def never_arrives(call_the_hub: Callable[[], Any]) -> Any:
    raise connection_reset()


def response_lost(call_the_hub: Callable[[], Any]) -> Any:
    call_the_hub()
    raise connection_reset()


def hub_transfer(program: LoyaltyProgram, transfer_id: str | None) -> exchange_pb2.Transfer:
    assert transfer_id is not None
    return program.exchange.get_transfer(transfer_id)


def transfers_of(program: LoyaltyProgram, member: Member) -> list[exchange_pb2.Transfer]:
    """The member's transfers as `program` sees them at the hub, oldest first."""
    own = program.member(member.at(program))
    assert own is not None
    return [t for t in program.exchange.transfers() if t.ppid == own.ppid][::-1]


def assert_balances_follow_the_hub(
    programs: dict[str, LoyaltyProgram], member: Member, opening: dict[str, int] = OPENING
) -> None:
    """Every brand's balance is its opening balance, less the source points of completed
    transfers out, plus the destination points of completed transfers in (a completed reversal
    the other way round); a voided transfer moved nothing once the source refunded it."""
    for program in programs.values():
        expected = opening.get(program.partner_id, 0)
        for transfer in transfers_of(program, member):
            assert transfer.state != exchange_pb2.TRANSFER_STATE_PENDING, "resolve first"
            if transfer.state != COMPLETED:
                continue
            sign = 1 if transfer.kind == TRANSFER else -1
            if transfer.source_partner_id == program.partner_id:
                expected -= sign * transfer.source_points
            else:
                expected += sign * transfer.destination_points
        assert program.balance(member.at(program)) == expected, program.partner_id


def ledger_accounts(engine: Engine) -> dict[str, tuple[int, int, int, int]]:
    """account id -> (debits posted, credits posted, debits pending, credits pending)."""
    with engine.connect() as connection:
        rows = connection.execute(select(LedgerAccountRow)).all()
    return {
        row.account_id: (
            row.debits_posted,
            row.credits_posted,
            row.debits_pending,
            row.credits_pending,
        )
        for row in rows
    }


def local_state(program: LoyaltyProgram, transfer_id: str | None) -> OutgoingState:
    """The transfer's state as the program recorded it."""
    row = program.outgoing(transfer_id or "")
    assert row is not None, f"{program.partner_id} has no outgoing {transfer_id}"
    return row.state


def ppid_at(program: LoyaltyProgram, member: Member) -> str:
    own = program.member(member.at(program))
    assert own is not None
    return own.ppid
