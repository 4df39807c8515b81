"""Cross-site request refusal and the security headers every console response carries.

CSRF is refused the way Datasette and Go's net/http CrossOriginProtection do it: a browser
tells the server where a request came from. A non-GET request is accepted when
`Sec-Fetch-Site` says `same-origin` (or `none`: typed by the user), or, from a browser that does
not send that header, when `Origin` is this console's own origin. A request with neither is
refused too: every browser the console supports sends one of them on a POST.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_SITE_VALUES = frozenset({"same-origin", "none"})
SECURITY_HEADERS = (
    # Nothing is loaded from anywhere but the console itself; no inline script at all.
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
REFUSAL_BODY = (
    b"<!doctype html><html lang=en><title>Request refused</title>"
    b"<h1>Request refused</h1><p>This form was sent from another site, so the console did "
    b"not act on it. Open the console and try again from its own page.</p></html>"
)


def own_origin(scope: Scope, headers: Headers) -> str:
    scheme = "https" if scope.get("scheme") == "https" else "http"
    return f"{scheme}://{headers.get('host', '')}"


def is_cross_site(scope: Scope) -> bool:
    if scope["method"] in SAFE_METHODS:
        return False
    headers = Headers(scope=scope)
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in SAME_SITE_VALUES
    origin = headers.get("origin")
    if origin is None:
        return True
    return origin != own_origin(scope, headers)


class ConsoleSecurity:
    """ASGI middleware: refuse cross-site writes (403), add the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + list(SECURITY_HEADERS)
            await send(message)

        if is_cross_site(scope):
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [(b"content-type", b"text/html; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": REFUSAL_BODY})
            return
        await self.app(scope, receive, send_with_headers)
