"""The console's ASGI application: the Console core (exchange.console.app) and its routes."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from exchange.console import routes_auth, routes_kpis, routes_settlement, routes_work
from exchange.console.app import PACKAGE_DIR, Console, ConsoleSettings, exception_handlers
from exchange.console.security import ConsoleSecurity


def create_app(settings: ConsoleSettings) -> Starlette:
    console = Console(settings)
    routes: list[Route | Mount] = [
        *routes_auth.routes(console),
        *routes_settlement.routes(console),
        *routes_work.routes(console),
        *routes_kpis.routes(console),
        Mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers=exception_handlers(console))
    app.add_middleware(ConsoleSecurity)
    return app
