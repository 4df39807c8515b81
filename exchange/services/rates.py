"""Handlers for proposing, accepting and listing rate agreements."""

from __future__ import annotations

import secrets
from dataclasses import replace

from exchange.domain.agreements import (
    AgreementState,
    check_acceptance,
    check_version,
    next_version,
)
from exchange.domain.errors import DomainError, ErrorCode, invalid
from exchange.domain.ports import Clock, UnitOfWork
from exchange.domain.rates import RateAgreement, RateTerms, check_terms
from exchange.services.tiers import check_partner_field


def propose_rate_agreement(
    uow: UnitOfWork, clock: Clock, caller: str, source: str, destination: str, terms: RateTerms
) -> RateAgreement:
    check_partner_field(uow, source, "source_partner_id")
    check_partner_field(uow, destination, "destination_partner_id")
    if source == destination:
        raise invalid("destination_partner_id", "must differ from source_partner_id")
    if caller not in (source, destination):
        raise DomainError(ErrorCode.NOT_A_PARTY, "only the two partners may propose terms")
    check_terms(terms)
    versions = uow.rates.versions(source, destination)
    agreement = RateAgreement(
        agreement_id=uow.rates.agreement_id_for(source, destination)
        or "rt_" + secrets.token_hex(8),
        version=next_version(versions),
        source_partner_id=source,
        destination_partner_id=destination,
        terms=terms,
        state=AgreementState.PROPOSED,
        proposed_by=caller,
        proposed_at_us=clock.now_us(),
    )
    uow.rates.add(agreement)
    return agreement


def accept_rate_agreement(
    uow: UnitOfWork, clock: Clock, caller: str, agreement_id: str, version: int
) -> RateAgreement:
    """The counterparty accepts one proposed version; versions never change otherwise."""
    check_version(version)
    agreement = uow.rates.get(agreement_id, version)
    if agreement is None:
        raise DomainError(ErrorCode.RATE_AGREEMENT_NOT_FOUND, "no such agreement version")
    versions = uow.rates.versions(*agreement.parties)
    check_acceptance(agreement, caller, versions, ErrorCode.RATE_AGREEMENT_NOT_FOUND)
    now_us = clock.now_us()
    uow.rates.mark_accepted(agreement_id, version, now_us)
    return replace(agreement, state=AgreementState.ACCEPTED, accepted_at_us=now_us)


def list_rate_agreements(
    uow: UnitOfWork, caller: str, after: tuple[str, int] | None, page_size: int
) -> tuple[list[RateAgreement], tuple[str, int] | None]:
    found = uow.rates.list_for(caller, after, page_size + 1)
    page = found[:page_size]
    has_more = len(found) > page_size
    return page, ((page[-1].agreement_id, page[-1].version) if has_more else None)
