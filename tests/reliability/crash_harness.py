"""Crash-recovery harness: the hub as a real process on a scratch PostgreSQL database, killed
with SIGKILL at random moments and restarted, while partner processes keep moving points.

The operator's path sets the coalition up (`coalition db upgrade`, then partners and keys);
the partners agree rates and link members through the SDK against the hub's first run. Each
partner then runs as its own process (crash_partner.py) with its reference LoyaltyProgram.
Nothing here asserts: the test reads what happened (reports, the hub's tables) and judges it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from coalition.keys import (
    PRIVATE_KEY_FILE,
    SigningKey,
    load_signing_key,
    write_key_pair,
)
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.tables import PartnerFeedRow, TransferRow
from exchange.config import ENVIRONMENT_NAMES, Settings
from exchange.operations import add_partner
from exchange.services.partners import AddPartner
from partners.sdk.connection import connect
from tests.reliability.crash_kills import (
    HUB,
    WORKER,
    Kill,
    KillPlan,
    kill_and_restart,
    lease_holder_pids,
)
from tests.reliability.hub_process import COALITION_CLI, HubProcess, log_tail
from tests.support import databases
from tests.support.coalition import TEST_PARTNERS
from tests.support.programs import BRAND_FACTORIES
from tests.support.transfers import agree, linked_member, terms

REPO_ROOT = Path(__file__).resolve().parents[2]
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


@dataclass(frozen=True)
class PartnerConfig:
    """What a partner process reads: where the hub is, its key and store, its members."""

    target: str
    audience: str
    hub_key_path: str
    control_directory: str
    partners: dict[str, dict[str, Any]]
    # (seconds after the partner starts, seconds of pause), per partner that pauses its feed.
    feed_pauses: dict[str, tuple[float, float]]

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=2))


# --- partner processes ------------------------------------------------------------------------


@dataclass
class PartnerProcess:
    partner_id: str
    control_directory: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def status_path(self) -> Path:
        return self.control_directory / f"{self.partner_id}.status.json"

    @property
    def report_path(self) -> Path:
        return self.control_directory / f"{self.partner_id}.report.json"

    def status(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.status_path.read_text()))
        except (OSError, ValueError):
            return {}

    def drain(self) -> None:
        """SIGTERM: start no more transfers; keep answering and following the feed."""
        self.process.send_signal(signal.SIGTERM)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise HarnessError(
                f"partner {self.partner_id} exited {self.process.returncode} early:\n"
                + log_tail(self.log_path)
            )


def start_partner(
    config_path: Path, control_directory: Path, partner_id: str, seed: int
) -> PartnerProcess:
    log_path = control_directory / f"{partner_id}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                PARTNER_MODULE,
                "--config",
                str(config_path),
                "--partner",
                partner_id,
                "--seed",
                str(seed),
            ],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return PartnerProcess(partner_id, control_directory, process, log_path)


# --- one run ------------------------------------------------------------------------------------


@dataclass
class CrashRunResult:
    processes: int
    kills: list[Kill]
    reports: dict[str, dict[str, Any]]
    partner_exit_codes: dict[str, int]
    hub_starts: int
    hub_exit_code: int
    # The business day the coalition calendar (the hub's settings) says it is now.
    today: str
    # Wall time of each phase: setup, crashes, quiescence, finish.
    phase_s: dict[str, float]

    def kills_of(self, target: str) -> list[Kill]:
        return [kill for kill in self.kills if kill.target == target]

    def describe(self) -> str:
        phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.phase_s.items())
        asked = {p: report["transfers_asked"] for p, report in self.reports.items()}
        kills = "; ".join(
            describe_kills(target, self.kills_of(target))
            for target in (HUB, WORKER)
            if self.kills_of(target)
        )
        hub = "1 hub process" if self.processes == 1 else f"{self.processes} hub processes"
        return f"{hub}: {kills}; phases: {phases}; transfers asked {asked}"


def describe_kills(target: str, kills: list[Kill]) -> str:
    restarts = sorted(kill.restart_s for kill in kills)
    holders = sum(kill.lease_holder for kill in kills)
    of_holder = f" ({holders} of the scheduler lease holder)" if target == WORKER else ""
    return (
        f"{len(kills)} {target} kills{of_holder}, back to SERVING median "
        f"{restarts[len(restarts) // 2]:.2f} s, max {restarts[-1]:.2f} s"
    )


class PhaseTimer:
    def __init__(self) -> None:
        self.phase_s: dict[str, float] = {}
        self._began = time.monotonic()

    def end(self, phase: str) -> None:
        now = time.monotonic()
        self.phase_s[phase] = now - self._began
        self._began = now


@dataclass
class CrashRun:
    """One run: set up, partners on, kill loop, drain, reports. `close()` ends every process."""

    directory: Path
    database_url: str
    seed: int
    processes: int
    rng: random.Random = field(init=False)
    hub: HubProcess = field(init=False)
    partners: dict[str, PartnerProcess] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.hub_key_path = self.directory / "hub" / PRIVATE_KEY_FILE
        self.control_directory = self.directory / "control"
        self.control_directory.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.environment = hub_environment(
            self.database_url, port, self.hub_key_path, self.processes
        )
        self.hub = HubProcess(self.environment, port, self.directory, self.processes)
        self.plan = KillPlan.for_processes(self.processes)

    @property
    def settings(self) -> Settings:
        return Settings.load(environ=self.environment)

    def execute(self) -> CrashRunResult:
        timer = PhaseTimer()
        self._set_up()
        timer.end("setup")
        kills = self._crash()
        timer.end("crashes")
        for partner in self.partners.values():
            partner.check_alive()
            partner.drain()
        self._wait_quiescent()
        timer.end("quiescence")
        (self.control_directory / FINISH_FILE).touch()
        exit_codes = self._wait_partners_exit()
        reports = {
            partner_id: json.loads(partner.report_path.read_text())
            for partner_id, partner in self.partners.items()
        }
        # Stopped gracefully, so the checks read a database nobody writes to any more.
        hub_exit_code = self.hub.stop()
        timer.end("finish")
        today = self.settings.calendar.business_day_of(time.time_ns() // 1000).isoformat()
        return CrashRunResult(
            self.processes,
            kills,
            reports,
            exit_codes,
            self.hub.starts,
            hub_exit_code,
            today,
            timer.phase_s,
        )

    def _crash(self) -> list[Kill]:
        engine = create_database_engine(self.database_url, pool_size=1)
        try:
            return kill_and_restart(
                self.hub, self.plan, self.rng, lambda: lease_holder_pids(engine)
            )
        finally:
            engine.dispose()

    def _set_up(self) -> None:
        """The operator onboards, the partners agree and link, then each partner process starts."""
        onboard(self.directory, self.environment, self.hub_key_path)
        self.hub.start()
        members = agree_and_link(self.directory, self.hub.target, self.hub_key_path)
        config_path = self._write_config(members)
        for partner_id in members:
            seed = self.rng.randrange(2**32)
            self.partners[partner_id] = start_partner(
                config_path, self.control_directory, partner_id, seed
            )

    def _write_config(self, members: dict[str, list[str]]) -> Path:
        config = PartnerConfig(
            target=self.hub.target,
            audience=AUDIENCE,
            hub_key_path=str(self.hub_key_path),
            control_directory=str(self.control_directory),
            partners={
                partner_id: {
                    "key_path": str(self.directory / "partners" / partner_id / PRIVATE_KEY_FILE),
                    "store_path": str(store_path(self.directory, partner_id)),
                    "members": numbers,
                }
                for partner_id, numbers in members.items()
            },
            feed_pauses={FEED_PAUSE_PARTNER: (FEED_PAUSE_AFTER_S, FEED_PAUSE_S)},
        )
        path = self.directory / CONFIG_FILE
        config.write(path)
        return path

    def _wait_quiescent(self) -> None:
        """Until every partner has stopped starting transfers and holds none in flight, and the
        hub holds no PENDING transfer: from then on no new transfer or event can appear."""
        engine = create_database_engine(self.database_url, pool_size=1)
        deadline = time.monotonic() + QUIESCENCE_S_MAX
        try:
            while time.monotonic() < deadline:
                for partner in self.partners.values():
                    partner.check_alive()
                if self._partners_idle() and hub_pending_transfers(engine) == 0:
                    return
                time.sleep(QUIESCENCE_POLL_S)
            statuses = {p: partner.status() for p, partner in self.partners.items()}
            raise HarnessError(
                f"not quiescent after {QUIESCENCE_S_MAX} s: hub pending "
                f"{hub_pending_transfers(engine)}, partners {statuses}"
            )
        finally:
            engine.dispose()

    def _partners_idle(self) -> bool:
        for partner in self.partners.values():
            status = partner.status()
            if not status.get("draining") or status.get("open_outgoing", 1) != 0:
                return False
        return True

    def _wait_partners_exit(self) -> dict[str, int]:
        deadline = time.monotonic() + PARTNER_EXIT_S_MAX
        codes: dict[str, int] = {}
        for partner_id, partner in self.partners.items():
            try:
                codes[partner_id] = partner.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise HarnessError(
                    f"partner {partner_id} did not finish in {PARTNER_EXIT_S_MAX} s:\n"
                    + log_tail(partner.log_path)
                ) from None
        return codes

    def close(self) -> None:
        """Ends whatever still runs: partners first (they would only retry), then the hub."""
        for partner in self.partners.values():
            if partner.process.poll() is None:
                partner.process.send_signal(signal.SIGKILL)
                with suppress(subprocess.TimeoutExpired):
                    partner.process.wait(PARTNER_STOP_S_MAX)
        self.hub.stop()


def hub_pending_transfers(engine: Engine) -> int:
    with engine.connect() as connection:
        query = select(func.count()).select_from(TransferRow).where(TransferRow.state == "pending")
        return int(connection.scalar(query) or 0)


def feed_positions(engine: Engine) -> dict[str, tuple[int, int]]:
    """partner id -> (last sequence, acknowledged sequence) of its feed."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                PartnerFeedRow.partner_id,
                PartnerFeedRow.last_sequence,
                PartnerFeedRow.acked_sequence,
            )
        )
        return {partner_id: (last, acked) for partner_id, last, acked in rows}
