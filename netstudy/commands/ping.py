"""`netstudy ping HOST`: iputils ping's options and output, on netstudy's ICMP engine."""
from __future__ import annotations

import argparse
import functools
import ipaddress
import os
import socket
import sys
from collections.abc import Callable
from typing import NoReturn

from netstudy.ping import Ping, header_line, probe_line, statistics_lines


def one_line_errors(parser: argparse.ArgumentParser, command: str) -> None:
    """Make argparse report a bad argument as one line (``netstudy ping: ...``) instead of usage + error."""
    def error(message: str) -> NoReturn:
        print(f"netstudy {command}: {message}", file=sys.stderr)
        sys.exit(2)
    parser.error = error  # type: ignore[method-assign]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ping", help="send ICMP echo requests, like iputils ping",
                       description="Send ICMP echo requests and print the replies and statistics as iputils "
                                   "ping does. Uses a raw socket when privileged, else the kernel's "
                                   "unprivileged ICMP socket (net.ipv4.ping_group_range).")
    p.add_argument("host", help="host name or address")
    p.add_argument("-c", dest="count", type=int, metavar="COUNT", help="stop after COUNT probes")
    p.add_argument("-i", dest="interval", type=float, default=None, metavar="SECONDS",
                   help="seconds between probes (default 1; under 0.002 only for root)")
    p.add_argument("-s", dest="size", type=int, default=56, metavar="BYTES", help="payload bytes (default 56)")
    p.add_argument("-t", dest="ttl", type=int, metavar="TTL", help="IP time to live / IPv6 hop limit")
    p.add_argument("-W", dest="timeout", type=float, default=10.0, metavar="SECONDS",
                   help="time to wait for a reply (default 10)")
    p.add_argument("-w", dest="deadline", type=float, metavar="SECONDS", help="stop after SECONDS in all")
    p.add_argument("-I", dest="source", metavar="ADDRESS|IFACE", help="source address or interface")
    p.add_argument("-q", dest="quiet", action="store_true", help="print only the summary")
    p.add_argument("-f", dest="flood", action="store_true",
                   help="flood: next probe as soon as the reply is back (root only); prints . and backspace")
    p.add_argument("-n", dest="numeric", action="store_true", help="numeric output only (no reverse lookups)")
    p.add_argument("-v", dest="verbose", action="store_true", help="also mark late and out-of-order replies")
    family = p.add_mutually_exclusive_group()
    family.add_argument("-4", dest="version", action="store_const", const=4, help="IPv4 only")
    family.add_argument("-6", dest="version", action="store_const", const=6, help="IPv6 only")
    p.add_argument("--mechanism", choices=("auto", "raw", "datagram"), default="auto",
                   help="socket to use (default: raw if privileged, else datagram)")
    one_line_errors(p, "ping")
    p.set_defaults(func=run)


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0])
        return True
    except ValueError:
        return False


def _source(source: str | None, version: int, target: str) -> tuple[str | None, str]:
    """The source address to print, and the interface when -I named one: the address the kernel
    picks on that interface for this target (a UDP socket's connect sends nothing)."""
    if source is None or _is_literal(source):
        return source, ""
    with socket.socket(socket.AF_INET if version == 4 else socket.AF_INET6, socket.SOCK_DGRAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, source.encode())
        probe.connect((target, 1025))
        return probe.getsockname()[0], source


@functools.lru_cache(maxsize=256)
def _reverse(address: str) -> str | None:
    try:
        return socket.getnameinfo((address, 0), socket.NI_NAMEREQD)[0]
    except OSError:
        return None


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


@stop_quietly_on_closed_pipe
def run(args: argparse.Namespace) -> int:
    interval = 0.0 if args.flood else (1.0 if args.interval is None else args.interval)
    session = Ping(args.host, count=args.count, interval=interval, size=args.size, ttl=args.ttl,
                   timeout=args.timeout, deadline=args.deadline, source=args.source, version=args.version,
                   mechanism=args.mechanism)
    names = not args.numeric and not _is_literal(args.host)
    timed = session.template.timestamped
    out = sys.stdout
    with session:
        source, device = _source(args.source, session.version, session.address)
        print(header_line(args.host, session.address, args.size, session.version, source, device), flush=True)
        dots = 0
        try:
            for probe in session.run():
                if args.flood and not args.quiet:
                    out.write("." * (session.transmitted - dots) + ("\b \b" if probe.error is None else "E"))
                    dots = session.transmitted
                    out.flush()
                elif not args.quiet:
                    if probe.error is not None and probe.source is None:
                        print(f"netstudy ping: {probe.error}", file=sys.stderr)
                        continue
                    name = _reverse(probe.source) if names and probe.source else None
                    print(probe_line(probe, timed, name, args.verbose), flush=True)
        except KeyboardInterrupt:
            pass
        if args.flood and not args.quiet:
            out.write("." * (session.transmitted - dots))
        summary = session.summary()
    print("\n".join(statistics_lines(args.host, summary, timed)), flush=True)
    if summary.received == 0 or (args.deadline is not None and args.count is not None
                                 and summary.received < args.count):
        return 1
    return 0
