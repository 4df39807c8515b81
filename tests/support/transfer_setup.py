"""Setting up transfers over the real API, and firing many calls at the hub at once."""

from __future__ import annotations

import datetime
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import grpc
from google.protobuf.message import Message
from sqlalchemy import Engine, func, select

from coalition import wire
from coalition.keys import verify_signature
from coalition.v1 import exchange_pb2 as xpb
from coalition.v1 import identity_pb2 as ipb
from exchange.adapters.sql.tables import JournalRow, TransferRow
from partners.sdk import HubConnection, HubError
from tests.support.coalition import TestCoalition
from tests.support.raw_calls import RawOutcome, SignedRequest, send

IDENTITY = "/coalition.v1.IdentityService/"
EXCHANGE = "/coalition.v1.ExchangeService/"
CREATE_TRANSFER = EXCHANGE + "CreateTransfer"
CONFIRM_CREDIT = EXCHANGE + "ConfirmCredit"
REJECT_CREDIT = EXCHANGE + "RejectCredit"

# Every wait on a thread is bounded, so a hang (a deadlock nobody detects) fails the test.
THREAD_JOIN_S_MAX = 60.0

T = TypeVar("T")


class OffsetClock:
    """Real time plus an offset the test moves forward: the hub's timeouts pass on demand.

    It stays near real time, so request signatures made with the wall clock remain fresh.
    """

    def __init__(self) -> None:
        self.offset_us = 0
        self._lock = threading.Lock()

    def now_us(self) -> int:
        with self._lock:
            return time.time_ns() // 1000 + self.offset_us

    def advance_s(self, seconds: float) -> None:
        assert seconds >= 0, "time does not run backwards"
        with self._lock:
            self.offset_us += int(seconds * 1_000_000)


@dataclass(frozen=True)
class Outcome:
    """What one call came back with: OK and the response bytes, or a status and its reason."""

    code: grpc.StatusCode
    reason: str
    response: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.code is grpc.StatusCode.OK

    @property
    def label(self) -> str:
        return "OK" if self.ok else f"{self.code.name} {self.reason}".strip()


def tally(outcomes: Sequence[Outcome]) -> Counter[str]:
    return Counter(outcome.label for outcome in outcomes)


# --- setup over the API ------------------------------------------------------------------------


def linked_member(source: HubConnection, destination: HubConnection) -> tuple[str, str]:
    """Enrols one member at both partners and links them; returns (source ppid, dest ppid)."""
    source_ppid = source.call(
        IDENTITY + "EnrollMember",
        ipb.EnrollMemberRequest(),
        ipb.EnrollMemberResponse,
        changes_state=True,
    ).ppid
    destination_ppid = destination.call(
        IDENTITY + "EnrollMember",
        ipb.EnrollMemberRequest(),
        ipb.EnrollMemberResponse,
        changes_state=True,
    ).ppid
    link_code = source.call(
        IDENTITY + "CreateLinkCode",
        ipb.CreateLinkCodeRequest(ppid=source_ppid),
        ipb.CreateLinkCodeResponse,
        changes_state=True,
    ).link_code
    destination.call(
        IDENTITY + "RedeemLinkCode",
        ipb.RedeemLinkCodeRequest(link_code=link_code, ppid=destination_ppid),
        ipb.RedeemLinkCodeResponse,
        changes_state=True,
    )
    return source_ppid, destination_ppid


def link_at(holder: HubConnection, holder_ppid: str, other: HubConnection) -> str:
    """Enrols an already-enrolled member at one more partner and links it; returns that ppid."""
    other_ppid = other.call(
        IDENTITY + "EnrollMember",
        ipb.EnrollMemberRequest(),
        ipb.EnrollMemberResponse,
        changes_state=True,
    ).ppid
    link_code = holder.call(
        IDENTITY + "CreateLinkCode",
        ipb.CreateLinkCodeRequest(ppid=holder_ppid),
        ipb.CreateLinkCodeResponse,
        changes_state=True,
    ).link_code
    other.call(
        IDENTITY + "RedeemLinkCode",
        ipb.RedeemLinkCodeRequest(link_code=link_code, ppid=other_ppid),
        ipb.RedeemLinkCodeResponse,
        changes_state=True,
    )
    return other_ppid


def agree_rates(
    source: HubConnection,
    destination: HubConnection,
    *,
    daily_cap_source_points: int = 1_000_000,
) -> None:
    """source proposes 1000:750 at USD 0.0040 a destination point; destination accepts."""
    terms = xpb.RateTerms(
        source_units=1000,
        destination_units=750,
        minimum_source_points=1000,
        increment_source_points=1000,
        maximum_source_points=100_000,
        member_daily_cap_source_points=daily_cap_source_points,
        settlement_currency_code="USD",
        price_per_destination_point="0.0040",
    )
    terms.effective_from.FromDatetime(datetime.datetime(2020, 1, 1))
    agreement = source.call(
        EXCHANGE + "ProposeRateAgreement",
        xpb.ProposeRateAgreementRequest(
            source_partner_id=source.partner_id,
            destination_partner_id=destination.partner_id,
            terms=terms,
        ),
        xpb.ProposeRateAgreementResponse,
        changes_state=True,
    ).agreement
    destination.call(
        EXCHANGE + "AcceptRateAgreement",
        xpb.AcceptRateAgreementRequest(
            agreement_id=agreement.agreement_id, version=agreement.version
        ),
        xpb.AcceptRateAgreementResponse,
        changes_state=True,
    )


def quote_id(source: HubConnection, ppid: str, destination_id: str, points: int) -> str:
    quote = source.call(
        EXCHANGE + "CreateQuote",
        xpb.CreateQuoteRequest(
            ppid=ppid, destination_partner_id=destination_id, source_points=points
        ),
        xpb.CreateQuoteResponse,
        changes_state=True,
    ).quote
    return xpb.QuotePayload.FromString(quote.payload).quote_id


def create_transfer(source: HubConnection, quote: str, idempotency_key: str | None = None) -> str:
    return source.call(
        CREATE_TRANSFER,
        xpb.CreateTransferRequest(quote_id=quote),
        xpb.CreateTransferResponse,
        changes_state=True,
        idempotency_key=idempotency_key,
    ).transfer.transfer_id


# --- calls that report instead of raising --------------------------------------------------------


def sdk_outcome(
    connection: HubConnection,
    method: str,
    request: Message,
    response_type: type[Message],
    idempotency_key: str | None = None,
) -> Outcome:
    """An SDK call (signed, response verified) as an Outcome; refusals do not raise."""
    try:
        response = connection.call(
            method, request, response_type, changes_state=True, idempotency_key=idempotency_key
        )
    except HubError as error:
        return Outcome(error.code, error.reason)
    return Outcome(grpc.StatusCode.OK, "", response.SerializeToString(deterministic=True))


def raw_outcome(
    coalition: TestCoalition, channel: grpc.Channel, request: SignedRequest
) -> tuple[Outcome, RawOutcome]:
    """Sends exactly these bytes and headers; an OK response must carry a valid hub signature."""
    raw = send(channel, request)
    if raw.code is grpc.StatusCode.OK:
        assert raw.response is not None
        key_id = raw.trailers.get(wire.HEADER_KEY_ID)
        signature = raw.trailers.get(wire.HEADER_SIGNATURE)
        public_key = coalition.hub_public_keys.get(key_id) if isinstance(key_id, str) else None
        assert public_key is not None and isinstance(signature, bytes), "unsigned response"
        signed = wire.response_signing_bytes(
            method=request.method, audience=request.audience, nonce=request.nonce, body=raw.response
        )
        assert verify_signature(public_key, signature, signed), "bad hub signature"
    return Outcome(raw.code, raw.reason, raw.response), raw


# --- many at once --------------------------------------------------------------------------------


def all_at_once(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Runs every task on its own thread, released together by a barrier; returns results.

    An exception in a task is re-raised here, after every thread finished.
    """
    barrier = threading.Barrier(len(tasks))
    results: list[T | None] = [None] * len(tasks)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=THREAD_JOIN_S_MAX)
            results[index] = tasks[index]()
        except BaseException as error:  # reported below, on the test's thread
            errors.append(error)

    threads = [
        threading.Thread(target=run, args=(i,), name=f"concurrent-{i}", daemon=True)
        for i in range(len(tasks))
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + THREAD_JOIN_S_MAX
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"{len(stuck)} calls still running after {THREAD_JOIN_S_MAX}s"
    if errors:
        raise errors[0]
    return results  # type: ignore[return-value]


# --- what the database says ----------------------------------------------------------------------


def transfer_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(TransferRow)) or 0)


def transfer_states(engine: Engine) -> dict[str, tuple[str, str | None]]:
    """transfer id -> (state, void reason)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(TransferRow.transfer_id, TransferRow.state, TransferRow.void_reason)
        )
        return {transfer_id: (state, reason) for transfer_id, state, reason in rows}


def journal_kinds(engine: Engine) -> dict[str, list[str]]:
    """transfer id -> the kinds of its journals, sorted, duplicates kept."""
    kinds: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for transfer_id, kind in connection.execute(
            select(JournalRow.transfer_id, JournalRow.kind)
        ):
            kinds.setdefault(transfer_id, []).append(kind)
    return {transfer_id: sorted(found) for transfer_id, found in kinds.items()}
