"""`netstudy <tool> ...`: one argparse subcommand per engine; every failure is one line on stderr."""
from __future__ import annotations

import argparse
import importlib
import sys

from netstudy import __version__
from netstudy.commands.common import Parser
from netstudy.errors import NetstudyError

# Each entry is a module under netstudy.commands with `register(subparsers)`; the subcommand it adds
# sets `func(args) -> int` as its handler.
COMMANDS = ["capabilities", "chat", "lab", "dns", "ping", "traceroute", "sweep", "portscan", "sniff", "p2p"]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole CLI; with ``only``, just that command's subparser (what ``main`` runs needs no other
    command imported: a scan timed from the shell does not pay for every program's imports)."""
    parser = Parser(prog="netstudy", description="The TCP/IP stack, byte by byte.")
    parser.add_argument("--version", action="version", version=f"netstudy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS if only is None else [only]:
        importlib.import_module(f"netstudy.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    command = next((word for word in words if not word.startswith("-")), None)     # the first word names it
    try:                                            # a Ctrl-C while the commands are imported: no traceback
        args = build_parser(command if command in COMMANDS else None).parse_args(words)
    except KeyboardInterrupt:
        return 130
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (NetstudyError, OSError) as exc:         # what a user can cause; anything else is a bug: traceback
        print(f"netstudy {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
