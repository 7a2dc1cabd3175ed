"""What several commands share: the parser (negative numbers are values), the numeric option types
(:class:`Number`: every numeric option is checked here, before anything runs), one-line argparse errors,
a quiet stop on a closed pipe, the ``-4/-6`` and ``--mechanism`` options, and reverse lookups for
printing names, and how a long-running command is stopped (SIGINT and SIGTERM alike)."""
from __future__ import annotations

import argparse
import contextlib
import functools
import ipaddress
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import NoReturn

from netstudy.errors import InputError, check_number

MAX_PORT = 65535


class Parser(argparse.ArgumentParser):
    """netstudy's argument parser (every subcommand's too: argparse makes subparsers of the same class).

    A word that reads as a number (``-1``, ``-1e300``, ``-inf``) is a value, not an option, unless it
    is one of the parser's own options (``-4``, ``-6``): so ``ping -c -1`` reaches ``-c``'s type and is
    refused as a bad count, where plain argparse says ``expected one argument`` (it takes ``-1`` for an
    option once a parser has ``-4``, and reads ``-inf`` as ``-i nf``)."""

    def _parse_optional(self, arg_string: str) -> tuple | None:
        if arg_string not in self._option_string_actions and _reads_as_number(arg_string):
            return None
        return super()._parse_optional(arg_string)


def _reads_as_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


class Number:
    """An argparse ``type=`` for a numeric option: text to an int (``whole``) or a float, from ``low``
    to ``high`` (strictly above ``low`` when ``above``); NaN, infinities and non-numbers are refused.
    The message comes from :func:`netstudy.errors.check_number`, the check the engines make too.
    ``rejects(text)`` says whether a text would be refused (the option walk in the tests asks it)."""

    def __init__(self, what: str, low: float, high: float, *, whole: bool = False, above: bool = False) -> None:
        self.what, self.low, self.high, self.whole, self.above = what, low, high, whole, above
        self.__name__ = what        # argparse names a type by it

    def parse(self, text: str) -> int | float:
        """The value of ``text``, or InputError naming it."""
        value: object = text
        with contextlib.suppress(ValueError):
            value = int(text) if self.whole else float(text)
        check_number(self.what, value, self.low, self.high, whole=self.whole, above=self.above, given=text)
        assert isinstance(value, (int, float))
        return value

    def __call__(self, text: str) -> int | float:
        try:
            return self.parse(text)
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    def rejects(self, text: str) -> bool:
        try:
            self.parse(text)
        except InputError:
            return True
        return False

    def __repr__(self) -> str:
        return f"Number({self.what!r}, {self.low}, {self.high}, whole={self.whole}, above={self.above})"


def count(what: str, low: int = 1, high: int = 2**63 - 1) -> Number:
    """A whole number of things (probes, tries, hops), from ``low`` (default 1) to ``high``."""
    return Number(what, low, high, whole=True)


def seconds(what: str, high: float, low: float = 0.0, above: bool = True) -> Number:
    """A duration: above 0 (or from ``low`` when not ``above``) up to ``high`` seconds."""
    return Number(what, low, high, above=above)


def port(what: str = "port", low: int = 1) -> Number:
    """A TCP/UDP port: 1-65535 to send to, 0-65535 to listen on (0: the kernel picks one)."""
    return Number(what, low, MAX_PORT, whole=True)


def ttl(what: str = "ttl") -> Number:
    """An IP TTL / IPv6 hop limit a packet can carry: 1-255."""
    return Number(what, 1, 255, whole=True)


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
            status = run(args)
            sys.stdout.flush()      # what is still buffered goes now, while a closed pipe can be caught here
            return status
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # so the exit flush is silent
            return 141
    return wrapper


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM both raise KeyboardInterrupt, so a long-running command
    (``dns serve``) ends the same way for Ctrl-C, ``kill`` and a service manager: statistics printed.
    This also undoes an inherited ignore: a shell script's ``cmd &`` starts ``cmd`` with SIGINT ignored,
    and Python then leaves it ignored. The old handlers are put back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield                          # only the main thread may set handlers (the CLI always is)
        return

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)


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
