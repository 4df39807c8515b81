"""Inline-terms CreateTransfer, CreateTransferBatch and ConfirmCredits end to end, on SQLite and
PostgreSQL (DESIGN §3.4, §4.2, §4.3; §7 inv. 1-4 and 9).

Each entry of a batch is stored as if it were a CreateTransfer call with the entry's own
idempotency key: it gets the outcome it would get alone, a refused entry writes nothing, and a
key means the same in any batch or alone. Bad input anywhere refuses the whole call and writes
nothing. After every test the hub's ledger checks clean.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import cast

import grpc
import pytest
from sqlalchemy import Engine

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import common_pb2, event_pb2
from coalition.v1 import exchange_pb2 as xpb
from coalition.v1 import identity_pb2 as ipb
from exchange.adapters.memory import FixedClock
from exchange.adapters.sql.ledger_check import check_ledger
from exchange.bootstrap import bootstrap
from exchange.config import Settings
from exchange.domain import limits
from partners.sdk import BatchTransfer, EventClient, HubError, verify_event, verify_receipt
from partners.sdk.exchange_client import ExchangeClient
from tests.support.coalition import AUDIENCE, TestCoalition, seed_partners
from tests.support.databases import REPLAY_BOOKKEEPING, table_snapshot
from tests.support.programs import Race, clocked_coalition, error_shape, query_rows, refused
from tests.support.raw_calls import SignedRequest, new_idempotency_key
from tests.support.transfer_setup import (
    CREATE_TRANSFER,
    EXCHANGE,
    IDENTITY,
    OffsetClock,
    agree_rates,
    journal_kinds,
    link_at,
    linked_member,
    quote_id,
    raw_outcome,
    transfer_count,
)

CREATE_TRANSFER_BATCH = EXCHANGE + "CreateTransferBatch"
CONFIRM_CREDITS = EXCHANGE + "ConfirmCredits"
PENDING = xpb.TRANSFER_STATE_PENDING
COMPLETED = xpb.TRANSFER_STATE_COMPLETED
VOIDED = xpb.TRANSFER_STATE_VOIDED
OK = "OK"
INVALID = grpc.StatusCode.INVALID_ARGUMENT
FAILED = grpc.StatusCode.FAILED_PRECONDITION
NOT_FOUND = grpc.StatusCode.NOT_FOUND
BATCH_MAX = limits.TRANSFER_BATCH_ENTRIES_MAX
# agree_rates: 1000:750 at USD 0.0040 a destination point, in thousands from 1,000 to 100,000.
# 4,000 points are 3,000 there, 12.00 USD, and a 25 bp hub fee of 0.03 USD.
POINTS, DESTINATION_POINTS, AMOUNT_MINOR, FEE_MINOR = 4_000, 3_000, 1_200, 3
DAILY_CAP_POINTS = 50_000
UNKNOWN_PPID = "pp_" + "a" * 26  # well formed, issued to nobody
UNKNOWN_TRANSFER_ID = "tr_" + "0" * 24
UPPER_CASE_KEY = "0F8FAD5B-D9CB-469F-A165-70867728950E"  # a UUID, but keys are lower-case
TIMEOUT_S = 120
STATUS_BY_NUMBER = {status.value[0]: status for status in grpc.StatusCode}
# A refused call, or one answered from storage, still spends its nonce; nothing else moves.
NONCES = REPLAY_BOOKKEEPING
# What starting transfers may touch; quotes, members, links and agreements stay as they were.
TRANSFER_TABLES = frozenset(
    {
        "transfers",
        "journals",
        "ledger_entries",
        "ledger_accounts",
        "events",
        "partner_feeds",
        "idempotency_records",
    }
)
Snapshot = dict[str, list[tuple[object, ...]]]
Result = xpb.TransferBatchResult | xpb.ConfirmCreditResult


@pytest.fixture(autouse=True)
def ledger_checks_clean(engine: Engine) -> Iterator[None]:
    yield
    assert check_ledger(engine) == []


# --- the scene: a hub, two agreed partners and a linked member -----------------------------------


@dataclass(frozen=True)
class Terms:
    """What one CreateTransfer asks for: a quote, inline terms, both or neither."""

    quote_id: str = ""
    ppid: str = ""
    destination_partner_id: str = ""
    source_points: int = 0

    def alone(self, client: ExchangeClient, key: str | None = None) -> xpb.Transfer:
        return client.create_transfer(
            self.quote_id,
            key,
            ppid=self.ppid,
            destination_partner_id=self.destination_partner_id,
            source_points=self.source_points,
        )

    def entry(self, key: str | None = None) -> BatchTransfer:
        return BatchTransfer(key or new_idempotency_key(), **dataclasses.asdict(self))

    def body(self) -> bytes:
        return xpb.CreateTransferRequest(**dataclasses.asdict(self)).SerializeToString()


def inline(ppid: str, destination: str = "harbor", points: int = POINTS) -> Terms:
    return Terms(ppid=ppid, destination_partner_id=destination, source_points=points)


@dataclass(frozen=True)
class Scene:
    """A hub where skyway → harbor is agreed and one member is linked at both."""

    coalition: TestCoalition
    skyway: ExchangeClient
    harbor: ExchangeClient
    ppid: str  # skyway's ppid for the member
    harbor_ppid: str

    @property
    def engine(self) -> Engine:
        return self.coalition.hub.engine

    def client(self, partner_id: str) -> ExchangeClient:
        return ExchangeClient(self.coalition.connection(partner_id))

    def new_member(self) -> tuple[str, str]:
        """One more member linked at skyway and harbor: (skyway ppid, harbor ppid)."""
        return linked_member(self.skyway.connection, self.harbor.connection)

    def link_at(self, partner_id: str) -> str:
        """Links the member at one more partner; returns that partner's ppid."""
        return link_at(self.skyway.connection, self.ppid, self.coalition.connection(partner_id))

    def agree(self, source: str, destination: str, daily_cap: int = DAILY_CAP_POINTS) -> None:
        agree_rates(
            self.coalition.connection(source),
            self.coalition.connection(destination),
            daily_cap_source_points=daily_cap,
        )

    def entry(self, points: int = POINTS, ppid: str | None = None) -> BatchTransfer:
        """A skyway → harbor entry for the member (or `ppid`), with a fresh key."""
        return inline(self.ppid if ppid is None else ppid, points=points).entry()

    def enrol_only(self, partner_id: str) -> str:
        """A member enrolled at one partner and linked nowhere: that partner's ppid."""
        response = self.coalition.connection(partner_id).call(
            IDENTITY + "EnrollMember",
            ipb.EnrollMemberRequest(),
            ipb.EnrollMemberResponse,
            changes_state=True,
        )
        return response.ppid


def scene_on(coalition: TestCoalition, daily_cap: int = DAILY_CAP_POINTS) -> Scene:
    skyway, harbor = coalition.connection("skyway"), coalition.connection("harbor")
    agree_rates(skyway, harbor, daily_cap_source_points=daily_cap)
    ppid, harbor_ppid = linked_member(skyway, harbor)
    return Scene(coalition, ExchangeClient(skyway), ExchangeClient(harbor), ppid, harbor_ppid)


@pytest.fixture
def scene(coalition: TestCoalition) -> Scene:
    return scene_on(coalition)


@pytest.fixture
def late_scene(
    settings: Settings, hub_key: SigningKey, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Scene, OffsetClock]]:
    """A hub whose transfers time out after TIMEOUT_S on a clock the test moves. No sweeper
    runs, so it is a confirmation that finds a transfer past its timeout."""
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
    yield scene_on(coalition), clock
    coalition.close()
    hub.stop(0)


def noon_today() -> FixedClock:
    """Midday UTC today: half a day from either edge of the daily cap's UTC day."""
    today = datetime.now(UTC).date()
    noon = datetime(today.year, today.month, today.day, 12, tzinfo=UTC)
    return FixedClock(int(noon.timestamp()) * 1_000_000)


# --- reading outcomes ----------------------------------------------------------------------------


def label(result: Result) -> str:
    """OK, or the status and reason the item was refused with."""
    if result.WhichOneof("outcome") == "transfer":
        return OK
    return f"{STATUS_BY_NUMBER[result.error.code].name} {result.error.reason}"


def labels(results: Sequence[Result]) -> list[str]:
    return [label(result) for result in results]


def item_shape(error: common_pb2.ItemError) -> tuple[object, ...]:
    """Everything a caller can tell about an item's refusal."""
    return (STATUS_BY_NUMBER[error.code], error.reason, error.message, error.field)


def alone_shape(error: HubError, prefix: str = "transfer.") -> tuple[object, ...]:
    """A refusal of the call sent alone, as an item reports it (its field within the item)."""
    field = next(iter(error.field_violations), None)
    return (error.code, error.reason, error.message, "" if field is None else prefix + field)


def transfer_ids(results: Sequence[Result]) -> list[str]:
    return [r.transfer.transfer_id for r in results if r.WhichOneof("outcome") == "transfer"]


# --- reading the hub -----------------------------------------------------------------------------


def feed(coalition: TestCoalition, partner_id: str, body: str) -> list[event_pb2.EventPayload]:
    """The partner's events of one kind, from the start of its feed, hub signatures verified."""
    events = EventClient(coalition.connection(partner_id))
    payloads: list[event_pb2.EventPayload] = []
    after = 0
    while page := events.list_events(after_sequence=after, page_size=500).events:
        payloads += [verify_event(e, coalition.hub_public_keys, partner_id) for e in page]
        after = page[-1].sequence
    return [payload for payload in payloads if payload.WhichOneof("body") == body]


def credit_requests(coalition: TestCoalition) -> dict[str, event_pb2.CreditRequested]:
    """harbor's CreditRequested events by transfer id; one per transfer, or the test fails."""
    requests = [p.credit_requested for p in feed(coalition, "harbor", "credit_requested")]
    by_transfer = {request.transfer_id: request for request in requests}
    assert len(by_transfer) == len(requests), "a transfer was asked for twice"
    return by_transfer


def stored_keys(engine: Engine) -> set[str]:
    rows = query_rows(engine, "SELECT idempotency_key FROM idempotency_records")
    return {str(key) for (key,) in rows}


def ledger_counters(engine: Engine) -> dict[str, tuple[int, ...]]:
    """account id -> (debits pending, credits pending, debits posted, credits posted)."""
    rows = query_rows(
        engine,
        "SELECT account_id, debits_pending, credits_pending, debits_posted, credits_posted"
        " FROM ledger_accounts",
    )
    return {str(row[0]): tuple(cast(int, n) for n in row[1:]) for row in rows}


def held_for(transfers: Sequence[xpb.Transfer]) -> dict[str, tuple[int, ...]]:
    """What holding exactly these skyway → harbor transfers puts on the accounts that move."""
    points = sum(t.source_points for t in transfers)
    hotel_points = sum(t.destination_points for t in transfers)
    amount = sum(t.settlement_amount.amount_minor for t in transfers)
    fee = sum(t.fee.amount_minor for t in transfers)
    return {
        "skyway/members/SKYWAY_MILES": (points, 0, 0, 0),
        "harbor/members/HARBOR_POINTS": (0, hotel_points, 0, 0),
        "skyway/settlement/USD": (amount + fee, 0, 0, 0),
        "harbor/settlement/USD": (0, amount, 0, 0),
    }


def changed_tables(before: Snapshot, after: Snapshot) -> set[str]:
    return {table for table in after if after[table] != before.get(table)}


def assert_only_the_call_was_stored(
    engine: Engine, before: Snapshot, keys_before: set[str], call_key: str
) -> None:
    """Nothing but the call's own response (and its nonce) was written."""
    assert changed_tables(before, table_snapshot(engine, exclude=NONCES)) == {"idempotency_records"}
    assert stored_keys(engine) - keys_before == {call_key}


def signed(
    scene: Scene, method: str, body: bytes, key: str, partner_id: str = "skyway"
) -> SignedRequest:
    return SignedRequest(
        method, body, partner_id, scene.coalition.keys[partner_id], AUDIENCE, idempotency_key=key
    )


def sent_twice(scene: Scene, request: SignedRequest) -> tuple[bytes, bytes, Snapshot]:
    """Sends a call, then the same bytes and key with a new nonce, as a client retrying after
    a lost response; returns both responses and the database as the first one left it. The
    test compares it with the database after the retry."""
    with grpc.insecure_channel(scene.coalition.target) as channel:
        first, _ = raw_outcome(scene.coalition, channel, request)
        between = table_snapshot(scene.engine, exclude=NONCES)
        again, _ = raw_outcome(
            scene.coalition, channel, request.with_changes(nonce=wire.new_nonce())
        )
    assert (first.label, again.label) == (OK, OK)
    assert first.response is not None and again.response is not None
    return first.response, again.response, between


# --- inline CreateTransfer -----------------------------------------------------------------------


def test_an_inline_transfer_is_priced_exactly_as_a_quote_for_the_same_terms(scene: Scene) -> None:
    quote = scene.skyway.create_quote(scene.ppid, "harbor", POINTS)

    transfer = inline(scene.ppid).alone(scene.skyway)

    priced = ("source_points", "destination_points", "bonus_points", "settlement_amount", "fee")
    agreed = ("agreement_id", "agreement_version")
    for name in priced + agreed:
        assert getattr(transfer, name) == getattr(quote, name), name
    assert (transfer.destination_points, transfer.bonus_points) == (DESTINATION_POINTS, 0)
    assert (transfer.settlement_amount.amount_minor, transfer.fee.amount_minor) == (
        AMOUNT_MINOR,
        FEE_MINOR,
    )
    assert (transfer.state, transfer.ppid, transfer.quote_id) == (PENDING, scene.ppid, "")
    assert scene.harbor.get_transfer(transfer.transfer_id).ppid == scene.harbor_ppid
    [credit] = credit_requests(scene.coalition).values()
    assert (credit.transfer_id, credit.ppid, credit.destination_points) == (
        transfer.transfer_id,
        scene.harbor_ppid,
        DESTINATION_POINTS,
    )
    assert journal_kinds(scene.engine) == {transfer.transfer_id: ["hold"]}


def test_an_inline_retry_with_its_key_returns_the_same_bytes_and_starts_nothing(
    scene: Scene,
) -> None:
    key = new_idempotency_key()
    terms = inline(scene.ppid)

    first, again, between = sent_twice(scene, signed(scene, CREATE_TRANSFER, terms.body(), key))
    after = table_snapshot(scene.engine, exclude=NONCES)
    sdk_retry = terms.alone(scene.skyway, key)
    other_terms = refused(
        scene.engine, lambda: inline(scene.ppid, points=2 * POINTS).alone(scene.skyway, key)
    )

    assert again == first
    assert after == between
    assert sdk_retry == xpb.CreateTransferResponse.FromString(first).transfer
    assert (other_terms.code, other_terms.reason) == (FAILED, "IDEMPOTENCY_KEY_REUSED")
    assert transfer_count(scene.engine) == 1
    assert len(credit_requests(scene.coalition)) == 1


@dataclass(frozen=True)
class Refusal:
    """A CreateTransfer the hub must refuse: how to build it, and what it must get."""

    name: str
    terms: Callable[[Scene], Terms]
    code: grpc.StatusCode
    reason: str
    field: str = ""

    @property
    def label(self) -> str:
        return f"{self.code.name} {self.reason}"


def _not_linked(scene: Scene) -> Terms:
    return inline(scene.enrol_only("skyway"))


def _no_agreement(scene: Scene) -> Terms:
    scene.link_at("orbit")  # linked, so it is the missing agreement that refuses it
    return inline(scene.ppid, "orbit")


def _quote_and_inline_terms(scene: Scene) -> Terms:
    quote = quote_id(scene.skyway.connection, scene.ppid, "harbor", POINTS)
    return dataclasses.replace(inline(scene.ppid), quote_id=quote)


REFUSALS = [
    Refusal("not linked", _not_linked, FAILED, "NOT_LINKED"),
    Refusal("no agreement", _no_agreement, FAILED, "NO_RATE_AGREEMENT"),
    Refusal(
        "over the daily cap at once",
        lambda s: inline(s.ppid, points=DAILY_CAP_POINTS + 1_000),
        FAILED,
        "DAILY_CAP_EXCEEDED",
    ),
    Refusal("same program", lambda s: inline(s.ppid, "skyway"), FAILED, "SAME_PROGRAM"),
    Refusal("below the minimum", lambda s: inline(s.ppid, points=500), FAILED, "BELOW_MINIMUM"),
    Refusal("unknown ppid", lambda s: inline(UNKNOWN_PPID), NOT_FOUND, "MEMBER_NOT_FOUND"),
    Refusal("harbor's ppid", lambda s: inline(s.harbor_ppid), NOT_FOUND, "MEMBER_NOT_FOUND"),
    Refusal(
        "unknown destination", lambda s: inline(s.ppid, "nobody"), NOT_FOUND, "PARTNER_NOT_FOUND"
    ),
    Refusal(
        "zero points",
        lambda s: inline(s.ppid, points=0),
        INVALID,
        "INVALID_ARGUMENT",
        "source_points",
    ),
    Refusal(
        "negative points",
        lambda s: inline(s.ppid, points=-POINTS),
        INVALID,
        "INVALID_ARGUMENT",
        "source_points",
    ),
    Refusal("quote and terms", _quote_and_inline_terms, INVALID, "INVALID_ARGUMENT", "quote_id"),
    Refusal("neither", lambda s: Terms(), INVALID, "INVALID_ARGUMENT", "quote_id"),
]


def test_refused_transfers_write_nothing_alone_or_in_a_batch_and_look_the_same_in_both(
    scene: Scene,
) -> None:
    cases = [(case, case.terms(scene)) for case in REFUSALS]
    alone: dict[str, HubError] = {}
    for case, terms in cases:
        alone[case.name] = refused(scene.engine, partial(terms.alone, scene.skyway))
        error = alone[case.name]
        expected = (case.code, case.reason, [case.field] if case.field else [])
        assert (error.code, error.reason, list(error.field_violations)) == expected, case.name
    before, keys_before = table_snapshot(scene.engine, exclude=NONCES), stored_keys(scene.engine)
    call_key = new_idempotency_key()

    results = scene.skyway.create_transfer_batch([terms.entry() for _, terms in cases], call_key)

    assert labels(results) == [case.label for case, _ in cases]
    for (case, _), result in zip(cases, results, strict=True):
        assert item_shape(result.error) == alone_shape(alone[case.name]), case.name
    assert_only_the_call_was_stored(scene.engine, before, keys_before, call_key)
    # An unknown member and another partner's member are refused in the very same words.
    assert error_shape(alone["unknown ppid"]) == error_shape(alone["harbor's ppid"])


def test_a_mixed_batch_starts_its_good_entries_and_its_refused_ones_write_nothing(
    scene: Scene,
) -> None:
    other_ppid, other_harbor_ppid = scene.new_member()
    good = [scene.entry(), scene.entry(2 * POINTS, other_ppid), scene.entry(POINTS)]
    bad = {case.name: (case, case.terms(scene).entry()) for case in REFUSALS}
    # Refusals between, before and after good entries: none of them disturbs its neighbours.
    entries = [
        bad["neither"][1],
        good[0],
        *(entry for name, (_, entry) in bad.items() if name not in ("neither", "zero points")),
        good[1],
        bad["zero points"][1],
        good[2],
    ]
    before, keys_before = table_snapshot(scene.engine, exclude=NONCES), stored_keys(scene.engine)
    call_key = new_idempotency_key()

    results = scene.skyway.create_transfer_batch(entries, call_key)

    expected = {entry.idempotency_key: case.label for case, entry in bad.values()}
    expected |= {entry.idempotency_key: OK for entry in good}
    assert [r.idempotency_key for r in results] == [entry.idempotency_key for entry in entries]
    assert labels(results) == [expected[entry.idempotency_key] for entry in entries]
    started = {r.idempotency_key: r.transfer for r in results if label(r) == OK}
    assert [started[e.idempotency_key].source_points for e in good] == [POINTS, 2 * POINTS, POINTS]
    assert [started[e.idempotency_key].ppid for e in good] == [scene.ppid, other_ppid, scene.ppid]
    assert {t.state for t in started.values()} == {PENDING}
    # Only the good entries wrote: their transfers, holds, credit requests and stored responses.
    after = table_snapshot(scene.engine, exclude=NONCES)
    assert changed_tables(before, after) <= TRANSFER_TABLES
    ids = {t.transfer_id for t in started.values()}
    assert {str(i) for (i,) in query_rows(scene.engine, "SELECT transfer_id FROM transfers")} == ids
    assert journal_kinds(scene.engine) == {transfer_id: ["hold"] for transfer_id in ids}
    assert stored_keys(scene.engine) - keys_before == {call_key, *(e.idempotency_key for e in good)}
    counters = ledger_counters(scene.engine)
    for account, held in held_for(list(started.values())).items():
        assert counters[account] == held, account
    credits = credit_requests(scene.coalition)
    assert set(credits) == ids
    harbor_ppids = [credits[started[e.idempotency_key].transfer_id].ppid for e in good]
    assert harbor_ppids == [scene.harbor_ppid, other_harbor_ppid, scene.harbor_ppid]
    # A refused entry stored nothing under its key: corrected, the same key starts a transfer.
    zero_points = bad["zero points"][1]
    corrected = dataclasses.replace(zero_points, source_points=POINTS)
    [retried] = scene.skyway.create_transfer_batch([corrected])
    assert (label(retried), retried.transfer.source_points) == (OK, POINTS)


def test_a_batch_of_good_entries_starts_every_transfer_and_asks_the_destination_to_credit(
    scene: Scene,
) -> None:
    second_ppid, second_harbor_ppid = scene.new_member()
    scene.agree("orbit", "harbor")
    orbit_ppid = link_at(
        scene.harbor.connection, scene.harbor_ppid, scene.coalition.connection("orbit")
    )
    entries = [scene.entry(), scene.entry(3 * POINTS, second_ppid), scene.entry(2 * POINTS)]

    results = scene.skyway.create_transfer_batch(entries)
    # Keys belong to the partner that sent them: orbit's entry with skyway's key is its own.
    [orbit_result] = scene.client("orbit").create_transfer_batch(
        [
            dataclasses.replace(
                inline(orbit_ppid).entry(), idempotency_key=entries[0].idempotency_key
            )
        ]
    )

    assert labels(results) == [OK, OK, OK]
    transfers = [r.transfer for r in results]
    assert [(t.ppid, t.source_points, t.destination_points) for t in transfers] == [
        (scene.ppid, POINTS, DESTINATION_POINTS),
        (second_ppid, 3 * POINTS, 3 * DESTINATION_POINTS),
        (scene.ppid, 2 * POINTS, 2 * DESTINATION_POINTS),
    ]
    assert all(scene.skyway.get_transfer(t.transfer_id) == t for t in transfers), (
        "the batch returns each transfer as the hub keeps it"
    )
    credits = credit_requests(scene.coalition)
    assert [credits[t.transfer_id].ppid for t in transfers] == [
        scene.harbor_ppid,
        second_harbor_ppid,
        scene.harbor_ppid,
    ]
    assert [credits[t.transfer_id].destination_points for t in transfers] == [
        t.destination_points for t in transfers
    ]
    assert label(orbit_result) == OK
    assert orbit_result.transfer.transfer_id not in {t.transfer_id for t in transfers}
    assert orbit_result.transfer.source_partner_id == "orbit"
    assert transfer_count(scene.engine) == 4


# --- retries: the same batch, the same entries, the same keys alone ------------------------------


def test_a_batch_resent_returns_the_same_bytes_and_its_entries_in_a_new_batch_the_same_transfers(
    scene: Scene,
) -> None:
    entries = [scene.entry(), inline(UNKNOWN_PPID).entry(), scene.entry(2 * POINTS)]
    body = xpb.CreateTransferBatchRequest(
        entries=[e.message() for e in entries]
    ).SerializeToString()

    first, again, between = sent_twice(
        scene, signed(scene, CREATE_TRANSFER_BATCH, body, new_idempotency_key())
    )
    after_retry = table_snapshot(scene.engine, exclude=NONCES)
    keys_before = stored_keys(scene.engine)
    call_key = new_idempotency_key()
    resent = scene.skyway.create_transfer_batch(entries, call_key)

    assert again == first
    assert after_retry == between
    original = list(xpb.CreateTransferBatchResponse.FromString(first).results)
    assert labels(original) == [OK, "NOT_FOUND MEMBER_NOT_FOUND", OK]
    assert resent == original, "each entry's first outcome, the refusal decided afresh"
    assert_only_the_call_was_stored(scene.engine, between, keys_before, call_key)
    assert transfer_count(scene.engine) == 2
    assert len(credit_requests(scene.coalition)) == 2


def test_an_entry_key_reused_for_other_terms_or_another_call_is_refused_and_the_rest_start(
    scene: Scene,
) -> None:
    first_call_key, quote_key = new_idempotency_key(), new_idempotency_key()
    first = scene.entry()
    [original] = scene.skyway.create_transfer_batch([first], first_call_key)
    scene.skyway.create_quote(scene.ppid, "harbor", POINTS, quote_key)
    other_terms = dataclasses.replace(first, source_points=2 * POINTS)
    reused_keys = [
        other_terms,
        dataclasses.replace(scene.entry(), idempotency_key=quote_key),
        dataclasses.replace(scene.entry(), idempotency_key=first_call_key),
    ]
    fresh = scene.entry(3 * POINTS)
    keys_before = stored_keys(scene.engine)
    call_key = new_idempotency_key()

    results = scene.skyway.create_transfer_batch([*reused_keys, fresh], call_key)
    alone = refused(
        scene.engine,
        lambda: inline(scene.ppid, points=2 * POINTS).alone(scene.skyway, first.idempotency_key),
    )
    # And a whole call under a key an entry used is refused like any reused call key.
    whole_call = refused(
        scene.engine,
        lambda: scene.skyway.create_transfer_batch([scene.entry()], first.idempotency_key),
    )

    reused = "FAILED_PRECONDITION IDEMPOTENCY_KEY_REUSED"
    assert labels(results) == [reused, reused, reused, OK]
    assert item_shape(results[0].error) == alone_shape(alone)
    assert (whole_call.code, whole_call.reason) == (FAILED, "IDEMPOTENCY_KEY_REUSED")
    assert results[3].transfer.source_points == 3 * POINTS
    assert stored_keys(scene.engine) - keys_before == {call_key, fresh.idempotency_key}
    assert transfer_count(scene.engine) == 2
    assert scene.skyway.get_transfer(original.transfer.transfer_id) == original.transfer


def test_an_entry_key_means_the_same_transfer_alone_or_in_a_batch(scene: Scene) -> None:
    terms = inline(scene.ppid)
    alone_first_key, batch_first_key = new_idempotency_key(), new_idempotency_key()
    alone_first = terms.alone(scene.skyway, alone_first_key)
    [batch_first, other] = scene.skyway.create_transfer_batch(
        [terms.entry(batch_first_key), scene.entry(2 * POINTS)]
    )
    count = transfer_count(scene.engine)

    [batch_again, _] = scene.skyway.create_transfer_batch(
        [terms.entry(alone_first_key), terms.entry()]
    )
    alone_again = terms.alone(scene.skyway, batch_first_key)

    assert labels([batch_first, other]) == [OK, OK]
    assert batch_again.transfer == alone_first
    assert alone_again == batch_first.transfer
    assert transfer_count(scene.engine) == count + 1  # only the one fresh entry started


def test_quote_entries_start_their_quotes_and_a_quote_used_twice_is_refused(scene: Scene) -> None:
    quote = scene.skyway.create_quote(scene.ppid, "harbor", 2 * POINTS)
    other = scene.skyway.create_quote(scene.ppid, "harbor", POINTS)
    entries = [
        Terms(quote_id=quote.quote_id).entry(),
        Terms(quote_id=quote.quote_id).entry(),
        Terms(quote_id=other.quote_id).entry(),
        Terms(quote_id="qt_" + "0" * 24).entry(),
    ]

    results = scene.skyway.create_transfer_batch(entries)

    assert labels(results) == [
        OK,
        "FAILED_PRECONDITION QUOTE_ALREADY_USED",
        OK,
        "NOT_FOUND QUOTE_NOT_FOUND",
    ]
    for result, priced in zip((results[0], results[2]), (quote, other), strict=True):
        transfer = result.transfer
        assert (transfer.quote_id, transfer.destination_points, transfer.settlement_amount) == (
            priced.quote_id,
            priced.destination_points,
            priced.settlement_amount,
        )
    assert transfer_count(scene.engine) == 2
    assert len(credit_requests(scene.coalition)) == 2


def test_the_daily_cap_counts_earlier_entries_of_the_same_batch(
    settings: Settings, hub_key: SigningKey, engine: Engine
) -> None:
    cap = 10_000
    with clocked_coalition(settings, hub_key, engine, noon_today()) as coalition:
        scene = scene_on(coalition, daily_cap=cap)
        other_ppid, _ = scene.new_member()
        entries = [
            scene.entry(POINTS),  # 4,000 of 10,000
            scene.entry(POINTS),  # 8,000
            scene.entry(POINTS),  # 12,000 would cross the cap: refused
            scene.entry(2_000),  # exactly 10,000: fits
            scene.entry(POINTS, other_ppid),  # another member's own cap
            scene.entry(1_000),  # 11,000: refused
        ]

        results = scene.skyway.create_transfer_batch(entries)
        later = refused(engine, lambda: inline(scene.ppid, points=1_000).alone(scene.skyway))

    over = "FAILED_PRECONDITION DAILY_CAP_EXCEEDED"
    assert labels(results) == [OK, OK, over, OK, OK, over]
    assert later.reason == "DAILY_CAP_EXCEEDED"
    moved = query_rows(
        engine, "SELECT sum(source_points) FROM transfers WHERE source_ppid = :p", p=scene.ppid
    )
    assert moved == [(cap,)]


# --- whole-call refusals -------------------------------------------------------------------------


def test_bad_entries_refuse_the_whole_batch_and_write_nothing(scene: Scene) -> None:
    call_key = new_idempotency_key()
    shared = new_idempotency_key()
    cases: list[tuple[str, list[BatchTransfer], str]] = [
        ("no entries", [], "entries"),
        ("too many", [scene.entry(1_000) for _ in range(BATCH_MAX + 1)], "entries"),
        (
            "a repeated key",
            [
                scene.entry(),
                dataclasses.replace(scene.entry(), idempotency_key=shared),
                dataclasses.replace(scene.entry(2 * POINTS), idempotency_key=shared),
            ],
            "entries[2].idempotency_key",
        ),
        (
            "an upper-case key",
            [scene.entry(), dataclasses.replace(scene.entry(), idempotency_key=UPPER_CASE_KEY)],
            "entries[1].idempotency_key",
        ),
        (
            "not a uuid",
            [dataclasses.replace(scene.entry(), idempotency_key="retry-1")],
            "entries[0].idempotency_key",
        ),
        (
            "the call's own key",
            [scene.entry(), dataclasses.replace(scene.entry(), idempotency_key=call_key)],
            "entries[1].idempotency_key",
        ),
    ]
    for name, entries, field in cases:
        error = refused(
            scene.engine,
            partial(scene.skyway.create_transfer_batch, entries, call_key),
        )
        assert (error.code, error.reason, list(error.field_violations)) == (
            INVALID,
            "INVALID_ARGUMENT",
            [field],
        ), name
    # The call key was never stored: with good entries, it starts them.
    assert labels(scene.skyway.create_transfer_batch([scene.entry()], call_key)) == [OK]


def test_a_thousand_entries_start_in_one_call_and_confirm_in_one_call(
    coalition: TestCoalition,
) -> None:
    scene = scene_on(coalition, daily_cap=BATCH_MAX * 1_000)
    for connection in (scene.skyway.connection, scene.harbor.connection):
        connection.timeout_s = 60.0  # one transaction of a thousand transfers, on a shared box
    entries = [scene.entry(1_000) for _ in range(BATCH_MAX)]

    started = scene.skyway.create_transfer_batch(entries)
    ids = transfer_ids(started)
    confirmed = scene.harbor.confirm_credits(ids)

    assert Counter(labels(started)) == {OK: BATCH_MAX}
    assert len(set(ids)) == BATCH_MAX
    assert [r.transfer_id for r in confirmed] == ids
    assert {(label(r), r.transfer.state) for r in confirmed} == {(OK, COMPLETED)}
    completed = feed(coalition, "skyway", "transfer_completed")
    assert sorted(p.transfer_completed.transfer_id for p in completed) == sorted(ids)


# --- ConfirmCredits ------------------------------------------------------------------------------


def test_confirm_credits_completes_each_transfer_and_the_source_gets_signed_receipts(
    scene: Scene,
) -> None:
    other_ppid, _ = scene.new_member()
    started = scene.skyway.create_transfer_batch(
        [scene.entry(), scene.entry(2 * POINTS, other_ppid), scene.entry(3 * POINTS)]
    )
    ids = transfer_ids(started)

    results = scene.harbor.confirm_credits(ids)

    assert [(r.transfer_id, label(r)) for r in results] == [(i, OK) for i in ids]
    assert [r.transfer.state for r in results] == [COMPLETED] * 3
    assert [scene.skyway.get_transfer(i).state for i in ids] == [COMPLETED] * 3
    assert journal_kinds(scene.engine) == {i: ["hold", "post"] for i in ids}
    completions = [
        p.transfer_completed for p in feed(scene.coalition, "skyway", "transfer_completed")
    ]
    assert [c.transfer_id for c in completions] == ids
    for completion, start in zip(completions, started, strict=True):
        receipt = verify_receipt(completion.receipt, scene.coalition.hub_public_keys)
        transfer = start.transfer
        assert (receipt.transfer_id, receipt.source_points, receipt.destination_points) == (
            transfer.transfer_id,
            transfer.source_points,
            transfer.destination_points,
        )
        assert receipt.settlement_amount == transfer.settlement_amount
        assert completion.ppid == transfer.ppid


def test_confirm_credits_gives_each_id_its_own_outcome_and_a_retry_the_same_bytes(
    late_scene: tuple[Scene, OffsetClock],
) -> None:
    scene, clock = late_scene
    late = inline(scene.ppid).alone(scene.skyway)
    clock.advance_s(TIMEOUT_S + 1)  # `late` is past its timeout; nothing has voided it yet
    ok, done, rejected = (inline(scene.ppid).alone(scene.skyway) for _ in range(3))
    completed_before = scene.harbor.confirm_credit(done.transfer_id)
    scene.harbor.reject_credit(rejected.transfer_id, "account closed")
    scene.agree("harbor", "skyway")
    harbors_own = inline(scene.harbor_ppid, "skyway").alone(scene.harbor)
    scene.agree("skyway", "orbit")
    scene.link_at("orbit")
    someone_elses = inline(scene.ppid, "orbit").alone(scene.skyway)
    ids = [
        ok.transfer_id,
        UNKNOWN_TRANSFER_ID,
        someone_elses.transfer_id,
        harbors_own.transfer_id,
        done.transfer_id,
        rejected.transfer_id,
        late.transfer_id,
    ]
    body = xpb.ConfirmCreditsRequest(transfer_ids=ids).SerializeToString()
    request = signed(scene, CONFIRM_CREDITS, body, new_idempotency_key(), "harbor")

    first, again, between = sent_twice(scene, request)
    after_retry = table_snapshot(scene.engine, exclude=NONCES)
    results = list(xpb.ConfirmCreditsResponse.FromString(first).results)

    assert again == first
    assert after_retry == between
    assert [r.transfer_id for r in results] == ids
    assert labels(results) == [
        OK,
        "NOT_FOUND TRANSFER_NOT_FOUND",
        "NOT_FOUND TRANSFER_NOT_FOUND",
        "PERMISSION_DENIED NOT_A_PARTY",
        OK,
        "FAILED_PRECONDITION TRANSFER_NOT_PENDING",
        "FAILED_PRECONDITION TRANSFER_TIMED_OUT",
    ]
    by_id = dict(zip(ids, results, strict=True))
    assert by_id[ok.transfer_id].transfer.state == COMPLETED
    assert by_id[ok.transfer_id].transfer.ppid == scene.harbor_ppid  # harbor sees its own ppid
    # Another pair's transfer is indistinguishable from one that does not exist.
    assert item_shape(by_id[someone_elses.transfer_id].error) == item_shape(
        by_id[UNKNOWN_TRANSFER_ID].error
    )
    # Each refusal is the one the same confirmation gets alone.
    for transfer_id in (UNKNOWN_TRANSFER_ID, someone_elses.transfer_id, harbors_own.transfer_id):
        alone = refused(scene.engine, partial(scene.harbor.confirm_credit, transfer_id))
        assert item_shape(by_id[transfer_id].error) == alone_shape(alone, prefix=""), transfer_id
    # Confirmed already: returned unchanged, posted once, the source told once.
    assert by_id[done.transfer_id].transfer == completed_before
    timed_out = scene.skyway.get_transfer(late.transfer_id)
    assert (timed_out.state, timed_out.void_reason) == (VOIDED, xpb.VOID_REASON_TIMED_OUT)
    assert scene.skyway.get_transfer(rejected.transfer_id).void_reason == xpb.VOID_REASON_REJECTED
    assert journal_kinds(scene.engine) == {
        ok.transfer_id: ["hold", "post"],
        done.transfer_id: ["hold", "post"],
        rejected.transfer_id: ["hold", "void"],
        late.transfer_id: ["hold", "void"],
        harbors_own.transfer_id: ["hold"],
        someone_elses.transfer_id: ["hold"],
    }
    completions = feed(scene.coalition, "skyway", "transfer_completed")
    assert sorted(p.transfer_completed.transfer_id for p in completions) == sorted(
        [ok.transfer_id, done.transfer_id]
    )
    voids = feed(scene.coalition, "skyway", "transfer_voided")
    assert sorted(p.transfer_voided.transfer_id for p in voids) == sorted(
        [rejected.transfer_id, late.transfer_id]
    )


def test_bad_transfer_id_lists_refuse_the_whole_confirmation_and_write_nothing(
    scene: Scene,
) -> None:
    pending = inline(scene.ppid).alone(scene.skyway).transfer_id
    cases = {
        "no ids": [],
        "a repeated id": [pending, UNKNOWN_TRANSFER_ID, pending],
        "too many": [pending, *(f"tr_{n:024x}" for n in range(BATCH_MAX))],
    }
    for name, ids in cases.items():
        error = refused(scene.engine, partial(scene.harbor.confirm_credits, ids))
        assert (error.code, error.reason, list(error.field_violations)) == (
            INVALID,
            "INVALID_ARGUMENT",
            ["transfer_ids"],
        ), name
    assert scene.skyway.get_transfer(pending).state == PENDING


# --- PostgreSQL: batches racing for one entry key ------------------------------------------------

RACE_ROUNDS = 3
RACING_BATCHES = 4


@pytest.mark.postgres_only
def test_batches_racing_with_one_entry_key_start_one_transfer_for_it(scene: Scene) -> None:
    others = [scene.new_member()[0] for _ in range(RACING_BATCHES)]
    outcomes: Counter[str] = Counter()
    for _ in range(RACE_ROUNDS):
        racer, _ = scene.new_member()  # this round's shared entry is its only transfer
        shared = scene.entry(ppid=racer)
        shared_key = shared.idempotency_key
        batches = [[scene.entry(ppid=others[i]) for _ in range(3)] for i in range(RACING_BATCHES)]
        for i, batch in enumerate(batches):  # first in some batches, last in others
            batch.insert(0 if i % 2 == 0 else len(batch), shared)
        clients = [scene.client("skyway") for _ in batches]
        race = Race(
            [
                partial(client.create_transfer_batch, batch)
                for client, batch in zip(clients, batches, strict=True)
            ]
        )
        race.start()
        finished = race.join()

        assert not [r for r in finished if isinstance(r, HubError)], finished
        results = [cast(list[xpb.TransferBatchResult], r) for r in finished]
        mine = [r for result in results for r in result if r.idempotency_key == shared_key]
        rest = [r for result in results for r in result if r.idempotency_key != shared_key]
        outcomes.update(labels(mine))
        assert set(labels(mine)) <= {OK, "ABORTED IDEMPOTENCY_IN_PROGRESS"}
        [winner] = set(transfer_ids(mine))  # one transfer for the key, whoever won
        started = query_rows(
            scene.engine, "SELECT transfer_id FROM transfers WHERE source_ppid = :p", p=racer
        )
        assert started == [(winner,)]
        assert labels(rest) == [OK] * 3 * RACING_BATCHES
        # Told "in progress", the entry is sent again: the winner's transfer comes back.
        [retry] = scene.skyway.create_transfer_batch([shared])
        assert (label(retry), retry.transfer.transfer_id) == (OK, winner)
    print(f"\n[postgresql] shared entry outcomes: {dict(outcomes)}")
