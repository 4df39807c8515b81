"""One transfer engine: a quote, a single transfer and a batch entry are priced by one function.

`price_transfer` holds the rules and their order; where its facts come from is the only thing
that differs. A quote reads them through the unit of work as it goes (`UnitOfWorkFacts`); a
batch reads them once for all its entries (`BatchFacts`), which is also how a single inline
transfer runs (a batch of one), so its reads are the same few statements at any size.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypedDict

from exchange.domain import limits
from exchange.domain.errors import DomainError, ErrorCode, FieldChecks, invalid
from exchange.domain.members import PPID_PATTERN, MemberId, check_ppid, member_not_found
from exchange.domain.partners import PARTNER_ID_PATTERN
from exchange.domain.ports import UnitOfWork
from exchange.domain.rates import Pricing as Amounts
from exchange.domain.rates import RateAgreement, effective_version, price
from exchange.domain.tiers import DAY_US
from exchange.domain.transfers import Quote, Transfer, TransferKind, TransferState
from exchange.services.tiers import check_partner_field


@dataclass(frozen=True, kw_only=True)
class TransferRequest:
    """A transfer to price by the agreement in force: whose member, where, how many points."""

    caller: str
    ppid: str
    destination_partner_id: str
    source_points: int


@dataclass(frozen=True, kw_only=True)
class Pricing:
    """Everything the agreement in force says about one member's transfer, checked."""

    member: MemberId
    counterpart: MemberId
    agreement: RateAgreement
    amounts: Amounts


class PricingFacts(Protocol):
    """What pricing needs to know about one caller's members and destinations, now."""

    def member(self, ppid: str) -> MemberId | None: ...

    def destination_refusal(self, destination: str) -> DomainError | None: ...

    def counterpart(self, member: MemberId, destination: str) -> MemberId | None: ...

    def agreement(self, destination: str) -> RateAgreement | None: ...

    def points_used_today(self, cmid: str, destination: str) -> int: ...


def check_request_fields(request: TransferRequest) -> None:
    """Every bad field of the request at once, before anything is read."""
    checks = FieldChecks()
    checks.require(
        bool(PPID_PATTERN.fullmatch(request.ppid)), "ppid", "is not a ppid issued by this hub"
    )
    checks.require(
        bool(PARTNER_ID_PATTERN.fullmatch(request.destination_partner_id)),
        "destination_partner_id",
        "is not a partner id",
    )
    checks.require(
        0 < request.source_points <= limits.TRANSFER_POINTS_MAX,
        "source_points",
        "must be a positive number of points",
    )
    checks.raise_if_any()


def check_daily_cap(agreement: RateAgreement, used: int, points: int) -> None:
    cap = agreement.terms.member_daily_cap_source_points
    if used + points > cap:
        raise DomainError(
            ErrorCode.DAILY_CAP_EXCEEDED,
            f"this member may move {cap} points a day to this partner; {used} are used today",
        )


def price_transfer(
    facts: PricingFacts, request: TransferRequest, now_us: int, fee_basis_points: int
) -> Pricing:
    """Checks one request and prices it under the agreement in force, or refuses it.

    The order of the refusals is the contract: points, ppid, member, destination, link,
    agreement, amount, daily cap. Nothing is written.
    """
    if not 0 < request.source_points <= limits.TRANSFER_POINTS_MAX:
        raise invalid("source_points", "must be a positive number of points")
    member = facts.member(check_ppid(request.ppid))
    if member is None:
        raise member_not_found()
    destination = request.destination_partner_id
    refusal = facts.destination_refusal(destination)
    if refusal is not None:
        raise refusal
    counterpart = facts.counterpart(member, destination)
    if counterpart is None:
        raise DomainError(ErrorCode.NOT_LINKED, "the member is not linked at that partner")
    agreement = facts.agreement(destination)
    if agreement is None:
        raise DomainError(ErrorCode.NO_RATE_AGREEMENT, "no accepted rate agreement in force")
    amounts = price(agreement.terms, request.source_points, now_us, fee_basis_points)
    used = facts.points_used_today(member.cmid, destination)
    check_daily_cap(agreement, used, amounts.source_points)
    return Pricing(member=member, counterpart=counterpart, agreement=agreement, amounts=amounts)


class _Terms(TypedDict):
    """The fields a quote and its transfer share: who, where, how much, under which version."""

    source_partner_id: str
    destination_partner_id: str
    cmid: str
    source_ppid: str
    destination_ppid: str
    source_points: int
    destination_points: int
    bonus_points: int
    currency: str
    settlement_amount_minor: int
    fee_minor: int
    agreement_id: str
    agreement_version: int


def _terms(pricing: Pricing) -> _Terms:
    member, counterpart = pricing.member, pricing.counterpart
    amounts, agreement = pricing.amounts, pricing.agreement
    return _Terms(
        source_partner_id=member.partner_id,
        destination_partner_id=counterpart.partner_id,
        cmid=member.cmid,
        source_ppid=member.ppid,
        destination_ppid=counterpart.ppid,
        source_points=amounts.source_points,
        destination_points=amounts.destination_points,
        bonus_points=amounts.bonus_points,
        currency=agreement.terms.currency,
        settlement_amount_minor=amounts.settlement_amount_minor,
        fee_minor=amounts.fee_minor,
        agreement_id=agreement.agreement_id,
        agreement_version=agreement.version,
    )


def pending_transfer(
    pricing: Pricing, *, now_us: int, timeout_s: int, quote_id: str | None = None
) -> Transfer:
    """A new transfer on these terms, waiting for its destination's answer."""
    return Transfer(
        transfer_id="tr_" + secrets.token_hex(12),
        kind=TransferKind.TRANSFER,
        state=TransferState.PENDING,
        quote_id=quote_id,
        original_transfer_id=None,
        created_at_us=now_us,
        timeout_at_us=now_us + timeout_s * 1_000_000,
        **_terms(pricing),
    )


def new_quote(pricing: Pricing, now_us: int) -> Quote:
    """An unsealed quote for these terms, valid for QUOTE_TTL_S from `now_us`."""
    return Quote(
        quote_id="qt_" + secrets.token_hex(12),
        created_at_us=now_us,
        expires_at_us=now_us + limits.QUOTE_TTL_S * 1_000_000,
        payload=b"",
        signature=b"",
        **_terms(pricing),
    )


def quoted_pricing(quote: Quote, agreement: RateAgreement) -> Pricing:
    """The terms a quote fixed, as the engine's pricing of its transfer."""
    assert agreement.terms.currency == quote.currency, "a quote keeps its agreement's currency"
    return Pricing(
        member=MemberId(quote.source_ppid, quote.source_partner_id, quote.cmid),
        counterpart=MemberId(quote.destination_ppid, quote.destination_partner_id, quote.cmid),
        agreement=agreement,
        amounts=Amounts(
            quote.source_points,
            quote.destination_points,
            quote.bonus_points,
            quote.settlement_amount_minor,
            quote.fee_minor,
        ),
    )


def _destination_refusal(uow: UnitOfWork, caller: str, destination: str) -> DomainError | None:
    try:
        check_partner_field(uow, destination, "destination_partner_id")
    except DomainError as refusal:
        return refusal
    if destination == caller:
        return DomainError(ErrorCode.SAME_PROGRAM, "points cannot move into their own program")
    return None


def _linked_at(linked: Iterable[MemberId], destination: str) -> MemberId | None:
    return next((m for m in linked if m.partner_id == destination), None)


def _day_start_us(now_us: int) -> int:
    return now_us - now_us % DAY_US


class UnitOfWorkFacts:
    """Facts read through the unit of work when asked: one request at a time, no locks."""

    def __init__(self, uow: UnitOfWork, caller: str, now_us: int) -> None:
        self.uow, self.caller, self.now_us = uow, caller, now_us

    def member(self, ppid: str) -> MemberId | None:
        return self.uow.members.get_ppid(self.caller, ppid)

    def destination_refusal(self, destination: str) -> DomainError | None:
        return _destination_refusal(self.uow, self.caller, destination)

    def counterpart(self, member: MemberId, destination: str) -> MemberId | None:
        return _linked_at(self.uow.members.ppids_of(member.cmid), destination)

    def agreement(self, destination: str) -> RateAgreement | None:
        return effective_version(self.uow.rates.versions(self.caller, destination), self.now_us)

    def points_used_today(self, cmid: str, destination: str) -> int:
        return self.uow.transfers.source_points_since(
            cmid, self.caller, destination, _day_start_us(self.now_us)
        )


@dataclass
class BatchFacts:
    """What a batch reads up front. Daily totals grow as the batch's own transfers start."""

    members: dict[str, MemberId]
    linked: dict[str, list[MemberId]]
    refusals: dict[str, DomainError | None]
    agreements: dict[str, RateAgreement | None]
    used: dict[tuple[str, str], int]

    def member(self, ppid: str) -> MemberId | None:
        return self.members.get(ppid)

    def destination_refusal(self, destination: str) -> DomainError | None:
        return self.refusals[destination]

    def counterpart(self, member: MemberId, destination: str) -> MemberId | None:
        return _linked_at(self.linked.get(member.cmid, []), destination)

    def agreement(self, destination: str) -> RateAgreement | None:
        return self.agreements[destination]

    def points_used_today(self, cmid: str, destination: str) -> int:
        return self.used[(cmid, destination)]

    def count(self, pricing: Pricing) -> None:
        """A started transfer counts toward its member's daily total for later entries."""
        key = (pricing.member.cmid, pricing.counterpart.partner_id)
        self.used[key] += pricing.amounts.source_points


def read_batch_facts(
    uow: UnitOfWork, caller: str, requests: Sequence[TransferRequest], now_us: int
) -> BatchFacts:
    """Every member, link, destination, agreement and daily total the requests name, once."""
    members = uow.members.get_ppids(caller, [r.ppid for r in requests])
    cmids = sorted({member.cmid for member in members.values()})
    # Locked before the daily totals are read: concurrent transfers of a member queue here.
    uow.members.lock_members(cmids)
    destinations = sorted({r.destination_partner_id for r in requests})
    refusals = {d: _destination_refusal(uow, caller, d) for d in destinations}
    agreements: dict[str, RateAgreement | None] = {}
    used: dict[tuple[str, str], int] = defaultdict(int)
    for destination in (d for d in destinations if refusals[d] is None):
        agreements[destination] = effective_version(uow.rates.versions(caller, destination), now_us)
        totals = uow.transfers.source_points_since_by_member(
            cmids, caller, destination, _day_start_us(now_us)
        )
        used.update({(cmid, destination): total for cmid, total in totals.items()})
    return BatchFacts(members, uow.members.ppids_of_members(cmids), refusals, agreements, used)
