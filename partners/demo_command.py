"""`coalition demo`: the demo coalition on a real hub, plugged into the `coalition` command
(entry point group "coalition.commands" in pyproject.toml)."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from exchange.cli import Handler, serve_options, settings_from_args
from exchange.config import ENVIRONMENT_NAMES, Settings

# Short enough that the demo shows a transfer the hub voids while you watch.
DEMO_TRANSFER_TIMEOUT_S = 10


def register(commands: Any) -> dict[tuple[str, ...], Handler]:
    demo = commands.add_parser("demo", help="set up a demo coalition, serve it, run the demo")
    serve_options(demo)
    demo.add_argument("--home", type=Path, default=Path(".coalition"), help="demo key directory")
    demo.add_argument("--exit", action="store_true", help="stop after the demo instead of serving")
    return {("demo",): cmd_demo}


def cmd_demo(args: argparse.Namespace) -> None:
    from partners.demo_setup import run_demo

    run_demo(settings_for_demo(args), args.home, serve_after=not args.exit)


def settings_for_demo(args: argparse.Namespace) -> Settings:
    """The demo's hub: keys under --home, and a short transfer timeout so one can be seen."""
    if args.hub_key_path is None:
        args.hub_key_path = str(args.home / "hub" / "signing.key")
    settings = settings_from_args(args)
    if ENVIRONMENT_NAMES["transfer_timeout_s"] not in os.environ:
        settings = replace(settings, transfer_timeout_s=DEMO_TRANSFER_TIMEOUT_S)
    return settings
