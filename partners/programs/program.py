"""A reference loyalty program: its own members and tiers, joined to the coalition via the SDK."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from coalition.v1 import event_pb2, tier_pb2
from partners.programs.errors import (
    InsufficientPoints,
    MemberAlreadyEnrolled,
    ProgramError,
    UnknownMember,
    UnknownTier,
    UnsupportedEvent,
)
from partners.programs.handlers import (
    EVENT_HANDLERS,
    CreditPolicy,
    EventHandler,
    accept_every_credit,
    apply_member_erased,
    apply_member_unlinked,
    apply_tier_granted,
    event_handlers,
    refuse_every_credit,
)
from partners.programs.store import Member, ProgramStore
from partners.programs.transfer_desk import TransferDesk
from partners.programs.transfer_store import OutboxEntry, OutgoingTransfer
from partners.sdk.connection import HubConnection
from partners.sdk.events import EventClient, FeedConsumer, FeedRunResult
from partners.sdk.exchange_client import ExchangeClient
from partners.sdk.identity_client import IdentityClient
from partners.sdk.tier_client import TierClient

__all__ = [
    "EVENT_HANDLERS",
    "CreditPolicy",
    "EventHandler",
    "InsufficientPoints",
    "LoyaltyProgram",
    "MemberAlreadyEnrolled",
    "ProgramError",
    "ProgramEventSink",
    "UnknownMember",
    "UnknownTier",
    "UnsupportedEvent",
    "accept_every_credit",
    "apply_member_erased",
    "apply_member_unlinked",
    "apply_tier_granted",
    "refuse_every_credit",
]


class ProgramEventSink:
    """The EventSink of a program: each event's effect and its id commit together or not at all."""

    def __init__(
        self, store: ProgramStore, handlers: Mapping[str, EventHandler] = EVENT_HANDLERS
    ) -> None:
        self.store = store
        self.handlers = handlers
        # Called after each event's transaction commits (run_feed sends answers from here).
        self.after_apply: Callable[[], object] | None = None

    def seen(self, event_id: str) -> bool:
        return self.store.event_recorded(event_id)

    def apply(self, payload: event_pb2.EventPayload) -> None:
        body = payload.WhichOneof("body")
        handler = self.handlers.get(body or "")
        if handler is None:
            raise UnsupportedEvent(f"event {payload.event_id} has an unsupported body: {body}")
        with self.store.transaction() as transaction:
            # Recording first makes a racing duplicate a no-op rather than a second effect.
            if not transaction.record_event(payload.event_id, payload.sequence):
                return
            handler(transaction, payload)
        if self.after_apply is not None:
            self.after_apply()


class LoyaltyProgram:
    """One brand's loyalty back end. Member numbers stay here; the hub only ever sees ppids.

    Use `sync_feed` or `run_feed`, not both at once: they share one feed position.
    `credit_policy` decides which incoming credits to refuse; it may be swapped at any time.
    """

    def __init__(
        self,
        partner_id: str,
        store_path: str | Path,
        connection: HubConnection,
        hub_public_keys: dict[str, bytes],
        ladder: list[tier_pb2.Tier],
        credit_policy: CreditPolicy = accept_every_credit,
    ) -> None:
        if connection.partner_id != partner_id:
            raise ValueError(f"the connection signs as {connection.partner_id}, not {partner_id}")
        self.partner_id = partner_id
        self.ladder = list(ladder)
        self.store = ProgramStore(store_path)
        self.identity = IdentityClient(connection)
        self.tiers = TierClient(connection)
        self.events = EventClient(connection)
        self.exchange = ExchangeClient(connection)
        self.transfers = TransferDesk(partner_id, self.store, self.exchange)
        self.credit_policy = credit_policy
        # The policy is looked up per event, so a test can make a live program refuse credits.
        handlers = event_handlers(lambda member, points: self.credit_policy(member, points))
        self.sink = ProgramEventSink(self.store, handlers)
        self.feed = FeedConsumer(self.events, hub_public_keys, partner_id, self.sink)

    def enrol(self, member_number: str, points: int = 0) -> str:
        """Joins a member to the coalition; returns the ppid the hub issued for them."""
        if not member_number:
            raise ValueError("member_number must not be empty")
        if points < 0:
            raise ValueError("points must not be negative")
        if self.store.member(member_number) is not None:
            raise MemberAlreadyEnrolled(member_number)
        ppid = self.identity.enroll_member()
        with self.store.transaction() as transaction:
            transaction.add_member(member_number, ppid, points)
        return ppid

    def link_code(self, member_number: str) -> str:
        return self.identity.create_link_code(self._ppid(member_number)).link_code

    def redeem_link_code(self, member_number: str, code: str) -> list[str]:
        return self.identity.redeem_link_code(code, self._ppid(member_number))

    def report_tier(self, member_number: str, tier_code: str, expires: datetime) -> None:
        """Sets the member's tier here, then tells the hub (a failed report can be retried)."""
        if tier_code not in {tier.code for tier in self.ladder}:
            raise UnknownTier(tier_code)
        if expires.utcoffset() is None:
            raise ValueError("expires must be time-zone aware")
        with self.store.transaction() as transaction:
            member = self._require(transaction.member(member_number), member_number)
            transaction.set_tier(member_number, tier_code, expires)
        self.tiers.report_member_tier(member.ppid, tier_code, expires)

    def request_status_match(
        self, member_number: str, target_partner_id: str
    ) -> tier_pb2.RequestStatusMatchResponse:
        return self.tiers.request_status_match(self._ppid(member_number), target_partner_id)

    def unlink(self, member_number: str, partner_id: str = "") -> list[str]:
        return self.identity.unlink(self._ppid(member_number), partner_id)

    def erase(self, member_number: str) -> int:
        """Erases the member coalition-wide, then here; returns how many partners were told."""
        notified = self.identity.erase_member(self._ppid(member_number))
        with self.store.transaction() as transaction:
            transaction.delete_member(member_number)
        return notified

    def publish_ladder(self, canonical_matching: bool = True) -> int:
        return self.tiers.publish_tier_ladder(self.ladder, canonical_matching)

    def member(self, member_number: str) -> Member | None:
        return self.store.member(member_number)

    def balance(self, member_number: str) -> int:
        return self._require(self.store.member(member_number), member_number).points

    def transfer_out(
        self, member_number: str, destination_partner_id: str, points: int
    ) -> OutgoingTransfer:
        """Moves a member's points to the same member at another brand (see TransferDesk)."""
        return self.transfers.transfer_out(member_number, destination_partner_id, points)

    def request_reversal(self, transfer_id: str) -> OutgoingTransfer:
        return self.transfers.request_reversal(transfer_id)

    def resume_outgoing(self) -> list[OutgoingTransfer]:
        """After a crash or an outage: asks the hub again, same keys, for unacknowledged ones."""
        return self.transfers.resume_outgoing()

    def flush_outbox(self) -> int:
        """Sends queued confirmations and rejections; returns how many the hub has now."""
        return self.transfers.flush_outbox()

    def outgoing(self, transfer_id: str) -> OutgoingTransfer | None:
        return self.store.outgoing_by_transfer(transfer_id)

    def outbox(self) -> list[OutboxEntry]:
        return self.store.outbox()

    def sync_feed(self) -> int:
        """Applies everything waiting in the feed, then answers the hub; returns events applied."""
        applied = self.feed.drain()
        self.flush_outbox()
        return applied

    def run_feed(self, stop: threading.Event) -> FeedRunResult:
        """Follows the feed stream until `stop` is set (run it on its own thread), answering
        the hub after each event, and again on every reconnect and while the feed is quiet:
        an answer an outage kept queued goes as soon as the hub is back, not with the next
        event."""
        self.sink.after_apply = self.flush_outbox
        self.feed.on_quiet = self.flush_outbox
        try:
            return self.feed.run(stop)
        finally:
            self.sink.after_apply = None
            self.feed.on_quiet = None

    def _ppid(self, member_number: str) -> str:
        return self._require(self.store.member(member_number), member_number).ppid

    @staticmethod
    def _require(member: Member | None, member_number: str) -> Member:
        if member is None:
            raise UnknownMember(member_number)
        return member
