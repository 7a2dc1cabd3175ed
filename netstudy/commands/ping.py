"""`netstudy ping HOST`: iputils ping's options and output, on netstudy's ICMP engine."""
from __future__ import annotations

import argparse
import socket
import sys

from netstudy.commands.common import (
    Number,
    add_family_flags,
    add_mechanism_flag,
    count,
    is_address,
    one_line_errors,
    reverse,
    seconds,
    stop_quietly_on_closed_pipe,
    stopped_by_signals,
    ttl,
)
from netstudy.icmp import Ping, header_line, probe_line, statistics_lines
from netstudy.icmp.engine import MAX_COUNT, MAX_DEADLINE, MAX_PAYLOAD, MAX_SECONDS
from netstudy.net import bind_to_device


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ping", help="send ICMP echo requests, like iputils ping",
                       description="Send ICMP echo requests and print the replies and statistics as iputils "
                                   "ping does. Uses a raw socket when privileged, else the kernel's "
                                   "unprivileged ICMP socket (net.ipv4.ping_group_range).")
    p.add_argument("host", help="host name or address")
    p.add_argument("-c", dest="count", type=count("count", high=MAX_COUNT), metavar="COUNT",
                   help="stop after COUNT probes")
    p.add_argument("-i", dest="interval", type=seconds("interval", MAX_SECONDS, above=False), default=None,
                   metavar="SECONDS",
                   help="seconds between probes (default 1; under 0.002 only for root)")
    p.add_argument("-s", dest="size", type=Number("size", 0, MAX_PAYLOAD[6], whole=True), default=56,
                   metavar="BYTES", help="payload bytes (default 56)")
    p.add_argument("-t", dest="ttl", type=ttl("ttl"), metavar="TTL", help="IP time to live / IPv6 hop limit")
    p.add_argument("-W", dest="timeout", type=seconds("timeout", MAX_SECONDS), default=10.0, metavar="SECONDS",
                   help="time to wait for a reply (default 10)")
    p.add_argument("-w", dest="deadline", type=seconds("deadline", MAX_DEADLINE), metavar="SECONDS",
                   help="stop after SECONDS in all")
    p.add_argument("-I", dest="source", metavar="ADDRESS|IFACE", help="source address or interface")
    p.add_argument("-q", dest="quiet", action="store_true", help="print only the summary")
    p.add_argument("-f", dest="flood", action="store_true",
                   help="flood: next probe as soon as the reply is back (root only); prints . and backspace")
    p.add_argument("-n", dest="numeric", action="store_true", help="numeric output only (no reverse lookups)")
    p.add_argument("-v", dest="verbose", action="store_true", help="also mark late and out-of-order replies")
    add_family_flags(p)
    add_mechanism_flag(p, "socket to use (default: raw if privileged, else datagram)")
    one_line_errors(p, "ping")
    p.set_defaults(func=run)


def _source(source: str | None, version: int, target: str) -> tuple[str | None, str]:
    """The source address to print, and the interface when -I named one: the address the kernel
    picks on that interface for this target (a UDP socket's connect sends nothing)."""
    if source is None or is_address(source):
        return source, ""
    with socket.socket(socket.AF_INET if version == 4 else socket.AF_INET6, socket.SOCK_DGRAM) as probe:
        bind_to_device(probe, source)
        probe.connect((target, 1025))
        return probe.getsockname()[0], source


@stop_quietly_on_closed_pipe
def run(args: argparse.Namespace) -> int:
    interval = 0.0 if args.flood else (1.0 if args.interval is None else args.interval)
    session = Ping(args.host, count=args.count, interval=interval, size=args.size, ttl=args.ttl,
                   timeout=args.timeout, deadline=args.deadline, source=args.source, version=args.version,
                   mechanism=args.mechanism)
    names = not args.numeric and not is_address(args.host)
    timed = session.template.timestamped
    out = sys.stdout
    with session:
        source, device = _source(args.source, session.version, session.address)
        own_name = None
        if session.version == 6 and args.host != session.address.split("%")[0]:
            own_name = reverse(session.address)      # iputils names an IPv6 address reached by name
        print(header_line(args.host, session.address, args.size, session.version, source, device, own_name),
              flush=True)
        dots = 0
        try:
            with stopped_by_signals():      # kill (SIGTERM) ends it as Ctrl-C does: statistics printed
                for probe in session.run():
                    if args.flood and not args.quiet:
                        out.write("." * (session.transmitted - dots) + ("\b \b" if probe.error is None else "E"))
                        dots = session.transmitted
                        out.flush()
                    elif not args.quiet:
                        if probe.error is not None and probe.source is None:
                            print(f"netstudy ping: {probe.error}", file=sys.stderr)
                            continue
                        name = reverse(probe.source) if names and probe.source else None
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
