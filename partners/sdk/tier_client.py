"""Typed calls to TierService: ladders, recognition agreements and status matches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from coalition.v1 import tier_pb2
from partners.sdk.connection import HubConnection

SERVICE = "/coalition.v1.TierService/"


def _rules(rules: Sequence[tuple[str, str]]) -> list[tier_pb2.RecognitionRule]:
    return [
        tier_pb2.RecognitionRule(source_tier_code=source, target_tier_code=target)
        for source, target in rules
    ]


class TierClient:
    def __init__(self, connection: HubConnection) -> None:
        self.connection = connection

    def publish_tier_ladder(
        self,
        tiers: Sequence[tier_pb2.Tier],
        canonical_matching: bool,
        idempotency_key: str | None = None,
    ) -> int:
        """Publishes this partner's ladder as a new version; returns the version number."""
        response = self.connection.call(
            SERVICE + "PublishTierLadder",
            tier_pb2.PublishTierLadderRequest(tiers=tiers, canonical_matching=canonical_matching),
            tier_pb2.PublishTierLadderResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return response.version

    def propose_recognition(
        self,
        source_partner_id: str,
        target_partner_id: str,
        rules: Sequence[tuple[str, str]],
        validity_days: int,
        min_days_between_grants: int,
        idempotency_key: str | None = None,
    ) -> tier_pb2.RecognitionAgreement:
        """Proposes a new agreement version; `rules` are (source tier, target tier) pairs."""
        response = self.connection.call(
            SERVICE + "ProposeRecognition",
            tier_pb2.ProposeRecognitionRequest(
                source_partner_id=source_partner_id,
                target_partner_id=target_partner_id,
                rules=_rules(rules),
                validity_days=validity_days,
                min_days_between_grants=min_days_between_grants,
            ),
            tier_pb2.ProposeRecognitionResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return response.agreement

    def accept_recognition(
        self, agreement_id: str, version: int, idempotency_key: str | None = None
    ) -> tier_pb2.RecognitionAgreement:
        """Accepts one proposed version, named exactly so a later proposal cannot slip in."""
        response = self.connection.call(
            SERVICE + "AcceptRecognition",
            tier_pb2.AcceptRecognitionRequest(agreement_id=agreement_id, version=version),
            tier_pb2.AcceptRecognitionResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return response.agreement

    def report_member_tier(
        self,
        ppid: str,
        tier_code: str,
        expire_time: datetime,
        idempotency_key: str | None = None,
    ) -> None:
        """Reports a member's current tier here; `expire_time` must carry a time zone."""
        if expire_time.tzinfo is None or expire_time.utcoffset() is None:
            # A naive time would be read as UTC by protobuf: silently wrong for most callers.
            raise ValueError("expire_time must be time-zone aware")
        self.connection.call(
            SERVICE + "ReportMemberTier",
            tier_pb2.ReportMemberTierRequest(
                ppid=ppid, tier_code=tier_code, expire_time=expire_time
            ),
            tier_pb2.ReportMemberTierResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )

    def request_status_match(
        self, ppid: str, target_partner_id: str, idempotency_key: str | None = None
    ) -> tier_pb2.RequestStatusMatchResponse:
        """Asks for status at the target from the member's tier here; the target gets an event."""
        return self.connection.call(
            SERVICE + "RequestStatusMatch",
            tier_pb2.RequestStatusMatchRequest(ppid=ppid, target_partner_id=target_partner_id),
            tier_pb2.RequestStatusMatchResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )

    def get_tier_mapping(
        self, source_partner_id: str, target_partner_id: str
    ) -> tier_pb2.GetTierMappingResponse:
        return self.connection.call(
            SERVICE + "GetTierMapping",
            tier_pb2.GetTierMappingRequest(
                source_partner_id=source_partner_id, target_partner_id=target_partner_id
            ),
            tier_pb2.GetTierMappingResponse,
            changes_state=False,
        )
