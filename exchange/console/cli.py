"""`coalition console`: serve the finance console; `coalition console user add`: create a user."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exchange.console.auth import Role

LISTEN_DEFAULT = "127.0.0.1:8080"
PASSWORD_FILE_BYTES_MAX = 4096


def add_console_commands(commands: Any) -> None:
    """Adds `console` (and `console user add`) to the `coalition` command's subparsers."""
    console = commands.add_parser("console", help="serve the finance console (web)")
    _database_option(console)
    console.add_argument("--listen", default=LISTEN_DEFAULT, help=f"host:port ({LISTEN_DEFAULT})")
    console.add_argument("--hub-key", dest="hub_key_path", help="hub private key (PEM)")
    console.add_argument(
        "--bank-accounts", type=Path, help="bank accounts JSON, as for `coalition export`"
    )
    console.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    console.add_argument("--tls-key", help="the certificate's private key (PEM)")
    console.add_argument(
        "--secure-cookies",
        action="store_true",
        help="mark cookies Secure although TLS ends at a proxy in front",
    )
    console.add_argument(
        "--demo",
        action="store_true",
        help="the demo coalition: one login per role (printed), the demo bank accounts",
    )
    console.add_argument(
        "--home", type=Path, default=Path(".coalition"), help="demo directory (--demo)"
    )
    user = console.add_subparsers(dest="console").add_parser("user", help="console users")
    add = user.add_subparsers(dest="console_user", required=True).add_parser(
        "add", help="create a console user"
    )
    add.add_argument("--username", required=True)
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.add_argument("--partner", help="the partner a finance or viewer user belongs to")
    add.add_argument(
        "--password-file", type=Path, help="read the password from this file (else a prompt)"
    )
    _database_option(add)


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="SQLAlchemy URL (default as `coalition serve`)")


def _command_error(message: str) -> Exception:
    from exchange.operations import OperationError

    return OperationError(message)


def _settings(args: argparse.Namespace) -> Any:
    from exchange.config import Settings

    try:
        return Settings.load(
            database_url=args.database_url, hub_key_path=getattr(args, "hub_key_path", None)
        )
    except ValueError as error:
        raise _command_error(str(error)) from None


def _listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _command_error(f"--listen must be host:port, not {text!r}")
    return host, int(port)


def cmd_console(args: argparse.Namespace) -> None:
    import uvicorn

    from coalition.keys import load_signing_key
    from exchange.adapters.sql.engine import create_database_engine
    from exchange.console.app import ConsoleSettings
    from exchange.console.application import create_app
    from exchange.operations import ensure_schema
    from exchange.services.export_files import load_bank_accounts

    settings = _settings(args)
    host, port = _listen(args.listen)
    ensure_schema(settings)
    try:
        hub_key = load_signing_key(settings.hub_key_path)
        banks = load_bank_accounts(args.bank_accounts) if args.bank_accounts else {}
    except (OSError, ValueError) as error:
        raise _command_error(f"cannot start the console: {error}") from None
    if bool(args.tls_cert) != bool(args.tls_key):
        raise _command_error("--tls-cert and --tls-key go together")
    engine = create_database_engine(settings.database_url)
    if args.demo:
        banks = banks or _demo_setup(engine, args.home, f"http://{host}:{port}/")
    app = create_app(
        ConsoleSettings(
            engine, hub_key, settings.calendar, banks, secure_cookies=args.secure_cookies
        )
    )
    scheme = "https" if args.tls_cert else "http"
    print(f"console serving on {scheme}://{host}:{port}/ ; Ctrl-C stops it", flush=True)
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            ssl_certfile=args.tls_cert,
            ssl_keyfile=args.tls_key,
            log_level="warning",
            proxy_headers=False,
        )
    finally:
        engine.dispose()


def _demo_setup(engine: Any, home: Path, url: str) -> Any:
    """Prints the demo logins; returns the demo's bank accounts."""
    from exchange.console.demo_users import DEMO_BANK_ACCOUNTS, ensure_demo_users

    print(f"finance console: {url}")
    for username, role, partner, password in ensure_demo_users(engine, home):
        scope = partner or "every partner"
        print(f"  {role.value:<8} {scope:<13} user {username:<15} password {password}")
    return DEMO_BANK_ACCOUNTS


def _password(args: argparse.Namespace) -> str:
    if args.password_file is not None:
        try:
            path: Path = args.password_file
            data = path.read_bytes()[:PASSWORD_FILE_BYTES_MAX]
        except OSError as error:
            raise _command_error(f"cannot read {args.password_file}: {error}") from None
        return data.decode("utf-8", errors="strict").rstrip("\r\n")
    if not sys.stdin.isatty():
        raise _command_error("no terminal to ask for the password: use --password-file")
    first = str(getpass.getpass("password: "))
    if getpass.getpass("again: ") != first:
        raise _command_error("the two passwords differ")
    return first


def cmd_console_user(args: argparse.Namespace) -> None:
    from exchange.adapters.clock import SystemClock
    from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
    from exchange.console import auth, store
    from exchange.console.scope import partner_ids
    from exchange.operations import database, ensure_schema

    settings = _settings(args)
    role, partner = Role(args.role), args.partner or None
    try:
        row = auth.new_user(args.username, role, partner, _password(args), SystemClock().now_us())
    except (ValueError, UnicodeDecodeError) as error:
        raise _command_error(str(error)) from None
    ensure_schema(settings)
    with database(settings) as engine, SqlUnitOfWorkFactory(engine)() as uow:
        if partner is not None and partner not in partner_ids(uow):
            raise _command_error(f"no partner {partner}")
        if store.user_named(uow.session, args.username) is not None:
            raise _command_error(f"a user {args.username} exists already")
        store.add_user(uow.session, row)
        uow.commit()
    scope = f"partner {partner}" if partner else "every partner"
    print(f"added console user {args.username} ({role.value}, {scope})")


CONSOLE_HANDLERS: dict[tuple[str, ...], Callable[[argparse.Namespace], None]] = {
    ("console",): cmd_console,
    ("console", "user"): cmd_console_user,
}
