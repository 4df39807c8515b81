"""One crash run: the hub killed and restarted at random moments while the partners move points,
then what happened, read from the partners' reports and the hub's tables."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from coalition.keys import PRIVATE_KEY_FILE
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.tables import PartnerFeedRow, TransferRow
from exchange.config import Settings
from tests.reliability.crash_harness.commands import (
    AUDIENCE,
    CONFIG_FILE,
    FEED_PAUSE_AFTER_S,
    FEED_PAUSE_PARTNER,
    FEED_PAUSE_S,
    FINISH_FILE,
    PARTNER_EXIT_S_MAX,
    PARTNER_STOP_S_MAX,
    QUIESCENCE_POLL_S,
    QUIESCENCE_S_MAX,
    HarnessError,
    agree_and_link,
    free_port,
    hub_environment,
    onboard,
    store_path,
)
from tests.reliability.crash_harness.partners import PartnerConfig, PartnerProcess, start_partner
from tests.reliability.crash_kills import (
    HUB,
    WORKER,
    Kill,
    KillPlan,
    kill_and_restart,
    lease_holder_pids,
)
from tests.reliability.hub_process import HubProcess, log_tail

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
