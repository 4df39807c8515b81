"""The console's composition root: settings in, a Starlette app out (templates, routes, errors)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from coalition.keys import SigningKey
from exchange.adapters.clock import SystemClock
from exchange.adapters.sql.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory
from exchange.console import auth
from exchange.console.listing import BadFilter, money
from exchange.console.scope import Forbidden, NotFound
from exchange.domain.ports import Clock
from settlement.calendar import CoalitionCalendar
from settlement.model import BankAccount

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
SESSION_COOKIE = "cx_console"
MICROSECONDS = 1_000_000
CLOSED_DAYS_AHEAD_MAX = 31


@dataclass(frozen=True)
class ConsoleSettings:
    engine: Engine
    hub_key: SigningKey
    calendar: CoalitionCalendar
    bank_accounts: dict[str, BankAccount] = field(default_factory=dict)
    clock: Clock = field(default_factory=SystemClock)
    # Secure cookies also when TLS ends at a proxy in front of the console.
    secure_cookies: bool = False


def with_query(query: str, **changes: object) -> str:
    """The current page's query string with some values changed (paging, CSV links)."""
    from urllib.parse import parse_qsl, urlencode

    params = dict(parse_qsl(query))
    params.update({name: str(value) for name, value in changes.items()})
    return "?" + urlencode({name: value for name, value in params.items() if value})


class LoginRequired(Exception):
    """No live session: the user is sent to the login page."""


class Console:
    """What every route needs: the unit of work, the clock, templates and the current user."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.clock = settings.clock
        self.calendar = settings.calendar
        self.uow_factory = SqlUnitOfWorkFactory(settings.engine, clock=settings.clock)
        self.templates = Environment(
            loader=FileSystemLoader(PACKAGE_DIR / "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["money"] = money
        self.templates.filters["local_time"] = self.local_time
        self.templates.globals["with_query"] = with_query
        self.templates.globals["time_zone"] = settings.calendar.time_zone
        self.templates.globals["cutoff"] = settings.calendar.cutoff.strftime("%H:%M")

    @contextmanager
    def uow(self) -> Iterator[SqlUnitOfWork]:
        with self.uow_factory() as uow:
            try:
                yield uow
            finally:
                # Rows read stay readable in the template after the unit of work rolls back.
                uow.session.expunge_all()

    def current_day(self, uow: SqlUnitOfWork) -> date:
        """The business day completions land in now: today's, or the first after it an
        operator has not closed early (reads only; opening a day is the hub's to do)."""
        from exchange.adapters.sql.business_days import CLOSED

        day = self.calendar.business_day_of(self.clock.now_us())
        for _ in range(CLOSED_DAYS_AHEAD_MAX):
            if uow.business_days.state(day.isoformat()) != CLOSED:
                break
            day += timedelta(days=1)
        return day

    def local_time(self, at_us: int | None) -> str:
        if at_us is None:
            return ""
        moment = datetime.fromtimestamp(at_us / MICROSECONDS, UTC).astimezone(self.calendar.zone)
        return moment.strftime("%Y-%m-%d %H:%M:%S %Z")

    def principal(self, request: Request, uow: SqlUnitOfWork) -> auth.Principal:
        token = request.cookies.get(SESSION_COOKIE, "")
        found = auth.session_principal(uow.session, token, self.clock.now_us())
        if found is None:
            raise LoginRequired
        uow.commit()  # the session's last-seen time
        request.state.principal = found
        return found

    def render(
        self, request: Request, name: str, context: dict[str, Any], status: int = 200
    ) -> HTMLResponse:
        values = {"request": request, "principal": getattr(request.state, "principal", None)}
        values.update(context)
        body = self.templates.get_template(name).render(values)
        headers = {"cache-control": "no-store"}
        return HTMLResponse(body, status_code=status, headers=headers)

    def error(self, request: Request, status: int, title: str, message: str) -> HTMLResponse:
        context = {"title": title, "message": message, "status": status}
        return self.render(request, "error.html", context, status)

    def set_session_cookie(self, request: Request, response: Response, token: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=auth.SESSION_AGE_S_MAX,
            httponly=True,
            secure=self.settings.secure_cookies or request.url.scheme == "https",
            samesite="lax",
            path="/",
        )


def exception_handlers(console: Console) -> dict[Any, Callable[..., Any]]:
    def login_required(request: Request, _error: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)

    def not_found(request: Request, _error: Exception) -> Response:
        message = "There is no such page or row, or it is not yours to see. Check the link."
        return console.error(request, 404, "Not found", message)

    def forbidden(request: Request, _error: Exception) -> Response:
        message = "Your role may read this but not change it. Ask your finance lead."
        return console.error(request, 403, "Not allowed", message)

    def bad_filter(request: Request, error: Exception) -> Response:
        return console.error(request, 400, "Cannot show that", str(error))

    def too_large(request: Request, _error: Exception) -> Response:
        limit_mib = UPLOAD_BYTES_MAX // (1024 * 1024)
        message = f"The file is larger than {limit_mib} MiB. Nothing was stored."
        return console.error(request, 413, "File too large", message)

    def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        if error.status_code == 404:
            return not_found(request, error)
        return console.error(request, error.status_code, "Request refused", "Try again.")

    def unexpected(request: Request, error: Exception) -> Response:
        log.exception("console request failed: %s %s", request.method, request.url.path)
        message = "Something went wrong on our side. Nothing was changed; try again shortly."
        return console.error(request, 500, "Something went wrong", message)

    return {
        LoginRequired: login_required,
        NotFound: not_found,
        Forbidden: forbidden,
        BadFilter: bad_filter,
        UploadTooLarge: too_large,
        HTTPException: http_error,
        Exception: unexpected,
    }


@dataclass(frozen=True)
class Form:
    fields: dict[str, str]
    files: dict[str, bytes]

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


FormHandler = Callable[[Request, Form], Response]
FORM_FIELDS_MAX = 20
FORM_FIELD_CHARS_MAX = 1_000
UPLOAD_BYTES_MAX = 16 * 1024 * 1024


class UploadTooLarge(Exception):
    """A file over UPLOAD_BYTES_MAX: refused before it is parsed."""


def form_route(path: str, handler: FormHandler) -> Route:
    """A POST route: the form is read here (bounded), the handler runs in a worker thread."""

    async def endpoint(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool
        from starlette.datastructures import UploadFile

        fields: dict[str, str] = {}
        files: dict[str, bytes] = {}
        async with request.form(max_files=1, max_fields=FORM_FIELDS_MAX) as form:
            for name, value in form.items():
                if isinstance(value, UploadFile):
                    data = await value.read(UPLOAD_BYTES_MAX + 1)
                    if len(data) > UPLOAD_BYTES_MAX:
                        raise UploadTooLarge
                    files[name] = data
                else:
                    fields[name] = value[:FORM_FIELD_CHARS_MAX]
        response = await run_in_threadpool(handler, request, Form(fields, files))
        assert isinstance(response, Response)
        return response

    return Route(path, endpoint, methods=["POST"])


def _quote(target: str) -> str:
    from urllib.parse import quote

    return quote(target, safe="/")
