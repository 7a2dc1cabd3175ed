"""What several commands share: one-line argparse errors, a quiet stop on a closed pipe, the ``-4/-6``
and ``--mechanism`` options, and reverse lookups for printing names."""
from __future__ import annotations

import argparse
import functools
import ipaddress
import os
import socket
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn


def one_line_errors(parser: argparse.ArgumentParser, command: str) -> None:
    """Make argparse report a bad argument as one line (``netstudy ping: ...``) instead of usage + error."""
    def error(message: str) -> NoReturn:
        print(f"netstudy {command}: {message}", file=sys.stderr)
        sys.exit(2)
    parser.error = error  # type: ignore[method-assign]


def stop_quietly_on_closed_pipe(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``netstudy ping ... | head -2``: when the reader goes away, stop without a message, as a
    program killed by SIGPIPE does (exit status 128 + 13)."""
    @functools.wraps(run)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # so the exit flush is silent
            return 141
    return wrapper


def add_family_flags(parser: argparse.ArgumentParser) -> None:
    """``-4`` / ``-6`` (one or the other) into ``args.version``: 4, 6, or None for whatever the name
    resolves to."""
    family = parser.add_mutually_exclusive_group()
    family.add_argument("-4", dest="version", action="store_const", const=4, help="IPv4 only")
    family.add_argument("-6", dest="version", action="store_const", const=6, help="IPv6 only")


def add_mechanism_flag(parser: argparse.ArgumentParser, help: str,
                       choices: Sequence[str] = ("auto", "raw", "datagram")) -> None:
    """``--mechanism {auto,raw,datagram}`` into ``args.mechanism`` (default ``auto``): which socket an
    engine opens (``netstudy.net``)."""
    parser.add_argument("--mechanism", choices=tuple(choices), default="auto", help=help)


def is_address(host: str) -> bool:
    """Whether ``host`` is an address literal (an IPv6 scope, ``fe80::1%eth0``, allowed), not a name."""
    try:
        ipaddress.ip_address(host.split("%")[0])
        return True
    except ValueError:
        return False


@functools.lru_cache(maxsize=256)
def reverse(address: str) -> str | None:
    """The name an address resolves back to (``/etc/hosts``, then PTR), or None; remembered, as a
    tool printing a line per packet must not ask twice."""
    try:
        return socket.getnameinfo((address, 0), socket.NI_NAMEREQD)[0]
    except OSError:
        return None
