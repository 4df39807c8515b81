"""Administration stages of the database-fault scenarios: rate agreements, partner keys and
programme totals, proposed, accepted, registered, revoked and reported by the partners.

A pair's versions are proposed one after another (each takes the next number) and only the
newest can be accepted; a partner rotates one key at a time (at most two are active); every
report names its own month.
"""

from __future__ import annotations

import datetime
import itertools

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import analytics_pb2 as apb
from coalition.v1 import exchange_pb2 as xpb
from coalition.v1 import partner_pb2 as ppb
from tests.reliability.fault_admin_calls import AdminCalls, Chains, Round, each
from tests.reliability.fault_load import Task

Pair = tuple[str, str]
PROPOSALS_PER_PAIR = 3
REPORTS_PER_PARTNER = 8
FIRST_REPORTED_YEAR = 2001


def rate_terms() -> xpb.RateTerms:
    terms = xpb.RateTerms(
        source_units=1000,
        destination_units=750,
        minimum_source_points=1000,
        increment_source_points=1000,
        maximum_source_points=100_000,
        member_daily_cap_source_points=1_000_000,
        settlement_currency_code="USD",
        price_per_destination_point="0.0040",
    )
    terms.effective_from.FromDatetime(datetime.datetime(2020, 1, 1))
    return terms


class RateStages:
    def __init__(self, calls: AdminCalls, pairs: tuple[Pair, ...]) -> None:
        self.calls = calls
        self.pairs = pairs
        self.outcome = calls.outcome

    def stages(self) -> list[tuple[str, Round]]:
        return [
            (
                "ProposeRateAgreement",
                lambda: [self._proposals(p, PROPOSALS_PER_PAIR) for p in self.pairs],
            ),
            ("AcceptRateAgreement", self._acceptances),
        ]

    def _proposals(self, pair: Pair, count: int) -> list[Task]:
        source, destination = pair
        request = xpb.ProposeRateAgreementRequest(
            source_partner_id=source, destination_partner_id=destination, terms=rate_terms()
        )

        def told(response: bytes) -> None:
            agreement = xpb.ProposeRateAgreementResponse.FromString(response).agreement
            version = (agreement.agreement_id, agreement.version)
            self.outcome.rates.setdefault(pair, []).append(version)

        return [self.calls.task("ProposeRateAgreement", source, request, told)] * count

    def _acceptances(self) -> Chains:
        """Only a pair's newest version can be accepted: one acceptance per pair a round."""
        stale = [p for p in self.pairs if self._newest(p) in self.outcome.rates_accepted]
        self.calls.setup([self._proposals(pair, 1) for pair in stale])
        tasks = []
        for pair in self.pairs:
            agreement_id, version = self._newest(pair)
            request = xpb.AcceptRateAgreementRequest(agreement_id=agreement_id, version=version)

            def told(_response: bytes, accepted: tuple[str, int] = (agreement_id, version)) -> None:
                self.outcome.rates_accepted.add(accepted)

            tasks.append(self.calls.task("AcceptRateAgreement", pair[1], request, told))
        return each(tasks)

    def _newest(self, pair: Pair) -> tuple[str, int]:
        return max(self.outcome.rates.get(pair, [("", 0)]), key=lambda version: version[1])


class KeyStages:
    """Each partner registers a second key, then revokes it; the first key signs throughout."""

    def __init__(self, calls: AdminCalls, partners: tuple[str, ...]) -> None:
        self.calls = calls
        self.partners = partners
        self.outcome = calls.outcome

    def stages(self) -> list[tuple[str, Round]]:
        return [("RegisterKey", self._registrations), ("RevokeKey", self._revocations)]

    def _registrations(self) -> Chains:
        self.calls.setup(each([self._revoke(p, k) for p, k in self._pending().items()]))
        return each([self._register(p) for p in self.partners])

    def _revocations(self) -> Chains:
        unrotated = [p for p in self.partners if p not in self._pending()]
        self.calls.setup(each([self._register(p) for p in unrotated]))
        return each([self._revoke(p, k) for p, k in self._pending().items()])

    def _pending(self) -> dict[str, str]:
        """partner -> its registered key not yet revoked."""
        return {
            partner_id: key_id
            for key_id, partner_id in self.outcome.keys_registered.items()
            if key_id not in self.outcome.keys_revoked
        }

    def _register(self, partner_id: str) -> Task:
        key = SigningKey.generate()
        proof = key.sign(
            wire.key_registration_bytes(partner_id=partner_id, public_key=key.public_key_bytes)
        )
        request = ppb.RegisterKeyRequest(public_key=key.public_key_bytes, proof_of_possession=proof)

        def told(response: bytes) -> None:
            key_id = ppb.RegisterKeyResponse.FromString(response).key.key_id
            self.outcome.keys_registered[key_id] = partner_id

        return self.calls.task("RegisterKey", partner_id, request, told)

    def _revoke(self, partner_id: str, key_id: str) -> Task:
        def told(_response: bytes) -> None:
            self.outcome.keys_revoked.add(key_id)

        return self.calls.task("RevokeKey", partner_id, ppb.RevokeKeyRequest(key_id=key_id), told)


class ProgrammeStages:
    def __init__(self, calls: AdminCalls, partners: tuple[str, ...]) -> None:
        self.calls = calls
        self.partners = partners
        self.outcome = calls.outcome
        self._months = itertools.count()

    def stages(self) -> list[tuple[str, Round]]:
        return [("ReportProgrammeTotals", self._reports)]

    def _reports(self) -> Chains:
        tasks = []
        for partner_id in self.partners:
            for _ in range(REPORTS_PER_PARTNER):
                tasks.append(self._report(partner_id, next(self._months)))
        return each(tasks)

    def _report(self, partner_id: str, month: int) -> Task:
        year, month_of_year = divmod(month, 12)
        period = f"{FIRST_REPORTED_YEAR + year:04d}-{month_of_year + 1:02d}"
        request = apb.ReportProgrammeTotalsRequest(
            period=period,
            points_issued=1_000 * (month + 1),
            points_redeemed=500 * (month + 1),
            points_expired=month,
            active_members=10 + month,
        )

        def told(_response: bytes) -> None:
            self.outcome.programme_reports.add((partner_id, period))

        return self.calls.task("ReportProgrammeTotals", partner_id, request, told)
