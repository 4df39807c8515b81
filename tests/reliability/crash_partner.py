"""One partner's reference loyalty program as its own process, for the crash-recovery harness.

Run as `python -m tests.reliability.crash_partner --config C --partner P --seed N` from the
repository root. It starts transfers for its members through the program's normal path (quote,
local debit with the outgoing row, CreateTransfer with that row's idempotency key), follows its
feed on a stream (crediting on CreditRequested, refunding on TransferVoided, exactly once per
event id) and answers the hub from its outbox, retrying whatever the hub's state.

SIGTERM: start no more transfers, keep answering. The harness's finish file (honoured only
after SIGTERM): apply and answer everything left, write the report, exit (0 if drained).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc

from coalition.keys import load_signing_key
from coalition.v1 import event_pb2
from partners.programs import brands
from partners.programs.errors import ProgramError
from partners.programs.handlers import CreditPolicy, EventHandler
from partners.programs.program import LoyaltyProgram
from partners.programs.store import Member, StoreTransaction
from partners.programs.transfer_store import OutgoingState
from partners.sdk.connection import HubConnection, HubError

log = logging.getLogger("crash_partner")

# As tests.support.programs has them; not imported from there, which would pull the hub's
# own modules into a process that plays a partner.
BRAND_FACTORIES = {
    brands.AIRLINE_PARTNER_ID: brands.airline,
    brands.HOTEL_PARTNER_ID: brands.hotel,
    brands.CARD_ISSUER_PARTNER_ID: brands.card_issuer,
}
# Whole thousands inside the agreed minimum (2,000) and maximum (50,000).
TRANSFER_POINTS = (2_000, 3_000, 4_000, 5_000, 6_000)
TRANSFERS_PER_PARTNER_MAX = 1_000
TRANSFER_PAUSE_S_MIN = 0.02
TRANSFER_PAUSE_S_MAX = 0.12
# How often the program retries what it owes: unacknowledged transfers, unsent answers.
UPKEEP_INTERVAL_S = 0.3
DRAIN_POLL_S = 0.2
FINAL_DRAIN_S_MAX = 45.0
FEED_JOIN_S_MAX = 15.0
# The SDK's feed and the gRPC channel back off between reconnects; against a hub that
# restarts every second or two, keep those pauses short so the feed catches up in between.
FEED_RECONNECT_S = 0.2
FEED_RECONNECT_S_MAX = 1.0
FEED_RESTART_S = 0.5
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1_000),
)
ERRORS_KEPT_MAX = 50
# Names shared with crash_harness (FINISH_FILE and the status and report paths).
FINISH_FILE = "finish"
# The destination refuses about one credit in this many, so every run voids transfers by
# rejection and refunds them at the source (timeouts alone may void none in a quick run).
CREDIT_REFUSAL_ONE_IN = 10
CREDIT_REFUSAL_REASON = "account on hold"

TRANSFER_BODIES = frozenset(
    {"credit_requested", "debit_requested", "transfer_completed", "transfer_voided"}
)
APPLICATION_LOG_SCHEMA = """
    CREATE TABLE IF NOT EXISTS crash_applications (
        application_id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        body TEXT NOT NULL,
        transfer_id TEXT NOT NULL
    )
"""


def logged(body: str, handler: EventHandler) -> EventHandler:
    """The handler, plus a row per application written in the same transaction as its effect.

    Unlike processed_events (keyed by event id), this log has no unique key: an event applied
    twice leaves two rows, which is what the test looks for.
    """

    def apply(transaction: StoreTransaction, payload: event_pb2.EventPayload) -> None:
        handler(transaction, payload)
        transfer_id = getattr(payload, body).transfer_id if body in TRANSFER_BODIES else ""
        transaction._connection.execute(
            "INSERT INTO crash_applications (event_id, sequence, body, transfer_id)"
            " VALUES (?, ?, ?, ?)",
            (payload.event_id, payload.sequence, body, transfer_id),
        )

    return apply


def refusing_some_credits(rng: random.Random) -> CreditPolicy:
    def policy(_member: Member, _points: int) -> str | None:
        return CREDIT_REFUSAL_REASON if rng.randrange(CREDIT_REFUSAL_ONE_IN) == 0 else None

    return policy


def build_program(config: dict[str, Any], partner_id: str) -> LoyaltyProgram:
    own = config["partners"][partner_id]
    hub_key = load_signing_key(Path(config["hub_key_path"]))
    trusted = {hub_key.key_id: hub_key.public_key_bytes}
    channel = grpc.insecure_channel(config["target"], options=list(CHANNEL_OPTIONS))
    signing_key = load_signing_key(Path(own["key_path"]))
    connection = HubConnection(channel, partner_id, signing_key, config["audience"], trusted)
    program = BRAND_FACTORIES[partner_id](own["store_path"], connection, trusted)
    with sqlite3.connect(program.store.path) as store:
        store.execute(APPLICATION_LOG_SCHEMA)
    program.sink.handlers = {
        body: logged(body, handler) for body, handler in program.sink.handlers.items()
    }
    return program


class Partner:
    def __init__(self, config: dict[str, Any], partner_id: str, rng: random.Random) -> None:
        self.partner_id = partner_id
        self.program = build_program(config, partner_id)
        self.program.credit_policy = refusing_some_credits(random.Random(rng.random()))
        self.members: list[str] = config["partners"][partner_id]["members"]
        self.destinations = sorted(p for p in config["partners"] if p != partner_id)
        self.control = Path(config["control_directory"])
        self.rng = rng
        self.draining = threading.Event()
        self.feed_stop = threading.Event()
        self.outcomes: Counter[str] = Counter()
        self.errors: list[str] = []
        self.transfers_asked = 0
        pause = config.get("feed_pauses", {}).get(partner_id)
        if pause is not None:
            self._pause_feed_once(*pause)

    def _pause_feed_once(self, after_s: float, pause_s: float) -> None:
        """The first event applied `after_s` from now or later, before any drain, waits
        `pause_s` first, outside any store transaction (transfers keep starting): a
        destination that falls behind its feed."""
        apply = self.program.sink.apply
        pause_at_s = time.monotonic() + after_s
        paused = threading.Event()

        def apply_late(payload: event_pb2.EventPayload) -> None:
            due = time.monotonic() >= pause_at_s and not self.draining.is_set()
            if due and not paused.is_set():
                paused.set()
                self.outcomes["feed paused"] += 1
                self.feed_stop.wait(pause_s)
            apply(payload)

        self.program.sink.apply = apply_late  # type: ignore[method-assign]

    def run(self) -> int:
        feed = threading.Thread(target=self._follow_feed, name="feed", daemon=True)
        feed.start()
        next_upkeep_s = 0.0
        while not (self.draining.is_set() and (self.control / FINISH_FILE).exists()):
            if self.draining.is_set() or self.transfers_asked >= TRANSFERS_PER_PARTNER_MAX:
                time.sleep(DRAIN_POLL_S)
            else:
                self._transfer_once()
            if time.monotonic() >= next_upkeep_s:
                self._upkeep()
                self._write_status()
                next_upkeep_s = time.monotonic() + UPKEEP_INTERVAL_S
        self.feed_stop.set()
        feed.join(FEED_JOIN_S_MAX)
        if feed.is_alive():
            self._error("the feed thread did not stop")
        drained = self._drain()
        self._write_json(self.control / f"{self.partner_id}.report.json", self._report(drained))
        return 0 if drained else 1

    def _transfer_once(self) -> None:
        member = self.rng.choice(self.members)
        destination = self.rng.choice(self.destinations)
        points = self.rng.choice(TRANSFER_POINTS)
        self.transfers_asked += 1
        try:
            row = self.program.transfer_out(member, destination, points)
            self.outcomes[f"transfer_out -> {row.state.value}"] += 1
        except HubError as error:
            self.outcomes[f"transfer_out -> {error.code.name} {error.reason}".strip()] += 1
        except ProgramError as error:
            self.outcomes[f"transfer_out -> {type(error).__name__}"] += 1
        time.sleep(self.rng.uniform(TRANSFER_PAUSE_S_MIN, TRANSFER_PAUSE_S_MAX))

    def _upkeep(self) -> None:
        """What a program does on a timer: ask again for unacknowledged transfers (same keys),
        send answers still owed to the hub."""
        try:
            self.program.resume_outgoing()
            self.program.flush_outbox()
        except HubError as error:  # e.g. listing transfers while the hub is down
            self.outcomes[f"upkeep -> {error.code.name}"] += 1

    def _follow_feed(self) -> None:
        self.program.sink.after_apply = self.program.flush_outbox
        while not self.feed_stop.is_set():
            try:
                self.program.flush_outbox()
                result = self.program.feed.run(
                    self.feed_stop, FEED_RECONNECT_S, FEED_RECONNECT_S_MAX
                )
                if result.verification_failure is not None:
                    self._error(f"feed verification: {result.verification_failure}")
            except Exception as error:  # a failure run() does not retry itself; reported
                self._error(f"feed: {error!r}")
            self.feed_stop.wait(FEED_RESTART_S)
        self.program.sink.after_apply = None

    def _drain(self) -> bool:
        """Polls the feed, resumes and answers until nothing is owed either way."""
        deadline = time.monotonic() + FINAL_DRAIN_S_MAX
        while time.monotonic() < deadline:
            try:
                self.program.sync_feed()
                self._upkeep()
                unacked = self.program.events.list_events(None, 1).events
                if not unacked and self._open_outgoing() == 0 and self._unsent_answers() == 0:
                    return True
            except HubError as error:
                self.outcomes[f"drain -> {error.code.name}"] += 1
            time.sleep(DRAIN_POLL_S)
        self._error(f"not drained after {FINAL_DRAIN_S_MAX} s")
        return False

    def _open_outgoing(self) -> int:
        store = self.program.store
        return sum(
            len(store.outgoing_in_state(state))
            for state in (OutgoingState.PENDING, OutgoingState.STARTED)
        )

    def _unsent_answers(self) -> int:
        return len(self.program.store.outbox(unsent_only=True))

    def _error(self, message: str) -> None:
        log.error("%s", message)
        if len(self.errors) < ERRORS_KEPT_MAX:
            self.errors.append(message)

    def _write_status(self) -> None:
        status = {
            "draining": self.draining.is_set(),
            "open_outgoing": self._open_outgoing(),
            "unsent_answers": self._unsent_answers(),
            "transfers_asked": self.transfers_asked,
        }
        self._write_json(self.control / f"{self.partner_id}.status.json", status)

    @staticmethod
    def _write_json(path: Path, content: dict[str, Any]) -> None:
        """Written whole, then renamed: the harness never reads half a file."""
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(content, indent=1, sort_keys=True))
        os.replace(partial, path)

    def _report(self, drained: bool) -> dict[str, Any]:
        report = read_store(self.program.store.path)
        report.update(
            partner_id=self.partner_id,
            drained=drained,
            transfers_asked=self.transfers_asked,
            outcomes=dict(self.outcomes),
            errors=self.errors,
            feed_applied_total=self.program.feed.applied_total,
        )
        return report


def read_store(path: str) -> dict[str, Any]:
    """Everything the program holds, as plain rows: the report's evidence."""
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    try:

        def rows(query: str) -> list[dict[str, Any]]:
            return [dict(row) for row in connection.execute(query).fetchall()]

        return {
            "members": rows("SELECT member_number, ppid, points FROM members ORDER BY 1"),
            "outgoing": rows("SELECT * FROM outgoing ORDER BY rowid"),
            "outbox": rows("SELECT * FROM outbox ORDER BY rowid"),
            "processed_events": rows("SELECT event_id, sequence FROM processed_events"),
            "applications": rows("SELECT * FROM crash_applications ORDER BY application_id"),
            "early_outcomes": rows("SELECT * FROM early_outcomes"),
        }
    finally:
        connection.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--partner", required=True)
    parser.add_argument("--seed", required=True, type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(name)s %(message)s"
    )
    config = json.loads(args.config.read_text())
    partner = Partner(config, args.partner, random.Random(args.seed))
    signal.signal(signal.SIGTERM, lambda _signum, _frame: partner.draining.set())
    return partner.run()


if __name__ == "__main__":
    raise SystemExit(main())
