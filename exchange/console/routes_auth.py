"""Logging in and out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from exchange.console import auth, store
from exchange.console.app import SESSION_COOKIE, Console, Form, LoginRequired, form_route


def _local_target(target: str) -> str:
    """Only a path on this console: a login link must not send anyone elsewhere."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/runs"
    return target


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def routes(console: Console) -> list[Route]:
    return [
        Route("/", lambda r: RedirectResponse("/runs", status_code=303)),
        Route("/login", lambda r: login_form(console, r), methods=["GET"]),
        form_route("/login", lambda r, f: login(console, r, f)),
        form_route("/logout", lambda r, f: logout(console, r)),
    ]


def login_form(console: Console, request: Request) -> Response:
    next_target = _local_target(request.query_params.get("next", "/runs"))
    return console.render(request, "login.html", {"next": next_target, "error": ""})


def login(console: Console, request: Request, form: Form) -> Response:
    username, password = form.get("username"), form.get("password")
    next_target = _local_target(form.get("next") or "/runs")
    now_us = console.clock.now_us()
    with console.uow() as uow:
        try:
            token, principal = auth.log_in(
                uow.session, username, password, _client_address(request), now_us
            )
        except auth.LoginRefused as refused:
            uow.commit()  # the failure counts towards the rate limit
            status = 429 if refused.throttled else 401
            context = {"next": next_target, "error": refused.message, "username": username}
            return console.render(request, "login.html", context, status)
        store.audit(uow.session, now_us, principal.who, "login", principal.role.value)
        uow.commit()
    response = RedirectResponse(next_target, status_code=303)
    console.set_session_cookie(request, response, token)
    return response


def logout(console: Console, request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    with console.uow() as uow:
        try:
            principal: auth.Principal | None = console.principal(request, uow)
        except LoginRequired:
            principal = None
        now_us = console.clock.now_us()
        store.revoke_session(uow.session, token, now_us)
        if principal is not None:
            store.audit(uow.session, now_us, principal.who, "logout", "")
        uow.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
