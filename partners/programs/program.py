"""A reference loyalty program: its own members and tiers, joined to the coalition via the SDK."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from coalition.v1 import event_pb2, tier_pb2
from partners.programs.store import Member, ProgramStore, StoreTransaction
from partners.sdk.connection import HubConnection
from partners.sdk.events import EventClient, FeedConsumer, FeedRunResult
from partners.sdk.identity_client import IdentityClient
from partners.sdk.tier_client import TierClient

log = logging.getLogger(__name__)


class ProgramError(Exception):
    """A refusal by the program itself, before or instead of asking the hub."""


class UnknownMember(ProgramError):
    pass


class MemberAlreadyEnrolled(ProgramError):
    pass


class UnknownTier(ProgramError):
    pass


class UnsupportedEvent(ProgramError):
    """A verified event of a kind this program cannot apply; the feed stops rather than lose it."""


# Applies one verified event inside the transaction that records it as processed.
EventHandler = Callable[[StoreTransaction, event_pb2.EventPayload], None]


def apply_tier_granted(transaction: StoreTransaction, payload: event_pb2.EventPayload) -> None:
    grant = payload.tier_granted
    member = transaction.member_by_ppid(grant.ppid)
    if member is None:
        log.info("event %s: tier grant for a ppid with no member; skipped", payload.event_id)
        return
    expires_at = grant.expire_time.ToDatetime(tzinfo=UTC)
    transaction.set_tier(member.member_number, grant.tier_code, expires_at)


def apply_member_erased(transaction: StoreTransaction, payload: event_pb2.EventPayload) -> None:
    member = transaction.member_by_ppid(payload.member_erased.ppid)
    if member is None:
        log.info("event %s: erasure for a ppid with no member; skipped", payload.event_id)
        return
    transaction.delete_member(member.member_number)


def apply_member_unlinked(transaction: StoreTransaction, payload: event_pb2.EventPayload) -> None:
    """Linking lives at the hub; the member's account here is unchanged."""
    log.info("event %s: a member's account was unlinked from the coalition", payload.event_id)


# Keyed by the EventPayload `body` oneof name; new event kinds (transfers) add entries here.
EVENT_HANDLERS: Mapping[str, EventHandler] = {
    "tier_granted": apply_tier_granted,
    "member_erased": apply_member_erased,
    "member_unlinked": apply_member_unlinked,
}


class ProgramEventSink:
    """The EventSink of a program: each event's effect and its id commit together or not at all."""

    def __init__(
        self, store: ProgramStore, handlers: Mapping[str, EventHandler] = EVENT_HANDLERS
    ) -> None:
        self.store = store
        self.handlers = handlers

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


class LoyaltyProgram:
    """One brand's loyalty back end. Member numbers stay here; the hub only ever sees ppids.

    Use `sync_feed` or `run_feed`, not both at once: they share one feed position.
    """

    def __init__(
        self,
        partner_id: str,
        store_path: str | Path,
        connection: HubConnection,
        hub_public_keys: dict[str, bytes],
        ladder: list[tier_pb2.Tier],
    ) -> None:
        if connection.partner_id != partner_id:
            raise ValueError(f"the connection signs as {connection.partner_id}, not {partner_id}")
        self.partner_id = partner_id
        self.ladder = list(ladder)
        self.store = ProgramStore(store_path)
        self.identity = IdentityClient(connection)
        self.tiers = TierClient(connection)
        self.events = EventClient(connection)
        self.sink = ProgramEventSink(self.store)
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

    def sync_feed(self) -> int:
        """Applies everything waiting in the feed; returns how many events were applied."""
        return self.feed.drain()

    def run_feed(self, stop: threading.Event) -> FeedRunResult:
        """Follows the feed stream until `stop` is set (run it on its own thread)."""
        return self.feed.run(stop)

    def _ppid(self, member_number: str) -> str:
        return self._require(self.store.member(member_number), member_number).ppid

    @staticmethod
    def _require(member: Member | None, member_number: str) -> Member:
        if member is None:
            raise UnknownMember(member_number)
        return member
