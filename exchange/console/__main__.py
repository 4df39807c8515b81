"""`python -m exchange.console ...`: the same as `coalition console ...`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from exchange.console.cli import CONSOLE_HANDLERS, add_console_commands


def main(argv: Sequence[str] | None = None) -> int:
    from exchange.cli import CommandError

    parser = argparse.ArgumentParser(prog="coalition")
    add_console_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["console", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    path = tuple(v for v in (args.command, getattr(args, "console", None)) if v is not None)
    try:
        CONSOLE_HANDLERS[path](args)
    except CommandError as error:
        print(f"coalition: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
