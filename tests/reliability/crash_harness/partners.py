"""The partner processes (crash_partner.py), each with its reference LoyaltyProgram and config."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.reliability.crash_harness.commands import PARTNER_MODULE, REPO_ROOT, HarnessError
from tests.reliability.hub_process import log_tail


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
