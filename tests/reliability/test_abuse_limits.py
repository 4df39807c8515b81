"""Abuse limits (issue 7 item 5; DESIGN §3.2, §3.3, §4.3, §7 inv. 9), through the real hub.

Per-partner rate limits. The contract the request pipeline is held to here:

- settings `rate_limit_per_s` and `rate_limit_burst` (environment COALITION_RATE_LIMIT_PER_S
  and COALITION_RATE_LIMIT_BURST; defaults RATE_LIMIT_PER_S_DEFAULT and
  RATE_LIMIT_BURST_DEFAULT of exchange/domain/rate_limits.py; each at least 1);
- one `PartnerRateLimiter` per hub, asked once per unary call, cost 1, for the authenticated
  partner, at the hub's clock (`Clock.now_us()`, so a FixedClock freezes refills): after the
  signature is verified (a forged call spends nobody's tokens) and before the call's work;
- a refused call is RESOURCE_EXHAUSTED with ErrorInfo reason RATE_LIMITED and writes nothing
  but its nonce; it stores no idempotent response, so the same key later runs the call.

Link-code throttling and per-member daily caps already have their functional tests
(tests/test_identity_refusals.py, tests/test_transfers_e2e.py, tests/test_transfer_batch.py,
tests/test_transfer_concurrency.py). Added here: the bounds under concurrency on PostgreSQL
(many wrong codes at once; quotes, inline transfers and batches of one member at once, through
two hub processes) and that one partner's throttle leaves another partner's linking alone.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import grpc
import pytest
from sqlalchemy import Engine, func, select

from coalition.keys import SigningKey
from coalition.v1 import identity_pb2
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.ledger_check import check_ledger
from exchange.adapters.sql.tables import TransferRow
from exchange.bootstrap import bootstrap
from exchange.config import ENVIRONMENT_NAMES, Settings
from exchange.domain import limits
from exchange.domain.members import display_link_code, new_link_code
from exchange.domain.rate_limits import RATE_LIMIT_BURST_DEFAULT, RATE_LIMIT_PER_S_DEFAULT
from partners.sdk import (
    BatchTransfer,
    ExchangeClient,
    HubError,
    IdentityClient,
    PartnerClient,
)
from tests.support.coalition import AUDIENCE, TestCoalition
from tests.support.programs import (
    ClockedCoalition,
    clocked_coalition,
    query_rows,
    real_time_clock,
    refused,
)
from tests.support.raw_calls import SignedRequest, send
from tests.support.transfer_setup import (
    IDENTITY,
    agree_rates,
    all_at_once,
    linked_member,
    quote_id,
)

if TYPE_CHECKING:
    from tests.reliability.conftest import ReliabilityTally

RATE_PER_S, BURST = 5, 5
REFILL_US = 1_000_000 // RATE_PER_S  # one token
RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
RATE_LIMITED = (RESOURCE_EXHAUSTED, "RATE_LIMITED")


# --- per-partner rate limits ---------------------------------------------------------------------


def require_the_rate_limit_hook() -> None:
    declared = {f.name for f in dataclasses.fields(Settings)}
    missing = sorted({"rate_limit_per_s", "rate_limit_burst"} - declared)
    if missing:
        pytest.fail(
            f"the rate-limit hook has not landed: Settings has no {missing} (see this module's "
            "docstring for the contract these tests hold the pipeline to)"
        )


def rate_limited_settings(database_url: str) -> Settings:
    require_the_rate_limit_hook()
    return Settings.load(
        environ={},
        database_url=database_url,
        listen_address="127.0.0.1:0",
        audience=AUDIENCE,
        rate_limit_per_s=RATE_PER_S,
        rate_limit_burst=BURST,
    )


@pytest.fixture
def limited(database_url: str, hub_key: SigningKey, engine: Engine) -> Iterator[ClockedCoalition]:
    """A hub allowing 5 calls a second, 5 at once, per partner; its clock moves when told."""
    settings = rate_limited_settings(database_url)
    with clocked_coalition(settings, hub_key, engine, real_time_clock()) as coalition:
        yield coalition


def spend_burst(client: IdentityClient) -> list[str]:
    return [client.enroll_member() for _ in range(BURST)]


def test_past_its_burst_a_partner_is_refused_with_nothing_written_and_others_carry_on(
    limited: ClockedCoalition, reliability_tally: ReliabilityTally
) -> None:
    skyway = IdentityClient(limited.connection("skyway"))
    engine = limited.hub.engine
    assert len(set(spend_burst(skyway))) == BURST

    sixth = refused(engine, skyway.enroll_member)
    read = refused(engine, PartnerClient(limited.connection("skyway")).get_hub_keys)

    assert (sixth.code, sixth.reason) == RATE_LIMITED
    assert (read.code, read.reason) == RATE_LIMITED  # reads are calls too
    # harbor's bucket is its own: its whole burst passes while skyway is held back.
    assert len(set(spend_burst(IdentityClient(limited.connection("harbor"))))) == BURST
    reliability_tally.add("abuse: rate-limited calls refused", 2)


def test_a_limited_partner_earns_one_call_per_refill_and_its_burst_back_after_a_pause(
    limited: ClockedCoalition,
) -> None:
    skyway = IdentityClient(limited.connection("skyway"))
    engine = limited.hub.engine
    spend_burst(skyway)
    key = str(uuid.uuid4())
    first = refused(engine, lambda: skyway.enroll_member(idempotency_key=key))
    assert (first.code, first.reason) == RATE_LIMITED

    limited.clock.current_us += REFILL_US - 1
    early = refused(engine, lambda: skyway.enroll_member(idempotency_key=key))
    limited.clock.current_us += 1
    # The refused call stored no response: its key, sent again, runs it now.
    ppid = skyway.enroll_member(idempotency_key=key)
    next_one = refused(engine, skyway.enroll_member)

    assert (early.reason, next_one.reason) == ("RATE_LIMITED", "RATE_LIMITED")
    members = query_rows(engine, "SELECT ppid FROM ppids WHERE partner_id = 'skyway'")
    assert len(members) == BURST + 1 and (ppid,) in members
    limited.clock.current_us += BURST * REFILL_US
    assert len(spend_burst(skyway)) == BURST
    assert refused(engine, skyway.enroll_member).reason == "RATE_LIMITED"


def forged_as_skyway(coalition: TestCoalition, index: int) -> SignedRequest:
    """Calls claiming to be skyway that fail authentication, each a different way."""
    body = identity_pb2.EnrollMemberRequest().SerializeToString()
    request = SignedRequest(
        IDENTITY + "EnrollMember",
        body,
        "skyway",
        coalition.keys["skyway"],
        AUDIENCE,
        idempotency_key=str(uuid.uuid4()),
    )
    forgeries = (
        request.with_changes(key=coalition.keys["harbor"]),  # another partner's key
        request.with_changes(key=SigningKey.generate()),  # a key nobody registered
        request.with_changes(signed_body=b"\x0a\x01x"),  # signature over other bytes
    )
    return forgeries[index % len(forgeries)]


def test_calls_that_fail_authentication_spend_none_of_the_named_partners_tokens(
    limited: ClockedCoalition,
) -> None:
    with grpc.insecure_channel(limited.target) as channel:
        outcomes = [send(channel, forged_as_skyway(limited, i)) for i in range(4 * BURST)]
    assert {o.code for o in outcomes} == {grpc.StatusCode.UNAUTHENTICATED}

    skyway = IdentityClient(limited.connection("skyway"))
    assert len(spend_burst(skyway)) == BURST
    assert refused(limited.hub.engine, skyway.enroll_member).reason == "RATE_LIMITED"


def test_the_limits_come_from_the_environment_and_default_generously() -> None:
    require_the_rate_limit_hook()
    assert ENVIRONMENT_NAMES["rate_limit_per_s"] == "COALITION_RATE_LIMIT_PER_S"
    assert ENVIRONMENT_NAMES["rate_limit_burst"] == "COALITION_RATE_LIMIT_BURST"
    environ = {"COALITION_RATE_LIMIT_PER_S": "7", "COALITION_RATE_LIMIT_BURST": "9"}
    configured = Settings.load(environ=environ)
    defaults = Settings.load(environ={})

    assert (configured.rate_limit_per_s, configured.rate_limit_burst) == (7, 9)  # type: ignore[attr-defined]
    assert (defaults.rate_limit_per_s, defaults.rate_limit_burst) == (  # type: ignore[attr-defined]
        RATE_LIMIT_PER_S_DEFAULT,
        RATE_LIMIT_BURST_DEFAULT,
    )
    for bad in ({"rate_limit_per_s": 0}, {"rate_limit_burst": 0}, {"rate_limit_burst": -5}):
        with pytest.raises(ValueError):
            Settings.load(environ={}, **bad)


DEFAULT_LIMIT_CALLERS, DEFAULT_LIMIT_CALLS_EACH = 50, 4


def test_the_default_limits_let_a_burst_of_one_partner_through(coalition: TestCoalition) -> None:
    """The suite's other tests, the load test and the benchmarks run under the defaults."""
    connection = coalition.connection("skyway")

    def calls() -> list[str]:
        found: list[str] = []
        for _ in range(DEFAULT_LIMIT_CALLS_EACH):
            try:
                PartnerClient(connection).get_hub_keys()
                found.append("OK")
            except HubError as error:
                found.append(error.reason)
        return found

    outcomes = Counter(o for each in all_at_once([calls] * DEFAULT_LIMIT_CALLERS) for o in each)
    assert outcomes == {"OK": DEFAULT_LIMIT_CALLERS * DEFAULT_LIMIT_CALLS_EACH}


# --- link-code throttling ------------------------------------------------------------------------


def unknown_code() -> str:
    return display_link_code(new_link_code())


def test_a_throttled_partner_leaves_other_partners_linking_and_its_own_codes_alone(
    coalition: TestCoalition,
) -> None:
    each = {p: IdentityClient(coalition.connection(p)) for p in ("skyway", "harbor", "orbit")}
    harbor_ppid = each["harbor"].enroll_member()
    for _ in range(limits.LINK_CODE_FAILURES_MAX):
        with pytest.raises(HubError):
            each["harbor"].redeem_link_code(unknown_code(), harbor_ppid)
    code = each["skyway"].create_link_code(each["skyway"].enroll_member()).link_code
    throttled = refused(
        coalition.hub.engine,
        lambda: each["harbor"].redeem_link_code(code, harbor_ppid),
        frozenset({"link_failures"}),
    )
    assert (throttled.code, throttled.reason) == (RESOURCE_EXHAUSTED, "LINK_CODE_THROTTLED")

    # orbit redeems the very code harbor may not; harbor still issues codes of its own.
    assert each["orbit"].redeem_link_code(code, each["orbit"].enroll_member()) == [
        "orbit",
        "skyway",
    ]
    own_code = each["harbor"].create_link_code(harbor_ppid).link_code
    assert each["skyway"].redeem_link_code(own_code, each["skyway"].enroll_member()) == [
        "harbor",
        "skyway",
    ]


WRONG_CODES_AT_ONCE = 4 * limits.LINK_CODE_FAILURES_MAX


@pytest.mark.postgres_only
def test_wrong_codes_sent_at_once_get_no_more_guesses_than_the_throttle_allows(
    coalition: TestCoalition, reliability_tally: ReliabilityTally
) -> None:
    harbor = IdentityClient(coalition.connection("harbor"))
    ppid = harbor.enroll_member()

    def guess() -> str:
        try:
            harbor.redeem_link_code(unknown_code(), ppid)
        except HubError as error:
            return error.reason
        return "LINKED"

    outcomes = Counter(all_at_once([guess] * WRONG_CODES_AT_ONCE))

    print(f"\n{WRONG_CODES_AT_ONCE} wrong codes at once: {dict(outcomes)}")
    reliability_tally.add("abuse: concurrent wrong link codes sent", WRONG_CODES_AT_ONCE)
    assert set(outcomes) <= {"LINK_CODE_NOT_FOUND", "LINK_CODE_THROTTLED"}
    assert outcomes["LINK_CODE_NOT_FOUND"] <= limits.LINK_CODE_FAILURES_MAX


# --- per-member daily caps -----------------------------------------------------------------------

CAP_POINTS, POINTS_EACH = 10_000, 1_000
# Three times what the cap allows, by three routes, through two hub processes at once.
QUOTED, INLINE, BATCHES, ENTRIES_EACH = 10, 10, 2, 5


def used_points(engine: Engine, ppid: str) -> int:
    with engine.connect() as connection:
        total = connection.scalar(
            select(func.coalesce(func.sum(TransferRow.source_points), 0)).where(
                TransferRow.source_ppid == ppid, TransferRow.state != "voided"
            )
        )
    return int(total or 0)


@pytest.mark.postgres_only
def test_the_daily_cap_holds_across_quotes_inline_transfers_and_batches_on_two_hubs(
    coalition: TestCoalition, settings: Settings, reliability_tally: ReliabilityTally
) -> None:
    skyway, harbor = coalition.connection("skyway"), coalition.connection("harbor")
    agree_rates(skyway, harbor, daily_cap_source_points=CAP_POINTS)
    ppid, _ = linked_member(skyway, harbor)
    quotes = [quote_id(skyway, ppid, "harbor", POINTS_EACH) for _ in range(QUOTED)]
    second_hub = bootstrap(
        settings,
        hub_key=coalition.hub.hub_key,
        engine=create_database_engine(settings.database_url),
    )
    second_hub.start()
    try:
        other = TestCoalition(second_hub, coalition.keys)
        clients = [ExchangeClient(c.connection("skyway")) for c in (coalition, other)]
        outcomes = all_at_once(cap_racers(clients, quotes, ppid))
        other.close()
    finally:
        second_hub.stop(0)

    tally = Counter(o for each in outcomes for o in each)
    print(f"\ndaily cap, {sum(tally.values())} transfers at once: {dict(tally)}")
    reliability_tally.add("abuse: transfers raced against one daily cap", sum(tally.values()))
    assert set(tally) <= {"OK", "DAILY_CAP_EXCEEDED"}, tally
    # Never over the cap; and since every refusal says the cap is reached, exactly the cap.
    assert tally["OK"] * POINTS_EACH == CAP_POINTS
    assert used_points(coalition.hub.engine, ppid) == CAP_POINTS
    assert check_ledger(coalition.hub.engine) == []


def cap_racers(
    clients: list[ExchangeClient], quotes: list[str], ppid: str
) -> list[Callable[[], list[str]]]:
    """Every route to a transfer, spread over both hubs: each racer reports its outcomes."""

    def outcome(start: Callable[[], object]) -> list[str]:
        try:
            start()
        except HubError as error:
            return [error.reason]
        return ["OK"]

    def batch(client: ExchangeClient) -> list[str]:
        entries = [
            BatchTransfer(str(uuid.uuid4()), ppid, "harbor", POINTS_EACH)
            for _ in range(ENTRIES_EACH)
        ]
        results = client.create_transfer_batch(entries)
        return ["OK" if r.HasField("transfer") else r.error.reason for r in results]

    racers: list[Callable[[], list[str]]] = []
    for index, quote in enumerate(quotes):
        client = clients[index % 2]
        racers.append(lambda c=client, q=quote: outcome(lambda: c.create_transfer(q)))  # type: ignore[misc]
    for index in range(INLINE):
        client = clients[index % 2]
        racers.append(
            lambda c=client: outcome(  # type: ignore[misc]
                lambda: c.create_transfer(
                    ppid=ppid, destination_partner_id="harbor", source_points=POINTS_EACH
                )
            )
        )
    racers += [lambda c=clients[i % 2]: batch(c) for i in range(BATCHES)]  # type: ignore[misc]
    return racers
