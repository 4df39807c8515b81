"""The scripted demo `make run` shows: a partner's view of the coalition, through the SDK only."""

from __future__ import annotations

import os
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
from partners.sdk import HubConnection, HubError, PartnerClient
from partners.sdk.connection import connect

KIND_NAMES = {
    common_pb2.PARTNER_KIND_AIRLINE: "airline",
    common_pb2.PARTNER_KIND_HOTEL: "hotel",
    common_pb2.PARTNER_KIND_CARD_ISSUER: "card issuer",
    common_pb2.PARTNER_KIND_RETAILER: "retailer",
    common_pb2.PARTNER_KIND_OTHER: "other",
}


def partner_connection(
    target: str, home: Path, partner_id: str, audience: str, hub_public_key: bytes
) -> HubConnection:
    key = load_signing_key(home / "partners" / partner_id / PRIVATE_KEY_FILE)
    return connect(target, partner_id, key, audience, {key_id_for(hub_public_key): hub_public_key})


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


def run(target: str, home: Path, audience: str, hub_public_key_path: Path) -> None:
    hub_public_key = load_public_key(hub_public_key_path)
    connection = partner_connection(target, home, "skyway", audience, hub_public_key)
    client = PartnerClient(connection)
    try:
        hub_keys = client.get_hub_keys()
        print(f"\n== skyway connects to the hub at {target} ==")
        print(f"  hub signing key {hub_keys.keys[0].key_id}; every response is verified with it")
        show_directory(client)
        rotate_key(connection, client, home / "partners" / "skyway")
        show_directory(client)
    finally:
        connection.close()
