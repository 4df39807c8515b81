"""What the finance teams do: reconciliation uploads, the breaks worklist, and disputes.

Each action runs the hub's own handler (exchange.services.disputes) in one unit of work with
its audit entry, so an action is logged exactly when it happened.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from exchange.adapters.sql.unit_of_work import SqlUnitOfWork
from exchange.console import store
from exchange.console.auth import Principal
from exchange.console.scope import NotFound, parties_visible, partner_ids, require_action
from exchange.console.tables import ConsoleUploadRow
from exchange.domain.disputes import Dispute
from exchange.domain.errors import DomainError, ErrorCode
from exchange.domain.ports import Clock
from exchange.domain.rates import CURRENCY_MINOR_UNITS
from exchange.services import disputes, statements
from settlement.calendar import CoalitionCalendar
from settlement.model import BreakKind
from settlement.reconciliation import ReconciliationInputError, breaks_csv, parse_partner_csv

BREAK_LABELS = {
    BreakKind.MISSING_AT_HUB.value: "Missing at hub",
    BreakKind.MISSING_AT_PARTNER.value: "Missing at partner",
    BreakKind.AMOUNT_MISMATCH.value: "Amount mismatch",
    BreakKind.DUPLICATE.value: "Duplicate",
    BreakKind.TIMING.value: "Timing (across cut-off)",
    BreakKind.NO_DATA.value: "No data",
}
_DECIMAL = re.compile(r"([0-9]{1,15})(?:\.([0-9]+))?")
NOT_FOUND_CODES = (ErrorCode.RECORD_NOT_FOUND, ErrorCode.DISPUTE_NOT_FOUND, ErrorCode.NOT_SETTLED)


class Refused(Exception):
    """An action the user can correct; the message says how. Nothing was stored."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class UploadOutcome:
    reconciliation_id: str
    break_count: int
    new: bool


def upload(
    uow: SqlUnitOfWork, clock: Clock, principal: Principal, business_day: str, data: bytes
) -> UploadOutcome:
    partner_id = require_action(principal)
    try:
        records = parse_partner_csv(data)
    except ReconciliationInputError as error:
        raise Refused(f"The file was not accepted: {error}. Nothing was stored.") from None
    try:
        reconciliation_id, breaks = disputes.submit_reconciliation(
            uow, clock, partner_id, business_day, records
        )
    except DomainError as error:
        raise Refused(f"{error.message}. Nothing was stored.") from None
    new = store.store_upload(
        uow.session,
        ConsoleUploadRow(
            reconciliation_id=reconciliation_id,
            partner_id=partner_id,
            business_day=business_day,
            breaks_csv=breaks_csv(breaks),
            uploaded_by=principal.username,
            uploaded_at_us=clock.now_us(),
        ),
    )
    subject = f"{business_day} {reconciliation_id}: {len(breaks)} break(s)"
    store.audit(uow.session, clock.now_us(), principal.who, "reconciliation uploaded", subject)
    uow.commit()
    return UploadOutcome(reconciliation_id, len(breaks), new)


@dataclass(frozen=True)
class WorkItem:
    partner_id: str
    business_day: str
    kind: str
    transfer_id: str
    detail: str
    age_days: int

    @property
    def label(self) -> str:
        return BREAK_LABELS.get(self.kind, self.kind)


def worklist(
    uow: SqlUnitOfWork, partners: list[str], days: list[str], today: date
) -> list[WorkItem]:
    """The breaks of each (partner, day)'s newest upload, by kind, oldest first within it."""
    items = []
    for upload_row in store.latest_uploads(uow.session, partners, days):
        age = (today - date.fromisoformat(upload_row.business_day)).days
        reader = csv.reader(io.StringIO(upload_row.breaks_csv.decode("utf-8")))
        next(reader, None)
        for kind, transfer_id, detail in reader:
            items.append(
                WorkItem(
                    upload_row.partner_id, upload_row.business_day, kind, transfer_id, detail, age
                )
            )
    order = list(BREAK_LABELS)
    return sorted(items, key=lambda i: (order.index(i.kind), -i.age_days, i.transfer_id))


def minor_units(text: str, currency: str) -> int:
    """ "12.34" in the currency's units -> 1234; refuses what is not an exact amount."""
    exponent = CURRENCY_MINOR_UNITS.get(currency, 0)
    match = _DECIMAL.fullmatch(text.strip().replace(",", ""))
    if match is None or len(match.group(2) or "") > exponent:
        places = f"at most {exponent} decimal places" if exponent else "no decimals"
        raise Refused(f"Write the amount as a plain number with {places}, like 12.50.")
    whole, fraction = str(match.group(1)), str(match.group(2) or "").ljust(exponent, "0")
    scale: int = 10**exponent
    return int(whole) * scale + (int(fraction) if fraction else 0)


def open_dispute(
    uow: SqlUnitOfWork,
    clock: Clock,
    principal: Principal,
    line: tuple[str, str],
    claim: tuple[str, str],
) -> Dispute:
    partner_id = require_action(principal)
    business_day, transfer_id = line
    own = own_line(uow, partner_id, business_day, transfer_id)
    claimed_text, reason = claim
    command = disputes.OpenDispute(
        partner_id,
        business_day,
        transfer_id,
        minor_units(claimed_text, own.record.currency),
        own.record.currency,
        reason.strip(),
    )
    row = _run(lambda: disputes.open_dispute(uow, clock, command))
    store.audit(uow.session, clock.now_us(), principal.who, "dispute opened", row.dispute_id)
    uow.commit()
    return row


def own_line(
    uow: SqlUnitOfWork, partner_id: str, business_day: str, transfer_id: str
) -> statements.StatementLine:
    try:
        lines = statements.statement_lines(uow, partner_id, business_day)
        found = next((ln for ln in lines if ln.record.transfer_id == transfer_id), None)
    except DomainError:
        found = None
    if found is None:
        raise NotFound
    return found


def resolve(
    uow: SqlUnitOfWork,
    clock: Clock,
    calendar: CoalitionCalendar,
    principal: Principal,
    decision: tuple[str, bool, str],
) -> Dispute:
    partner_id = require_action(principal)
    dispute_id, accept, reason = decision
    row = _run(
        lambda: disputes.resolve_dispute(
            uow, clock, calendar, partner_id, dispute_id, (accept, reason.strip())
        )
    )
    action = "dispute accepted" if accept else "dispute rejected"
    store.audit(uow.session, clock.now_us(), principal.who, action, dispute_id)
    uow.commit()
    return row


def _run(handler: Callable[[], Dispute]) -> Dispute:
    try:
        row = handler()
    except DomainError as error:
        if error.code in NOT_FOUND_CODES:
            raise NotFound from None
        raise Refused(error.message[:1].upper() + error.message[1:] + ".") from None
    return row


def disputes_visible(uow: SqlUnitOfWork, principal: Principal) -> list[Dispute]:
    """Newest first: a partner's own (opened or against it); every one for an operator."""
    partners = [principal.partner_id] if principal.partner_id else partner_ids(uow)
    seen: dict[str, Dispute] = {}
    for partner_id in partners:
        for row in disputes.disputes_of(uow, partner_id):
            seen[row.dispute_id] = row
    return sorted(seen.values(), key=lambda r: (r.opened_at_us, r.dispute_id), reverse=True)


def dispute(uow: SqlUnitOfWork, principal: Principal, dispute_id: str) -> Dispute:
    partners = [principal.partner_id] if principal.partner_id else partner_ids(uow)
    for partner_id in partners:
        for row in disputes.disputes_of(uow, partner_id):
            if row.dispute_id == dispute_id and parties_visible(
                principal, row.opened_by, row.counterparty
            ):
                return row
    raise NotFound
