"""The scratch database and the operator's commands: the hub's environment, the coalition CLI,
onboarding partners and keys, and the rate agreements and member links made through the SDK."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from coalition.keys import PRIVATE_KEY_FILE, SigningKey, load_signing_key, write_key_pair
from exchange.config import ENVIRONMENT_NAMES, Settings
from exchange.operations import add_partner
from exchange.services.partners import AddPartner
from partners.sdk.connection import connect
from tests.reliability.hub_process import COALITION_CLI
from tests.support import databases
from tests.support.coalition import TEST_PARTNERS
from tests.support.programs import BRAND_FACTORIES
from tests.support.transfers import agree, linked_member, terms

REPO_ROOT = Path(__file__).resolve().parents[3]
PARTNER_MODULE = "tests.reliability.crash_partner"
AUDIENCE = "coalition-crash-test"

# The coalition: three brands, every direction agreed, members linked at all three.
MEMBERS_PER_RUN = 6
OPENING_POINTS = 1_000_000
# Far above what a member moves in a run: daily caps are not what this harness tests.
DAILY_CAP_POINTS = 100_000_000

# A transfer nobody confirms is voided this long after it started, so stragglers of the
# crash phase resolve within the test (plus the sweeper's own interval).
TRANSFER_TIMEOUT_S = 20

# One destination stops applying its feed for a while during the crashes, longer than the
# transfer timeout: credits it applies afterwards race the hub's voids (the sweeper's, or
# the one its own late confirmation triggers) and must be undone exactly once.
FEED_PAUSE_PARTNER = "orbit"
FEED_PAUSE_AFTER_S = 15.0
FEED_PAUSE_S = TRANSFER_TIMEOUT_S + 20.0

# Bounds on every wait, so a hang fails the run instead of stalling it.
CLI_S_MAX = 120.0
# After the last restart: pending transfers must resolve (timeout + sweep + slack).
QUIESCENCE_S_MAX = 120.0
QUIESCENCE_POLL_S = 0.5
PARTNER_EXIT_S_MAX = 60.0
PARTNER_STOP_S_MAX = 5.0

CONFIG_FILE = "coalition.json"
FINISH_FILE = "finish"


class HarnessError(Exception):
    """The harness could not do its part (a process did not start, a wait ran out)."""


# --- the scratch database and the operator's commands ---------------------------------------


@contextmanager
def scratch_database() -> Iterator[str]:
    """An empty PostgreSQL database for one run (migrated later, by the CLI); dropped after."""
    name = f"coalition_crash_{uuid.uuid4().hex[:12]}"
    admin = create_engine(databases.postgres_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(databases.postgres_admin_url()).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def hub_environment(
    database_url: str, port: int, hub_key_path: Path, processes: int
) -> dict[str, str]:
    """The process environment of every `coalition` command of a run: ours, not the caller's,
    with the number of hub processes explicit (never the machine's default)."""
    inherited = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT_NAMES.values()}
    return {
        **inherited,
        "PYTHONUNBUFFERED": "1",
        ENVIRONMENT_NAMES["database_url"]: database_url,
        ENVIRONMENT_NAMES["listen_address"]: f"127.0.0.1:{port}",
        ENVIRONMENT_NAMES["audience"]: AUDIENCE,
        ENVIRONMENT_NAMES["hub_key_path"]: str(hub_key_path),
        ENVIRONMENT_NAMES["transfer_timeout_s"]: str(TRANSFER_TIMEOUT_S),
        ENVIRONMENT_NAMES["processes"]: str(processes),
    }


@dataclass(frozen=True)
class CommandResult:
    arguments: tuple[str, ...]
    exit_code: int
    output: str

    def describe(self) -> str:
        return f"`coalition {' '.join(self.arguments)}` exited {self.exit_code}:\n{self.output}"


def run_cli(environment: dict[str, str], *arguments: str, cwd: Path) -> CommandResult:
    completed = subprocess.run(
        [str(COALITION_CLI), *arguments],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_S_MAX,
        check=False,
    )
    return CommandResult(arguments, completed.returncode, completed.stdout + completed.stderr)


def run_cli_or_fail(environment: dict[str, str], *arguments: str, cwd: Path) -> CommandResult:
    result = run_cli(environment, *arguments, cwd=cwd)
    if result.exit_code != 0:
        raise HarnessError(result.describe())
    return result


def free_port() -> int:
    """A port nothing listens on now; the hub binds it again after every restart."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the coalition ----------------------------------------------------------------------------


def onboard(directory: Path, environment: dict[str, str], hub_key_path: Path) -> None:
    """What an operator does: migrate (`coalition db upgrade`), make the hub key, add each
    partner with its first key (the function `coalition partner add` runs, without paying
    for three more interpreter starts on a busy machine)."""
    run_cli_or_fail(environment, "db", "upgrade", cwd=directory)
    write_key_pair(hub_key_path.parent, SigningKey.generate())
    settings = Settings.load(environ=environment)
    for partner_id, name, kind, program_code in TEST_PARTNERS:
        key = SigningKey.generate()
        write_key_pair(directory / "partners" / partner_id, key)
        command = AddPartner(partner_id, name, kind, program_code, key.public_key_bytes)
        add_partner(settings, command)


def hub_public_keys(hub_key_path: Path) -> dict[str, bytes]:
    key = load_signing_key(hub_key_path)
    return {key.key_id: key.public_key_bytes}


def agree_and_link(directory: Path, target: str, hub_key_path: Path) -> dict[str, list[str]]:
    """Through the SDK against the running hub: every direction agreed (proposed by the
    source, accepted by the destination), members enrolled at every brand and linked.

    Returns each partner's member numbers; the programs' stores stay under `directory`.
    """
    trusted = hub_public_keys(hub_key_path)
    programs = {}
    for partner_id, factory in BRAND_FACTORIES.items():
        key = load_signing_key(directory / "partners" / partner_id / PRIVATE_KEY_FILE)
        connection = connect(target, partner_id, key, AUDIENCE, trusted)
        programs[partner_id] = factory(store_path(directory, partner_id), connection, trusted)
    try:
        now = datetime.now(UTC)
        for source in programs.values():
            for destination in programs.values():
                if source is not destination:
                    agree(source, destination, terms(now, daily_cap=DAILY_CAP_POINTS))
        opening = dict.fromkeys(programs, OPENING_POINTS)
        members = [linked_member(programs, f"{n:03d}", opening) for n in range(MEMBERS_PER_RUN)]
    finally:
        for program in programs.values():
            program.exchange.connection.close()
    return {p: [member.numbers[p] for member in members] for p in programs}


def store_path(directory: Path, partner_id: str) -> Path:
    return directory / "partners" / partner_id / "program.db"
