"""The KPI screen: headline figures for a period and one measure's series as charts and tables."""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from exchange.console import kpis
from exchange.console.app import Console
from exchange.console.kpi_headlines import headlines
from exchange.console.kpi_values import (
    SUPPRESSED,
    SUPPRESSION_NOTE,
    kind_text,
    label_of,
    menu,
)
from exchange.console.routes_settlement import csv_response, wants_csv
from exchange.console.scope import partner_ids, viewed_partner
from exchange.domain.metrics import Granularity, Metric
from exchange.domain.metrics_release import Series

CSV_HEADER = ("subject", "counterpart", "dimension", "unit", "start_date", "value")


def routes(console: Console) -> list[Route]:
    return [Route("/kpis", lambda r: kpis_page(console, r))]


def kpis_page(console: Console, request: Request) -> Response:
    with console.uow() as uow:
        principal = console.principal(request, uow)
        query = kpis.read_query(request.query_params, console.current_day(uow))
        context: dict[str, object] = {
            "form": query,
            "menu": menu(principal.is_operator),
            "partners": partner_ids(uow) if principal.is_operator else [],
            "granularities": [g.value for g in Granularity],
        }
        try:
            period = kpis.checked_period(query)
        except kpis.BadQuery as bad:
            context["errors"] = bad.errors
            return console.render(request, "kpis.html", context, 400)
        viewer = viewed_partner(uow, principal, query.partner)
        metric, found = kpis.series_of(uow.metrics, viewer, query)
        if wants_csv(request):
            return csv_response(f"kpi-{metric.name}.csv", CSV_HEADER, _csv_rows(metric, found))

        def fetch(name: str, granularity: str) -> list[Series]:
            return kpis.series_of(uow.metrics, viewer, replace(query, metric=name), granularity)[1]

        tops = headlines(fetch, viewer)
    views = kpis.series_views(metric, found)
    context.update(
        period=period,
        viewer=viewer or "",
        metric=metric,
        metric_label=label_of(metric.name),
        kind_text=kind_text(metric),
        headlines=tops,
        views=views,
        not_drawn=len(found) - len(views),
        any_suppressed=any(view.suppressed_count for view in views)
        or any(top.suppressed for top in tops),
        suppression_note=SUPPRESSION_NOTE,
        query_string=request.url.query,
    )
    return console.render(request, "kpis.html", context)


def _csv_rows(metric: Metric, found: list[Series]) -> list[tuple[str, ...]]:
    """Exact figures (minor units, exact decimals), as `coalition metrics --format csv`."""
    return [
        (
            s.subject,
            s.counterpart,
            s.dimension,
            metric.unit,
            p.start_date.isoformat(),
            SUPPRESSED if p.suppressed else "" if p.value is None else str(p.value),
        )
        for s in found
        for p in s.points
    ]
