"""Who sees what: the one place the console decides which partner a request may look at.

A partner user may name only its own partner; naming another is answered exactly like naming
one that does not exist (NotFound), so a tampered URL or form learns nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from exchange.adapters.sql.unit_of_work import SqlUnitOfWork
from exchange.console.auth import Principal
from exchange.domain.limits import PAGE_SIZE_MAX
from exchange.services import partners


class NotFound(Exception):
    """No such row for this user: missing, or another partner's."""


class Forbidden(Exception):
    """The user's role may not do this (a viewer uploading, say); the row itself is visible."""


def partner_ids(uow: SqlUnitOfWork) -> list[str]:
    """The directory's partner ids, through the hub's own handler."""
    found: list[str] = []
    after: str | None = ""
    while after is not None:
        page = partners.list_partners(uow, after, PAGE_SIZE_MAX)
        found.extend(entry.partner.partner_id for entry in page.entries)
        after = page.next_after_partner_id
    return found


def viewed_partner(uow: SqlUnitOfWork, principal: Principal, requested: str) -> str | None:
    """The partner a page shows: the user's own, or for an operator the one asked for (None:
    every partner)."""
    if principal.partner_id is not None:
        if requested and requested != principal.partner_id:
            raise NotFound
        return principal.partner_id
    if not requested:
        return None
    if requested not in partner_ids(uow):
        raise NotFound
    return requested


def one_partner(uow: SqlUnitOfWork, principal: Principal, requested: str) -> str:
    """Like viewed_partner, for pages about exactly one partner."""
    partner_id = viewed_partner(uow, principal, requested)
    if partner_id is None:
        raise NotFound
    return partner_id


def parties_visible(principal: Principal, *parties: str) -> bool:
    return principal.partner_id is None or principal.partner_id in parties


def require_action(principal: Principal) -> str:
    """The partner a finance user acts for; operators and viewers read only."""
    if not principal.may_act or principal.partner_id is None:
        raise Forbidden
    return principal.partner_id


def session_of(uow: SqlUnitOfWork) -> Session:
    return uow.session
