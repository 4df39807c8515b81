"""The scripted demo `make run` shows: a partner's view of the coalition, through the SDK only."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from coalition.keys import (
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    SigningKey,
    load_public_key,
    load_signing_key,
    write_key_pair,
)
from coalition.v1 import common_pb2, exchange_pb2, settlement_pb2
from coalition.wire import key_id_for
from partners.demo_kpis import show_kpis
from partners.programs import brands
from partners.programs.program import LoyaltyProgram, accept_every_credit, refuse_every_credit
from partners.sdk import HubConnection, HubError, PartnerClient, SettlementClient, rate_terms
from partners.sdk.connection import connect

ResponseHook = Callable[[str, str, bytes], None]
# Closes and settles the business day the demo's transfers landed in; returns it (YYYY-MM-DD).
# The hub operator's side: the demo itself only ever talks to the hub through the SDK.
SettleHook = Callable[[], str]
# `coalition demo` runs its hub with a short transfer timeout, so the timeout can be watched.
TIMEOUT_WAIT_S_MAX = 60
TIMEOUT_SWEEP_WAIT_S = 10
TIMEOUT_POLL_S = 0.5

KIND_NAMES = {
    common_pb2.PARTNER_KIND_AIRLINE: "airline",
    common_pb2.PARTNER_KIND_HOTEL: "hotel",
    common_pb2.PARTNER_KIND_CARD_ISSUER: "card issuer",
    common_pb2.PARTNER_KIND_RETAILER: "retailer",
    common_pb2.PARTNER_KIND_OTHER: "other",
}


def partner_connection(
    target: str,
    home: Path,
    partner_id: str,
    audience: str,
    hub_public_key: bytes,
    on_response: ResponseHook | None = None,
) -> HubConnection:
    key = load_signing_key(home / "partners" / partner_id / PRIVATE_KEY_FILE)
    hub_keys = {key_id_for(hub_public_key): hub_public_key}
    connection = connect(target, partner_id, key, audience, hub_keys)
    if on_response is not None:
        connection.on_response = lambda method, body: on_response(partner_id, method, body)
    return connection


def show_directory(client: PartnerClient) -> None:
    print("\n== the coalition directory, as skyway sees it ==")
    for partner in client.list_partners():
        keys = ", ".join(key.key_id for key in partner.active_keys)
        print(
            f"  {partner.partner_id:<8} {KIND_NAMES.get(partner.kind, '?'):<12} "
            f"{partner.program_code:<14} {partner.display_name:<16} keys: {keys}"
        )


def rotate_key(connection: HubConnection, client: PartnerClient, key_dir: Path) -> None:
    """Registers a new key signed by the old one, switches to it, revokes the old one."""
    print("\n== skyway rotates its signing key ==")
    old = connection.signing_key
    new = SigningKey.generate()
    registered = client.register_key(new)
    print(f"  registered {registered.key_id} (request signed with {old.key_id})")
    connection.use_key(new)
    print(
        f"  now signing with {new.key_id}: directory lists "
        f"{len(client.get_partner('skyway').active_keys)} active keys"
    )
    client.revoke_key(old.key_id)
    print(f"  revoked {old.key_id}")
    _replace_key_files(key_dir, old, new)
    connection.use_key(old)
    try:
        client.get_partner("skyway")
        raise AssertionError("a revoked key must not verify")
    except HubError as error:
        print(f"  a request signed with the revoked key is refused: {error.code.name}")
    connection.use_key(new)


def _replace_key_files(key_dir: Path, old: SigningKey, new: SigningKey) -> None:
    """Keeps the revoked pair for the record and makes the new key the one used next time."""
    retired = key_dir / "revoked" / old.key_id.replace(":", "-")
    retired.mkdir(parents=True, exist_ok=True)
    for name in (PRIVATE_KEY_FILE, PUBLIC_KEY_FILE):
        os.replace(key_dir / name, retired / name)
    write_key_pair(key_dir, new)


def _programs(
    connections: dict[str, HubConnection], home: Path, hub_keys: dict[str, bytes]
) -> dict[str, LoyaltyProgram]:
    stores = home / "programs"
    stores.mkdir(parents=True, exist_ok=True)
    factories = {
        "skyway": brands.airline,
        "harbor": brands.hotel,
        "orbit": brands.card_issuer,
    }
    return {
        partner_id: factory(stores / f"{partner_id}.db", connections[partner_id], hub_keys)
        for partner_id, factory in factories.items()
    }


def members_across_brands(programs: dict[str, LoyaltyProgram]) -> None:
    """Enrol, link with a code, report a tier, status-match it, then erase the member."""
    skyway, harbor, orbit = programs["skyway"], programs["harbor"], programs["orbit"]
    print("\n== each brand publishes its tier ladder ==")
    for program in programs.values():
        version = program.publish_ladder(canonical_matching=True)
        tiers = " < ".join(tier.code for tier in program.ladder)
        print(f"  {program.partner_id:<7} v{version}: {tiers}")

    run_id = secrets.token_hex(2).upper()
    ada_sky, ada_hbr, ada_orb = f"SKY-{run_id}-1", f"HBR-{run_id}-1", f"ORB-{run_id}-1"
    print("\n== a member enrols at skyway and harbor (member numbers stay at each brand) ==")
    print(f"  skyway {ada_sky} -> ppid {skyway.enrol(ada_sky, points=42_000)}")
    print(f"  harbor {ada_hbr} -> ppid {harbor.enrol(ada_hbr)}")

    print("\n== she links her accounts with a one-time code ==")
    code = skyway.link_code(ada_sky)
    print(f"  skyway's app shows the code {code}; she types it into harbor's app")
    print(f"  linked at: {', '.join(harbor.redeem_link_code(ada_hbr, code))}")

    print("\n== skyway reports her tier, and she asks for status at harbor ==")
    skyway.report_tier(ada_sky, "GOLD", datetime.now(UTC) + timedelta(days=365))
    grant = skyway.request_status_match(ada_sky, "harbor")
    print(f"  skyway: GOLD reported; status match {grant.grant_id} sent to harbor")
    applied = harbor.sync_feed()
    member = harbor.member(ada_hbr)
    assert member is not None
    print(
        f"  harbor applied {applied} event(s): {ada_hbr} is now {member.tier_code} "
        f"until {member.tier_expires_at:%Y-%m-%d} (harbor never saw her skyway tier)"
    )

    print("\n== she links orbit too, then asks to be forgotten ==")
    orbit.enrol(ada_orb)
    print(f"  linked at: {', '.join(orbit.redeem_link_code(ada_orb, skyway.link_code(ada_sky)))}")
    notified = orbit.erase(ada_orb)
    print(f"  orbit asked for erasure; {notified} partners were sent MemberErased")
    for program, number in ((skyway, ada_sky), (harbor, ada_hbr)):
        program.sync_feed()
        gone = program.member(number) is None
        print(f"  {program.partner_id}: applied MemberErased; {number} deleted locally: {gone}")


POINT_NAMES = {"skyway": "miles", "harbor": "hotel points", "orbit": "card points"}
# (source, destination, source units : destination units, price per destination point in USD)
DEMO_RATES = (
    ("skyway", "harbor", (1_000, 750), Decimal("0.0040")),
    ("orbit", "skyway", (1_000, 800), Decimal("0.0100")),
)


def publish_rates(programs: dict[str, LoyaltyProgram]) -> None:
    """Each rate is proposed by its source and accepted, as that version, by its destination."""
    print("\n== the brands agree exchange rates (proposed by one side, accepted by the other) ==")
    now = datetime.now(UTC)
    for source_id, destination_id, ratio, price in DEMO_RATES:
        source, destination = programs[source_id], programs[destination_id]
        terms = rate_terms(
            ratio=ratio,
            minimum_source_points=2_000,
            increment_source_points=1_000,
            maximum_source_points=100_000,
            member_daily_cap_source_points=50_000,
            settlement_currency_code="USD",
            price_per_destination_point=price,
            effective_from=now,
        )
        proposed = source.exchange.propose_rate_agreement(source_id, destination_id, terms)
        accepted = destination.exchange.accept_rate_agreement(
            proposed.agreement_id, proposed.version
        )
        print(
            f"  {source_id} -> {destination_id} v{accepted.version}: {ratio[0]:,} : {ratio[1]:,}, "
            f"{price} USD per point; proposed by {source_id}, accepted by {destination_id}"
        )


def _balances(programs: dict[str, LoyaltyProgram], numbers: dict[str, str]) -> str:
    return ", ".join(
        f"{partner_id} {program.balance(numbers[partner_id]):,}"
        for partner_id, program in programs.items()
    )


def _state(program: LoyaltyProgram, transfer_id: str | None) -> str:
    """The transfer's state as the program recorded it from its own feed."""
    row = program.outgoing(transfer_id or "")
    return row.state.value if row is not None else "unknown"


def _move(
    programs: dict[str, LoyaltyProgram],
    numbers: dict[str, str],
    route: tuple[str, str],
    points: int,
) -> None:
    """One completed transfer: the source debits and asks, the destination credits and confirms."""
    source, destination = programs[route[0]], programs[route[1]]
    sent = source.transfer_out(numbers[route[0]], route[1], points)
    destination.sync_feed()  # credits the member, then confirms
    source.sync_feed()  # learns that it completed
    print(
        f"  {sent.transfer_id}: {points:,} {POINT_NAMES[route[0]]} -> "
        f"{sent.destination_points:,} {POINT_NAMES[route[1]]}, {_state(source, sent.transfer_id)}"
    )
    print(f"  balances: {_balances(programs, numbers)}")


def _rejected(programs: dict[str, LoyaltyProgram], numbers: dict[str, str]) -> None:
    skyway, harbor = programs["skyway"], programs["harbor"]
    harbor.credit_policy = refuse_every_credit("account under review")
    sent = skyway.transfer_out(numbers["skyway"], "harbor", 4_000)
    print(
        f"  {sent.transfer_id}: 4,000 miles debited, skyway {skyway.balance(numbers['skyway']):,}"
    )
    harbor.sync_feed()  # rejects it: "account under review"
    skyway.sync_feed()  # TransferVoided: refunds the miles
    harbor.credit_policy = accept_every_credit
    print(
        f"  harbor rejected it, the hub {_state(skyway, sent.transfer_id)} it, skyway refunded; "
        f"balances: {_balances(programs, numbers)}"
    )


def _left_to_time_out(programs: dict[str, LoyaltyProgram], numbers: dict[str, str]) -> None:
    skyway = programs["skyway"]
    sent = skyway.transfer_out(numbers["skyway"], "harbor", 2_000)
    pending = skyway.exchange.get_transfer(sent.transfer_id or "")
    timeout = pending.timeout_time.ToDatetime(tzinfo=UTC)
    print(f"  {sent.transfer_id}: 2,000 miles debited; harbor does not read its feed")
    wait_s = (timeout - datetime.now(UTC)).total_seconds() + TIMEOUT_SWEEP_WAIT_S
    if wait_s > TIMEOUT_WAIT_S_MAX:
        print(
            f"  the hub voids it at {timeout:%H:%M:%S} UTC unless harbor confirms; skyway then "
            "refunds the miles when TransferVoided reaches it"
        )
        return
    print(f"  the hub's timeout is {timeout:%H:%M:%S} UTC; waiting for it ...")
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        skyway.sync_feed()
        state = skyway.exchange.get_transfer(sent.transfer_id or "").state
        if state == exchange_pb2.TRANSFER_STATE_VOIDED:
            print(
                f"  the hub voided it (timed out); skyway refunded: {_balances(programs, numbers)}"
            )
            return
        time.sleep(TIMEOUT_POLL_S)
    print("  the transfer is still pending; the hub voids it on its next sweep")


def points_moving(programs: dict[str, LoyaltyProgram]) -> None:
    """Rates, then a member's points moving: completed, rejected and refunded, left to time out."""
    publish_rates(programs)
    run_id = secrets.token_hex(2).upper()
    prefixes = {"skyway": "SKY", "harbor": "HBR", "orbit": "ORB"}
    numbers = {partner_id: f"{prefix}-{run_id}-1" for partner_id, prefix in prefixes.items()}
    skyway = programs["skyway"]
    print("\n== a new member joins all three brands and links them ==")
    for partner_id, points in (("skyway", 30_000), ("harbor", 0), ("orbit", 20_000)):
        programs[partner_id].enrol(numbers[partner_id], points=points)
    for partner_id in ("harbor", "orbit"):
        code = skyway.link_code(numbers["skyway"])
        programs[partner_id].redeem_link_code(numbers[partner_id], code)
    print(f"  linked; balances: {_balances(programs, numbers)}")
    print("\n== she moves 8,000 miles into hotel points ==")
    _move(programs, numbers, ("skyway", "harbor"), 8_000)
    print("\n== she moves 10,000 card points into miles ==")
    _move(programs, numbers, ("orbit", "skyway"), 10_000)
    print("\n== harbor rejects a credit, and skyway refunds the miles ==")
    _rejected(programs, numbers)
    print("\n== harbor goes quiet: a transfer nobody confirms ==")
    _left_to_time_out(programs, numbers)


SETTLEMENT_CURRENCY = "USD"
SETTLEMENT_CURRENCY_EXPONENT = 2
PAYMENT_DIRECTIONS = {
    settlement_pb2.PAYMENT_DIRECTION_PAY_IN: "pays in",
    settlement_pb2.PAYMENT_DIRECTION_PAY_OUT: "is paid out",
}


def _amount(money: common_pb2.Money) -> str:
    """Minor units as an exact decimal: no float ever touches money."""
    sign = "-" if money.amount_minor < 0 else ""
    whole, fraction = divmod(abs(money.amount_minor), 10**SETTLEMENT_CURRENCY_EXPONENT)
    return f"{sign}{whole}.{fraction:0{SETTLEMENT_CURRENCY_EXPONENT}d} {money.currency_code}"


def nightly_settlement(connections: dict[str, HubConnection], settle: SettleHook) -> str:
    """The hub closes the day early; each brand reads its position, its payment instruction,
    and a statement it verifies: hub signature, every line's Merkle proof, the totals."""
    print("\n== the night's settlement ==")
    business_day = settle()
    print(f"  the hub closed business day {business_day} early and settled it")
    roots: set[bytes] = set()
    for partner_id, connection in connections.items():
        client = SettlementClient(connection)
        settlement_run = client.get_settlement_run(business_day, SETTLEMENT_CURRENCY)
        own = settlement_run.positions[0] if settlement_run.positions else None
        position = (
            f"receivable {_amount(own.receivable)}, payable {_amount(own.payable)} (fees "
            f"included), net {_amount(own.net)}"
            if own is not None
            else "no transfers that day"
        )
        print(f"  {partner_id:<7} {position}")
        for instruction in client.list_payment_instructions(business_day):
            print(
                f"          {PAYMENT_DIRECTIONS[instruction.direction]} "
                f"{_amount(instruction.amount)}, reference {instruction.clearing_reference}"
            )
        statement = client.verified_statement(business_day, SETTLEMENT_CURRENCY)
        print(
            f"          statement verified: {len(statement.lines)} lines, every proof checks, "
            f"net {_amount(statement.net)}"
        )
        roots.add(statement.merkle_root)
    # Brands comparing roots would see it if the hub showed them different versions of the day.
    shown = ", ".join(f"{root.hex()[:16]}..." for root in sorted(roots))
    print(f"  the statements show {len(roots)} Merkle root(s) for the day: {shown}")
    return business_day


def run(
    target: str,
    home: Path,
    audience: str,
    hub_public_key_path: Path,
    on_response: ResponseHook | None = None,
    settle: SettleHook | None = None,
) -> None:
    """The whole demo; `on_response` sees every response (partner id, method, bytes), and
    `settle`, when given, closes the day at the end so the brands can read its settlement."""
    hub_public_key = load_public_key(hub_public_key_path)
    hub_keys = {key_id_for(hub_public_key): hub_public_key}
    connections = {
        partner_id: partner_connection(
            target, home, partner_id, audience, hub_public_key, on_response
        )
        for partner_id in ("skyway", "harbor", "orbit")
    }
    connection = connections["skyway"]
    client = PartnerClient(connection)
    try:
        hub_keys_response = client.get_hub_keys()
        print(f"\n== skyway connects to the hub at {target} ==")
        print(
            f"  hub signing key {hub_keys_response.keys[0].key_id}; "
            "every response is verified with it"
        )
        show_directory(client)
        rotate_key(connection, client, home / "partners" / "skyway")
        show_directory(client)
        programs = _programs(connections, home, hub_keys)
        members_across_brands(programs)
        points_moving(programs)
        if settle is not None:
            show_kpis(connections, nightly_settlement(connections, settle))
    finally:
        for each in connections.values():
            each.close()
