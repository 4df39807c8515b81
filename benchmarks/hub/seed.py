"""A seeded coalition for benchmarks and load tests: scratch database, keys, partners, members.

The partners and the hub key go in before the hub starts (operator onboarding, as `coalition
partner add` does); rate agreements and linked members go in through the partner SDK against
the running hub, so they take exactly the path a partner's own set-up would.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from coalition.keys import SigningKey, load_signing_key, write_key_pair
from exchange.adapters.clock import SystemClock
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.migrations import upgrade
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.domain.partners import PartnerKind
from exchange.services import partners
from partners.sdk import ExchangeClient, HubConnection, IdentityClient, connect, rate_terms

AUDIENCE = "coalition-bench"
BENCH_PARTNERS = (
    ("alpha", "Alpha Airways", PartnerKind.AIRLINE, "ALPHA_MILES"),
    ("bravo", "Bravo Hotels", PartnerKind.HOTEL, "BRAVO_POINTS"),
    ("carta", "Carta Card", PartnerKind.CARD_ISSUER, "CARTA_REWARDS"),
)
PARTNERS_DEFAULT = 2
MEMBERS_DEFAULT = 1000
SEED_THREADS_DEFAULT = 16
# Terms every seeded agreement carries, both ways: 1000 source points buy 750, USD 0.0040 each.
RATE_RATIO = (1000, 750)
TRANSFER_POINTS_MIN = 1000
TRANSFER_POINTS_MAX = 100_000
# Generous on purpose: a benchmark measures throughput, not the cap (a million transfers a day).
MEMBER_DAILY_CAP_SOURCE_POINTS = 1_000_000_000
PRICE_PER_DESTINATION_POINT = Decimal("0.0040")
AGREEMENTS_EFFECTIVE_FROM = datetime(2020, 1, 1, tzinfo=UTC)
SCRATCH_DATABASE_PREFIX = "coalition_bench_"


@dataclass(frozen=True)
class SeededPartner:
    partner_id: str
    key_path: str

    def signing_key(self) -> SigningKey:
        return load_signing_key(Path(self.key_path))


@dataclass(frozen=True)
class PreparedHub:
    """What exists before the hub starts: a migrated database, the hub key, the partners."""

    database_url: str
    hub_key_path: Path
    hub_public_keys_hex: dict[str, str]
    partners: tuple[SeededPartner, ...]


@dataclass(frozen=True)
class SeededCoalition:
    """Everything a client needs; JSON round-trips it to worker processes and Locust.

    `members` holds one tuple per member: that member's ppid at each partner, in the order of
    `partners`. Every member is linked at every partner.
    """

    target: str
    audience: str
    hub_public_keys_hex: dict[str, str]
    partners: tuple[SeededPartner, ...]
    members: tuple[tuple[str, ...], ...]

    @property
    def hub_public_keys(self) -> dict[str, bytes]:
        return {key_id: bytes.fromhex(key) for key_id, key in self.hub_public_keys_hex.items()}

    @property
    def partner_ids(self) -> list[str]:
        return [partner.partner_id for partner in self.partners]

    def partner_index(self, partner_id: str) -> int:
        return self.partner_ids.index(partner_id)

    def ppids(self, partner_id: str) -> list[str]:
        index = self.partner_index(partner_id)
        return [member[index] for member in self.members]

    def connection(
        self, partner_id: str, channel_options: Sequence[tuple[str, int | str]] = ()
    ) -> HubConnection:
        partner = self.partners[self.partner_index(partner_id)]
        return connect(
            self.target,
            partner_id,
            partner.signing_key(),
            self.audience,
            self.hub_public_keys,
            channel_options=channel_options,
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "target": self.target,
                "audience": self.audience,
                "hub_public_keys_hex": self.hub_public_keys_hex,
                "partners": [[p.partner_id, p.key_path] for p in self.partners],
                "members": [list(member) for member in self.members],
            }
        )

    @classmethod
    def from_json(cls, document: str) -> SeededCoalition:
        data = json.loads(document)
        return cls(
            data["target"],
            data["audience"],
            dict(data["hub_public_keys_hex"]),
            tuple(SeededPartner(p[0], p[1]) for p in data["partners"]),
            tuple(tuple(member) for member in data["members"]),
        )


# --- scratch databases ---------------------------------------------------------------------------


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def database_url_named(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


@contextmanager
def postgres_scratch_database(
    admin_url: str, prefix: str = SCRATCH_DATABASE_PREFIX
) -> Iterator[str]:
    """CREATEs a fresh database on the server `admin_url` names, yields its URL, DROPs it."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield database_url_named(admin_url, name)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# --- before the hub starts -----------------------------------------------------------------------


def migrate(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def prepare_hub(database_url: str, directory: Path, partner_count: int) -> PreparedHub:
    """Migrates the database, writes the hub key and each partner's key, onboards partners."""
    assert 2 <= partner_count <= len(BENCH_PARTNERS), "2 or 3 partners"
    migrate(database_url)
    hub_key = SigningKey.generate()
    hub_key_path, _ = write_key_pair(directory / "hub", hub_key)
    engine = create_database_engine(database_url)
    seeded: list[SeededPartner] = []
    try:
        with SqlUnitOfWorkFactory(engine)() as uow:
            for partner_id, name, kind, program in BENCH_PARTNERS[:partner_count]:
                key = SigningKey.generate()
                key_path, _ = write_key_pair(directory / "partners" / partner_id, key)
                command = partners.AddPartner(partner_id, name, kind, program, key.public_key_bytes)
                partners.add_partner(uow, SystemClock(), command)
                seeded.append(SeededPartner(partner_id, str(key_path)))
            uow.commit()
    finally:
        engine.dispose()
    public_keys = {hub_key.key_id: hub_key.public_key_bytes.hex()}
    return PreparedHub(database_url, hub_key_path, public_keys, tuple(seeded))


# --- through the running hub ---------------------------------------------------------------------


def agree_all_rates(connections: dict[str, HubConnection]) -> int:
    """Every ordered pair: the source proposes the bench terms, the destination accepts."""
    terms = rate_terms(
        ratio=RATE_RATIO,
        minimum_source_points=TRANSFER_POINTS_MIN,
        increment_source_points=TRANSFER_POINTS_MIN,
        maximum_source_points=TRANSFER_POINTS_MAX,
        member_daily_cap_source_points=MEMBER_DAILY_CAP_SOURCE_POINTS,
        settlement_currency_code="USD",
        price_per_destination_point=PRICE_PER_DESTINATION_POINT,
        effective_from=AGREEMENTS_EFFECTIVE_FROM,
    )
    pairs = list(itertools.permutations(connections, 2))
    for source, destination in pairs:
        proposed = ExchangeClient(connections[source]).propose_rate_agreement(
            source, destination, terms
        )
        ExchangeClient(connections[destination]).accept_rate_agreement(
            proposed.agreement_id, proposed.version
        )
    return len(pairs)


def linked_member(connections: Sequence[HubConnection]) -> tuple[str, ...]:
    """Enrols one member at the first partner and links it at every other; returns its ppids."""
    holder = IdentityClient(connections[0])
    ppids = [holder.enroll_member()]
    for connection in connections[1:]:
        other = IdentityClient(connection)
        ppid = other.enroll_member()
        other.redeem_link_code(holder.create_link_code(ppids[0]).link_code, ppid)
        ppids.append(ppid)
    return tuple(ppids)


def seed_members(
    prepared: PreparedHub,
    target: str,
    audience: str,
    member_count: int,
    threads: int = SEED_THREADS_DEFAULT,
) -> SeededCoalition:
    """Rate agreements both ways, then `member_count` members linked at every partner."""
    coalition = SeededCoalition(
        target, audience, prepared.hub_public_keys_hex, prepared.partners, ()
    )
    connections = {p: coalition.connection(p) for p in coalition.partner_ids}
    try:
        agree_all_rates(connections)
        ordered = [connections[p] for p in coalition.partner_ids]
        with ThreadPoolExecutor(threads, thread_name_prefix="seed") as pool:
            members = tuple(pool.map(lambda _: linked_member(ordered), range(member_count)))
    finally:
        for connection in connections.values():
            connection.close()
    return SeededCoalition(
        target, audience, prepared.hub_public_keys_hex, prepared.partners, members
    )
