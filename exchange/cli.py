"""The `coalition` command: serve the hub, migrate, manage keys and partners, run the demo."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path
from types import FrameType
from typing import Any

from coalition.keys import SigningKey, load_public_key, write_key_pair
from exchange import operations
from exchange.adapters.clock import SystemClock
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.adapters.telemetry import install_log_correlation
from exchange.config import ENVIRONMENT_NAMES, Settings
from exchange.console.cli import CONSOLE_HANDLERS, add_console_commands
from exchange.domain.errors import DomainError
from exchange.domain.limits import PAGE_SIZE_MAX
from exchange.domain.partners import PartnerKind, check_new_partner
from exchange.metrics_cli import add_metrics_command, cmd_metrics
from exchange.services import partners

log = logging.getLogger("coalition")


class CommandError(Exception):
    """A one-line message for the operator; the command exits non-zero."""


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        help=f"SQLAlchemy URL (env {ENVIRONMENT_NAMES['database_url']}; "
        "default sqlite:///./coalition.db)",
    )


def serve_options(parser: argparse.ArgumentParser) -> None:
    _database_option(parser)
    parser.add_argument(
        "--listen", dest="listen_address", help="host:port (default 127.0.0.1:50051)"
    )
    parser.add_argument("--audience", help="audience string partners sign for")
    parser.add_argument("--hub-key", dest="hub_key_path", help="hub private key (PEM)")
    parser.add_argument("--tls-cert", dest="tls_cert_path", help="server certificate (PEM)")
    parser.add_argument("--tls-key", dest="tls_key_path", help="server private key (PEM)")
    parser.add_argument(
        "--client-ca", dest="client_ca_path", help="CA of partner client certificates (mTLS)"
    )


def _export_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, help="directory for the files (default exports/<business day>)"
    )
    parser.add_argument(
        "--bank-accounts",
        type=Path,
        help='JSON {"participant": {"name", "iban", "bic"}}, "hub" for the clearing account; '
        "needed for the pain.001 pay-out file",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coalition", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the hub")
    serve_options(serve)
    serve.add_argument(
        "--processes",
        type=int,
        help=f"hub processes sharing the port (env {ENVIRONMENT_NAMES['processes']}; default: "
        "one per core on PostgreSQL, one on SQLite)",
    )

    _add_admin_commands(commands)
    _add_day_commands(commands)
    add_metrics_command(commands)
    add_console_commands(commands)
    PLUGIN_HANDLERS.update(_plugin_commands(commands))
    return parser


def _add_admin_commands(commands: Any) -> None:
    """Schema, keys and partners."""
    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    _database_option(db.add_parser("upgrade", help="migrate to the newest schema"))

    keys = commands.add_parser("keys", help="signing keys").add_subparsers(
        dest="keys", required=True
    )
    generate = keys.add_parser("generate", help="write a new Ed25519 key pair")
    generate.add_argument("--out", required=True, type=Path, help="directory for the key files")

    partner = commands.add_parser("partner", help="coalition partners")
    partner_commands = partner.add_subparsers(dest="partner", required=True)
    add = partner_commands.add_parser("add", help="onboard a partner with its first key")
    add.add_argument("--id", required=True, dest="partner_id")
    add.add_argument("--name", required=True)
    add.add_argument("--kind", required=True, choices=[kind.value for kind in PartnerKind])
    add.add_argument("--program", required=True, help="program code, e.g. SKYWAY_MILES")
    add.add_argument("--public-key", required=True, type=Path, help="partner public key (PEM)")
    _database_option(add)
    _database_option(partner_commands.add_parser("list", help="print the directory"))


def _add_day_commands(commands: Any) -> None:
    """The ledger check and a business day's settlement, files and reconciliation."""
    check = commands.add_parser(
        "check", help="recompute the ledger from its entries; exit 1 on any difference"
    )
    _database_option(check)

    settle = commands.add_parser(
        "settle", help="close and settle a business day, then write its files"
    )
    settle.add_argument("--date", required=True, help="business day, YYYY-MM-DD")
    settle.add_argument(
        "--close-now",
        action="store_true",
        help="close the day before its cut-off (later completions go to the next day)",
    )
    _export_options(settle)
    _database_option(settle)

    export = commands.add_parser("export", help="write the files of a settled business day")
    export.add_argument("--date", required=True, help="business day, YYYY-MM-DD")
    _export_options(export)
    _database_option(export)

    reconcile = commands.add_parser(
        "reconcile", help="match a partner's records of a day (CSV) against the hub's"
    )
    reconcile.add_argument("--partner", required=True)
    reconcile.add_argument("--date", required=True, help="business day, YYYY-MM-DD")
    reconcile.add_argument(
        "file", type=Path, help="transfer_id,direction,points,amount_minor,currency"
    )
    _database_option(reconcile)


# Commands of tools that build on the hub (the demo, the benchmark) plug in through entry points
# (pyproject.toml, group "coalition.commands"): the hub package never imports them. Each entry
# is a function that adds its subparsers and returns its handlers by command path.
PLUGIN_GROUP = "coalition.commands"
Handler = Callable[[argparse.Namespace], None]
PLUGIN_HANDLERS: dict[tuple[str, ...], Handler] = {}


def _plugin_commands(commands: Any) -> dict[tuple[str, ...], Handler]:
    handlers: dict[tuple[str, ...], Handler] = {}
    for entry in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        handlers.update(entry.load()(commands))
    return handlers


def settings_from_args(args: argparse.Namespace) -> Settings:
    names = (
        "database_url",
        "listen_address",
        "audience",
        "hub_key_path",
        "tls_cert_path",
        "tls_key_path",
        "client_ca_path",
        "processes",
    )
    try:
        return Settings.load(**{name: getattr(args, name, None) for name in names})
    except ValueError as error:
        raise CommandError(str(error)) from None


def cmd_db_upgrade(args: argparse.Namespace) -> None:
    print(f"database at revision {operations.upgrade_schema(settings_from_args(args))}")


def cmd_keys_generate(args: argparse.Namespace) -> None:
    key = SigningKey.generate()
    try:
        private_path, public_path = write_key_pair(args.out, key)
    except (FileExistsError, OSError) as error:
        raise CommandError(str(error)) from None
    print(f"key id {key.key_id}\nprivate {private_path}\npublic  {public_path}")


def cmd_partner_add(args: argparse.Namespace) -> None:
    settings = settings_from_args(args)
    try:
        public_key = load_public_key(args.public_key)
    except (OSError, ValueError) as error:
        raise CommandError(f"cannot read public key {args.public_key}: {error}") from None
    try:
        check_new_partner(args.partner_id, args.name, args.program)
    except DomainError as error:
        raise CommandError(error.message) from None
    operations.ensure_schema(settings)
    command = partners.AddPartner(
        args.partner_id, args.name, PartnerKind(args.kind), args.program, public_key
    )
    entry = operations.add_partner(settings, command)
    print(f"added {entry.partner.partner_id} with key {entry.active_keys[0].key_id}")


def cmd_partner_list(args: argparse.Namespace) -> None:
    settings = settings_from_args(args)
    operations.ensure_schema(settings)
    entries: list[partners.DirectoryEntry] = []
    with operations.database(settings) as engine, SqlUnitOfWorkFactory(engine)() as uow:
        after: str | None = ""
        while after is not None:
            page = partners.list_partners(uow, after, PAGE_SIZE_MAX)
            entries.extend(page.entries)
            after = page.next_after_partner_id
    print(f"{'PARTNER':<16} {'KIND':<12} {'PROGRAM':<20} {'KEYS':<4} NAME")
    for entry in entries:
        p = entry.partner
        print(
            f"{p.partner_id:<16} {p.kind.value:<12} {p.program_code:<20} "
            f"{len(entry.active_keys):<4} {p.display_name}"
        )


def cmd_check(args: argparse.Namespace) -> None:
    from exchange.adapters.sql.ledger_check import check_ledger

    settings = settings_from_args(args)
    operations.ensure_schema(settings, migrate_sqlite=False)
    with operations.database(settings) as engine:
        problems = check_ledger(engine)
    for problem in problems:
        print(problem)
    if problems:
        raise CommandError(f"the ledger has {len(problems)} difference(s)")
    print("ledger consistent: every journal balances and every cached counter matches")


def cmd_settle(args: argparse.Namespace) -> None:
    settings = settings_from_args(args)
    operations.ensure_schema(settings)
    banks = operations.bank_accounts(args.bank_accounts)
    with operations.database(settings) as engine:
        result, written = operations.settle_and_export(
            engine,
            settings,
            args.date,
            _export_directory(args),
            banks,
            close_early=args.close_now,
            progress=lambda done: print(f"  ... {done:,} records", flush=True),
        )
    state = "already settled; stored result" if result.already_settled else "settled"
    print(
        f"business day {result.business_day} {state}: {result.tree_size} records, "
        f"Merkle root {result.merkle_root.hex()}"
    )
    for currency, positions in result.positions.items():
        for p in positions:
            print(
                f"  {currency} {p.participant:<10} receivable {p.receivable_minor:>12} "
                f"payable {p.payable_minor:>12} net {p.net_minor:>12} (minor units)"
            )
    _print_written(written)
    if result.alarm:
        raise CommandError(result.alarm)


def _export_directory(args: argparse.Namespace) -> Path:
    out: Path = args.out or Path("exports") / args.date
    return out


def _print_written(written: operations.WrittenFiles) -> None:
    for name, size in written.sizes.items():
        print(f"  wrote {written.directory / name} ({size:,} bytes)")
    for note in written.notes:
        print(f"  note: {note}")


def cmd_export(args: argparse.Namespace) -> None:
    settings = settings_from_args(args)
    operations.ensure_schema(settings, migrate_sqlite=False)
    banks = operations.bank_accounts(args.bank_accounts)
    with operations.database(settings) as engine:
        _print_written(operations.export_day(engine, args.date, _export_directory(args), banks))


def cmd_reconcile(args: argparse.Namespace) -> None:
    from exchange.services.disputes import submit_reconciliation
    from settlement.reconciliation import ReconciliationInputError, breaks_csv, parse_partner_csv

    settings = settings_from_args(args)
    try:
        records = parse_partner_csv(args.file.read_bytes())
    except OSError as error:
        raise CommandError(f"cannot read {args.file}: {error}") from None
    except ReconciliationInputError as error:
        raise CommandError(f"{args.file}: {error}") from None
    operations.ensure_schema(settings, migrate_sqlite=False)
    with operations.database(settings) as engine, SqlUnitOfWorkFactory(engine)() as uow:
        if uow.partners.get(args.partner) is None:
            raise CommandError(f"no partner {args.partner}")
        try:
            reconciliation_id, breaks = submit_reconciliation(
                uow, SystemClock(), args.partner, args.date, records
            )
        except DomainError as error:
            raise CommandError(error.message) from None
        uow.commit()
    print(f"reconciliation {reconciliation_id}: {len(breaks)} break(s)")
    sys.stdout.write(breaks_csv(breaks).decode())


def cmd_serve(args: argparse.Namespace) -> None:
    from exchange.processes import ProcessesError, process_count, serve_processes

    settings = settings_from_args(args)
    operations.ensure_schema(settings)
    try:
        count = process_count(settings)
        if count > 1:
            if serve_processes(settings, count, _serve_one) != 0:
                raise CommandError("a hub process failed to start; see the log above")
            return
    except ProcessesError as error:
        raise CommandError(str(error)) from None
    _serve_one(replace(settings, processes=1), announce=True)


def _serve_one(settings: Settings, *, announce: bool = False) -> None:
    """One hub process: serves until SIGTERM or SIGINT, then drains."""
    from exchange.bootstrap import bootstrap

    try:
        hub = bootstrap(settings)
    except (OSError, ValueError) as error:
        raise CommandError(f"cannot start the hub: {error}") from None
    hub.start()
    if announce:
        print(f"hub serving on {settings.listen_address} (port {hub.port}); Ctrl-C stops it")
    stop_on_signals(lambda: hub.stop())
    hub.wait()


def stop_on_signals(stop: Callable[[], None]) -> None:
    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: shutting down gracefully", signum)
        stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


HANDLERS: dict[tuple[str, ...], Callable[[argparse.Namespace], None]] = {
    ("serve",): cmd_serve,
    ("db", "upgrade"): cmd_db_upgrade,
    ("keys", "generate"): cmd_keys_generate,
    ("partner", "add"): cmd_partner_add,
    ("partner", "list"): cmd_partner_list,
    ("check",): cmd_check,
    ("settle",): cmd_settle,
    ("export",): cmd_export,
    ("reconcile",): cmd_reconcile,
    ("metrics",): cmd_metrics,
    **CONSOLE_HANDLERS,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    install_log_correlation()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        # trace= ties a line to its spans ("-" outside any request).
        format="%(asctime)s %(levelname)s %(name)s trace=%(trace_id)s %(message)s",
    )
    path = tuple(
        value for value in (args.command, getattr(args, args.command, None)) if value is not None
    )
    try:
        {**HANDLERS, **PLUGIN_HANDLERS}[path](args)
    except (CommandError, operations.OperationError) as error:
        print(f"coalition: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
