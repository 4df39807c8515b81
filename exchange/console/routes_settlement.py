"""The settlement screens: runs, positions, statements and the files of a day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from exchange.adapters.sql.unit_of_work import SqlUnitOfWork
from exchange.console import finance, store
from exchange.console.app import Console
from exchange.console.chart import net_chart
from exchange.console.listing import (
    DateRange,
    csv_bytes,
    date_range,
    page_of,
    plain_money,
    search_text,
)
from exchange.console.scope import NotFound, one_partner, partner_ids, viewed_partner
from exchange.console.verification import CheckedLine, CheckedStatement, checked_statement
from exchange.domain.errors import DomainError
from settlement.model import HUB_PARTICIPANT

CHART_SPANS_DAYS = (30, 90)
CONTENT_TYPES = {".csv": "text/csv", ".json": "application/json", ".xml": "application/xml"}


def csv_response(name: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Response:
    return Response(
        csv_bytes(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


def wants_csv(request: Request) -> bool:
    return request.query_params.get("format") == "csv"


def routes(console: Console) -> list[Route]:
    return [
        Route("/runs", lambda r: runs_page(console, r)),
        Route("/runs/{day}/verify", lambda r: verify_fragment(console, r)),
        Route("/positions", lambda r: positions_page(console, r)),
        Route("/statement", lambda r: statement_page(console, r)),
        Route("/files/{day}/{name}", lambda r: download(console, r)),
    ]


def _range(console: Console, request: Request, uow: SqlUnitOfWork) -> DateRange:
    return date_range(request.query_params, console.current_day(uow))


def runs_page(console: Console, request: Request) -> Response:
    with console.uow() as uow:
        principal = console.principal(request, uow)
        partner = viewed_partner(uow, principal, request.query_params.get("partner", ""))
        days = _range(console, request, uow)
        search = search_text(request.query_params)
        rows = finance.runs(uow, days.days, partner)
        if search:
            rows = [
                row
                for row in rows
                if finance.day_has_transfer(uow, row.business_day, search, partner)
            ]
        choices = partner_ids(uow) if principal.is_operator else []
    if wants_csv(request):
        header = ("business_day", "currency", "records", "amount", "merkle_root", "tree_size")
        flat = [
            (r.business_day, c.currency, c.record_count, plain_money(c.volume_minor, c.currency),
             r.merkle_root_hex, r.tree_size)
            for r in rows for c in r.currencies
        ]  # fmt: skip
        return csv_response("settlement-runs.csv", header, flat)
    context = {
        "page": page_of(rows, request.query_params),
        "range": days,
        "search": search,
        "partner": partner or "",
        "partners": choices,
        "query": request.url.query,
    }
    return console.render(request, "runs.html", context)


def _statements_of_day(
    console: Console, uow: SqlUnitOfWork, business_day: str, partner: str | None
) -> list[CheckedStatement]:
    checked = []
    for currency in finance.currencies_of(uow, business_day):
        participants = (
            [partner]
            if partner is not None
            else [
                p.participant
                for p in uow.settlement.positions(business_day, currency)
                if p.participant != HUB_PARTICIPANT
            ]
        )
        for partner_id in participants:
            checked.append(
                checked_statement(uow, console.settings.hub_key, partner_id, business_day, currency)
            )
    return checked


def verify_fragment(console: Console, request: Request) -> Response:
    business_day = request.path_params["day"]
    with console.uow() as uow:
        principal = console.principal(request, uow)
        partner = viewed_partner(uow, principal, request.query_params.get("partner", ""))
        try:
            checked = _statements_of_day(console, uow, business_day, partner)
        except DomainError:
            raise NotFound from None
    context = {"checked": checked, "business_day": business_day}
    return console.render(request, "_verified.html", context)


def positions_page(console: Console, request: Request) -> Response:
    query = request.query_params
    with console.uow() as uow:
        principal = console.principal(request, uow)
        partner = viewed_partner(uow, principal, query.get("partner", ""))
        days = _range(console, request, uow)
        settled = [d.business_day for d in finance.settled_days(uow, days.days)]
        business_day = query.get("day") or (settled[0] if settled else "")
        rows: list[finance.PositionRow] = []
        zero: dict[str, bool] = {}
        if business_day:
            try:
                rows = finance.positions(uow, business_day, partner)
                zero = finance.nets_sum_to_zero(uow, business_day)
            except DomainError:
                raise NotFound from None
        search = search_text(query)
        if search:
            rows = [r for r in rows if search.lower() in r.participant.lower()]
        chart_context = _chart(console, uow, partner, query)
        choices = partner_ids(uow) if principal.is_operator else []
    if wants_csv(request):
        header = ("business_day", "participant", "currency", "sent", "received", "fees", "net")
        flat = [
            (business_day, r.participant, r.currency, plain_money(r.sent_minor, r.currency),
             plain_money(r.received_minor, r.currency), plain_money(r.fees_minor, r.currency),
             plain_money(r.net_minor, r.currency))
            for r in rows
        ]  # fmt: skip
        return csv_response(f"positions-{business_day}.csv", header, flat)
    context = {
        "page": page_of(rows, query),
        "range": days,
        "search": search,
        "business_day": business_day,
        "settled_days": settled,
        "zero": zero,
        "partner": partner or "",
        "partners": choices,
        "query": request.url.query,
        **chart_context,
    }
    return console.render(request, "positions.html", context)


def _chart(
    console: Console, uow: SqlUnitOfWork, partner: str | None, query: QueryParams
) -> dict[str, object]:
    chart_partner = partner or query.get("chart_partner", "") or next(iter(partner_ids(uow)), "")
    if not chart_partner:
        return {"chart": None}
    span = 90 if query.get("span") == "90" else 30
    currency = query.get("currency", "USD")[:3].upper()
    today = console.current_day(uow)

    days = DateRange(today - timedelta(days=span - 1), today).days
    points = finance.net_history(uow, days, chart_partner, currency)
    return {
        "chart": net_chart(points, currency, span),
        "chart_points": [p for p in points if p.settled],
        "chart_partner": chart_partner,
        "chart_currency": currency,
        "span": span,
        "spans": CHART_SPANS_DAYS,
    }


def statement_page(console: Console, request: Request) -> Response:
    query = request.query_params
    with console.uow() as uow:
        principal = console.principal(request, uow)
        choices = partner_ids(uow) if principal.is_operator else []
        requested = query.get("partner", "") or (choices[0] if choices else "")
        partner = one_partner(uow, principal, requested)
        business_day = query.get("day", "")
        try:
            currencies = finance.currencies_of(uow, business_day)
            currency = query.get("currency") or (currencies[0] if currencies else "USD")
            if currency not in currencies:
                raise NotFound
            statement = checked_statement(
                uow, console.settings.hub_key, partner, business_day, currency
            )
            files = finance.day_files(
                uow, business_day, partner if not principal.is_operator else None,
                console.settings.bank_accounts,
            )  # fmt: skip
        except DomainError:
            raise NotFound from None
    lines = statement.lines
    search = search_text(query)
    if search:
        lines = [line for line in lines if search in line.line.record.transfer_id]
    if wants_csv(request):
        return _statement_csv(statement, lines)
    context = {
        "statement": statement,
        "page": page_of(lines, query),
        "search": search,
        "partner": partner,
        "partners": choices,
        "currencies": currencies,
        "files": sorted(files),
        "query": request.url.query,
    }
    return console.render(request, "statement.html", context)


def _statement_csv(statement: CheckedStatement, lines: Sequence[CheckedLine]) -> Response:
    header = ("business_day", "transfer_id", "kind", "direction", "counterparty", "amount",
              "fee", "proof")  # fmt: skip
    rows = []
    for item in lines:
        record = item.line.record
        rows.append((
            statement.business_day, record.transfer_id, record.kind,
            "payable" if item.line.payable else "receivable", item.counterparty,
            plain_money(record.amount_minor, record.currency),
            plain_money(record.fee_minor if item.line.payable else 0, record.currency),
            "verified" if item.proof_ok else "FAILED",
        ))  # fmt: skip
    name = f"statement-view-{statement.partner_id}-{statement.business_day}.csv"
    return csv_response(name, header, rows)


def download(console: Console, request: Request) -> Response:
    business_day, name = request.path_params["day"], request.path_params["name"]
    with console.uow() as uow:
        principal = console.principal(request, uow)
        partner = principal.partner_id
        try:
            files = finance.day_files(uow, business_day, partner, console.settings.bank_accounts)
        except DomainError:
            raise NotFound from None
        if name not in files:
            raise NotFound
        now_us = console.clock.now_us()
        store.audit(
            uow.session, now_us, principal.who, "export downloaded", f"{business_day} {name}"
        )
        uow.commit()
    suffix = name[name.rfind(".") :]
    return Response(
        files[name],
        media_type=CONTENT_TYPES.get(suffix, "application/octet-stream"),
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
