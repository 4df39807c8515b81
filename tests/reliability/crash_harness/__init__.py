"""Crash-recovery harness: the hub as a real process on a scratch PostgreSQL database, killed
with SIGKILL at random moments and restarted, while partner processes keep moving points.

The operator's path sets the coalition up (`coalition db upgrade`, then partners and keys);
the partners agree rates and link members through the SDK against the hub's first run. Each
partner then runs as its own process (crash_partner.py) with its reference LoyaltyProgram.
Nothing here asserts: the test reads what happened (reports, the hub's tables) and judges it."""

from __future__ import annotations

from tests.reliability.crash_harness.commands import (
    AUDIENCE,
    OPENING_POINTS,
    CommandResult,
    free_port,
    hub_environment,
    onboard,
    run_cli,
    scratch_database,
)
from tests.reliability.crash_harness.run import CrashRun, CrashRunResult, feed_positions

__all__ = [
    "AUDIENCE",
    "OPENING_POINTS",
    "CommandResult",
    "CrashRun",
    "CrashRunResult",
    "feed_positions",
    "free_port",
    "hub_environment",
    "onboard",
    "run_cli",
    "scratch_database",
]
