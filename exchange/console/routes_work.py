"""The work screens: reconciliation uploads and breaks, disputes, and the audit log."""

from __future__ import annotations

from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from exchange.console import store, work
from exchange.console.app import Console, Form, form_route
from exchange.console.listing import date_range, page_of, plain_money, search_text
from exchange.console.routes_settlement import csv_response, wants_csv
from exchange.console.scope import NotFound, partner_ids, require_action, viewed_partner

ACTIONS = (
    "login",
    "logout",
    "reconciliation uploaded",
    "dispute opened",
    "dispute accepted",
    "dispute rejected",
    "export downloaded",
)


def routes(console: Console) -> list[Route]:
    return [
        Route("/reconciliation", lambda r: reconciliation_page(console, r, "")),
        form_route("/reconciliation", lambda r, f: upload(console, r, f)),
        Route("/disputes", lambda r: disputes_page(console, r)),
        Route("/disputes/new", lambda r: new_dispute_page(console, r, "")),
        form_route("/disputes", lambda r, f: open_dispute(console, r, f)),
        Route("/disputes/{dispute_id}", lambda r: dispute_page(console, r, "")),
        form_route("/disputes/{dispute_id}/resolve", lambda r, f: resolve(console, r, f)),
        Route("/audit", lambda r: audit_page(console, r)),
    ]


def reconciliation_page(
    console: Console, request: Request, message: str, status: int = 200
) -> Response:
    query = request.query_params
    with console.uow() as uow:
        principal = console.principal(request, uow)
        partner = viewed_partner(uow, principal, query.get("partner", ""))
        days = date_range(query, console.current_day(uow))
        partners = [partner] if partner else partner_ids(uow)
        today = console.current_day(uow)
        items = work.worklist(uow, partners, days.days, today)
        choices = partner_ids(uow) if principal.is_operator else []
    search = search_text(query)
    if search:
        items = [item for item in items if search in item.transfer_id]
    kind = query.get("kind", "")
    if kind:
        items = [item for item in items if item.kind == kind]
    if wants_csv(request):
        header = ("partner", "business_day", "kind", "transfer_id", "detail", "age_days")
        rows = [(i.partner_id, i.business_day, i.kind, i.transfer_id, i.detail, i.age_days)
                for i in items]  # fmt: skip
        return csv_response("breaks.csv", header, rows)
    counts: dict[str, int] = {}
    for item in items:
        counts[item.label] = counts.get(item.label, 0) + 1
    context = {
        "page": page_of(items, query),
        "counts": counts,
        "range": days,
        "search": search,
        "kind": kind,
        "kinds": work.BREAK_LABELS,
        "partner": partner or "",
        "partners": choices,
        "message": message,
        "upload_day": query.get("day", ""),
        "done": query.get("done", ""),
        "query": request.url.query,
    }
    return console.render(request, "reconciliation.html", context, status)


def upload(console: Console, request: Request, form: Form) -> Response:
    business_day = form.get("business_day")
    with console.uow() as uow:
        principal = console.principal(request, uow)
        if form.get("partner"):
            viewed_partner(uow, principal, form.get("partner"))  # a tampered field: 404
        try:
            outcome = work.upload(
                uow, console.clock, principal, business_day, form.files.get("file", b"")
            )
        except work.Refused as refused:
            return reconciliation_page(console, request, refused.message, 400)
    done = "new" if outcome.new else "same"
    target = f"/reconciliation?from={business_day}&to={business_day}&done={done}"
    return RedirectResponse(target, status_code=303)


def disputes_page(console: Console, request: Request) -> Response:
    query = request.query_params
    with console.uow() as uow:
        principal = console.principal(request, uow)
        days = date_range(query, console.current_day(uow))
        rows = [r for r in work.disputes_visible(uow, principal) if r.business_day in days.days]
    search = search_text(query)
    if search:
        rows = [r for r in rows if search in r.transfer_id or search in r.dispute_id]
    state = query.get("state", "")
    if state:
        rows = [r for r in rows if r.state == state]
    if wants_csv(request):
        header = ("dispute_id", "business_day", "transfer_id", "opened_by", "counterparty",
                  "currency", "recorded", "claimed", "state", "reason", "resolution",
                  "adjustment_day")  # fmt: skip
        flat = [(r.dispute_id, r.business_day, r.transfer_id, r.opened_by, r.counterparty,
                 r.currency, plain_money(r.recorded_minor, r.currency),
                 plain_money(r.claimed_minor, r.currency), r.state, r.reason,
                 r.resolution_reason, r.adjustment_business_day or "")
                for r in rows]  # fmt: skip
        return csv_response("disputes.csv", header, flat)
    context = {
        "page": page_of(rows, query),
        "range": days,
        "search": search,
        "state": state,
        "query": request.url.query,
    }
    return console.render(request, "disputes.html", context)


def new_dispute_page(
    console: Console, request: Request, message: str, status: int = 200
) -> Response:
    query = request.query_params
    values = {"business_day": query.get("day", ""), "transfer_id": query.get("transfer_id", "")}
    return _dispute_form(console, request, values, message, status)


def _dispute_form(
    console: Console, request: Request, values: dict[str, str], message: str, status: int
) -> Response:
    with console.uow() as uow:
        principal = console.principal(request, uow)
        partner = require_action(principal)
        line = work.own_line(uow, partner, values["business_day"], values["transfer_id"])
    context = {
        "line": line,
        "values": values,
        "message": message,
        "business_day": values["business_day"],
    }
    return console.render(request, "dispute_new.html", context, status)


def open_dispute(console: Console, request: Request, form: Form) -> Response:
    line = (form.get("business_day"), form.get("transfer_id"))
    claim = (form.get("claimed_amount"), form.get("reason"))
    with console.uow() as uow:
        principal = console.principal(request, uow)
        try:
            row = work.open_dispute(uow, console.clock, principal, line, claim)
        except work.Refused as refused:
            values = {"business_day": line[0], "transfer_id": line[1],
                      "claimed_amount": claim[0], "reason": claim[1]}  # fmt: skip
            return _dispute_form(console, request, values, refused.message, 400)
    return RedirectResponse(f"/disputes/{row.dispute_id}", status_code=303)


def dispute_page(console: Console, request: Request, message: str, status: int = 200) -> Response:
    with console.uow() as uow:
        principal = console.principal(request, uow)
        row = work.dispute(uow, principal, request.path_params["dispute_id"])
    context = {"dispute": row, "message": message}
    return console.render(request, "dispute.html", context, status)


def resolve(console: Console, request: Request, form: Form) -> Response:
    dispute_id = request.path_params["dispute_id"]
    accept = form.get("decision") == "accept"
    with console.uow() as uow:
        principal = console.principal(request, uow)
        work.dispute(uow, principal, dispute_id)  # not a party: 404 before anything else
        try:
            work.resolve(
                uow,
                console.clock,
                console.calendar,
                principal,
                (dispute_id, accept, form.get("reason")),
            )
        except work.Refused as refused:
            return dispute_page(console, request, refused.message, 400)
    return RedirectResponse(f"/disputes/{dispute_id}", status_code=303)


def audit_page(console: Console, request: Request) -> Response:
    query = request.query_params
    with console.uow() as uow:
        principal = console.principal(request, uow)
        if not principal.is_operator:
            raise NotFound
        days = date_range(query, console.current_day(uow))
        wanted = store.AuditFilter(
            since_us=_day_start_us(console, days.first.isoformat()),
            until_us=_day_start_us(console, (days.last + timedelta(days=1)).isoformat()),
            username=query.get("user", ""),
            action=query.get("action", ""),
            search=search_text(query),
        )
        rows = list(store.audit_entries(uow.session, wanted))
        users = store.usernames(uow.session)
    if wants_csv(request):
        header = ("time", "user", "partner", "action", "subject")
        flat = [(console.local_time(r.at_us), r.username, r.partner_id or "", r.action, r.subject)
                for r in rows]  # fmt: skip
        return csv_response("audit.csv", header, flat)
    context = {
        "page": page_of(rows, query),
        "range": days,
        "search": wanted.search,
        "user": wanted.username,
        "users": users,
        "action": wanted.action,
        "actions": ACTIONS,
        "query": request.url.query,
    }
    return console.render(request, "audit.html", context)


def _day_start_us(console: Console, business_day: str) -> int:
    """The instant a business day begins: the previous day's cut-off."""
    day = datetime.fromisoformat(business_day).date() - timedelta(days=1)
    return console.calendar.cutoff_us(day)
