"""The scripted demo `make run` shows: a partner's view of the coalition, through the SDK only."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from coalition.keys import (
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    SigningKey,
    load_public_key,
    load_signing_key,
    write_key_pair,
)
from coalition.v1 import common_pb2
from coalition.wire import key_id_for
from partners.programs import brands
from partners.programs.program import LoyaltyProgram
from partners.sdk import HubConnection, HubError, PartnerClient
from partners.sdk.connection import connect

ResponseHook = Callable[[str, str, bytes], None]

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


def run(
    target: str,
    home: Path,
    audience: str,
    hub_public_key_path: Path,
    on_response: ResponseHook | None = None,
) -> None:
    """The whole demo; `on_response` sees every response (partner id, method, bytes)."""
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
        members_across_brands(_programs(connections, home, hub_keys))
    finally:
        for each in connections.values():
            each.close()
