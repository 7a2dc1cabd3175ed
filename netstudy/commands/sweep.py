"""`netstudy sweep CIDR`: which addresses of a network are alive, all probes in flight at once; one
live host a line like ``fping -a -e`` (with MAC and vendor for ARP, like ``nmap -sn``), then a summary."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from netstudy.commands.common import (
    Number,
    add_mechanism_flag,
    count,
    one_line_errors,
    port,
    seconds,
    stop_quietly_on_closed_pipe,
    stopped_by_signals,
)
from netstudy.errors import InputError
from netstudy.sweep import Sweep, SweepResult, host_line, summary_line, sweep
from netstudy.sweep.engine import MAX_BACKOFF, MAX_RATE, MAX_RETRIES, MAX_TIMEOUT, TCP_PORTS

PROGRESS_FROM = 512            # a progress bar only for sweeps this long, and only on a terminal


def _ports(text: str) -> list[int]:
    """``80,443,22``: each a port to connect to (1-65535)."""
    words = [word for word in text.split(",") if word]
    if not words:
        raise argparse.ArgumentTypeError(f"ports must be numbers separated by commas, not {text!r}")
    try:
        return [int(port("port").parse(word)) for word in words]
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="find the live hosts of a network (ICMP, ARP or TCP), like fping -g / nmap -sn",
                       description="Probe every address of a network at once, at a steady rate, and print the "
                                   "hosts that answer, like fping -a -e -g or nmap -sn. ICMP echo uses a raw "
                                   "socket when privileged, else the unprivileged ICMP socket "
                                   "(net.ipv4.ping_group_range); ARP needs a packet socket (root) and a local "
                                   "segment; TCP sends SYNs to a few ports from a raw socket when privileged "
                                   "(like nmap -PS), else connects to them, which needs no privilege.")
    p.add_argument("targets", nargs="+", metavar="CIDR",
                   help="network(s) or address(es), e.g. 127.0.0.0/28; at most a /16")
    p.add_argument("--method", choices=("icmp", "arp", "tcp", "all"), default="icmp",
                   help="icmp echo (default), arp who-has (local segment), tcp SYN or connect, or all three")
    p.add_argument("--rate", type=Number("rate", 0, MAX_RATE, above=True), default=1000.0, metavar="N",
                   help="probes a second (default 1000)")
    p.add_argument("--timeout", type=seconds("timeout", MAX_TIMEOUT), default=0.5, metavar="S",
                   help="seconds the first attempt waits for an answer (default 0.5)")
    p.add_argument("--retries", type=count("retries", 0, MAX_RETRIES), default=1, metavar="N",
                   help="attempts after the first (default 1)")
    p.add_argument("--backoff", type=Number("backoff", 1, MAX_BACKOFF), default=1.5, metavar="F",
                   help="each retry waits F times longer than the one before (default 1.5, as fping)")
    p.add_argument("-p", "--ports", type=_ports, default=list(TCP_PORTS), metavar="P,P",
                   help=f"TCP ports to knock on (default {','.join(map(str, TCP_PORTS))})")
    p.add_argument("-I", "--interface", metavar="IFACE", help="interface (ARP) or source address/interface (ICMP)")
    p.add_argument("-v", "--verbose", action="store_true", help="also list silent and unreachable addresses")
    p.add_argument("--dns-server", metavar="ADDRESS[:PORT]",
                   help="name the live hosts by PTR lookups to this DNS server (netstudy's resolver)")
    add_mechanism_flag(p, "socket to use: ICMP raw or datagram, TCP raw (SYNs) or connect (default: raw if "
                          "privileged, else datagram or connect)", ("auto", "raw", "datagram", "connect"))
    one_line_errors(p, "sweep")
    p.set_defaults(func=run)


def _progress(total: int) -> Any:
    """A tqdm bar on stderr for a long sweep on a terminal; None otherwise (a pipe, a log, a notebook)."""
    if total < PROGRESS_FROM or not (sys.stderr.isatty() and sys.stdout.isatty()):
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="addr", leave=False, file=sys.stderr)


def _names(result: SweepResult, server: str) -> dict[str, str]:
    """PTR names of the live hosts, asked of ``server`` all at once (netstudy.dns)."""
    from netstudy.dns import query_many
    from netstudy.wire.dns import reverse_name
    host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "53")
    host = host or server
    try:
        number = int(port or 53)
    except ValueError:
        raise InputError(f"--dns-server {server}: the port must be a number") from None
    alive = [t.address for t in result.alive]
    names = {}
    for address, lookup in zip(alive, query_many([(reverse_name(a), "PTR") for a in alive], host, number,
                                                 timeout=1.0, tries=2), strict=True):
        if not isinstance(lookup, Exception) and lookup.answers("PTR"):
            names[address] = lookup.answers("PTR")[0].rstrip(".")
    return names


@stop_quietly_on_closed_pipe
def run(args: argparse.Namespace) -> int:
    options: dict[str, Any] = dict(rate=args.rate, timeout=args.timeout, retries=args.retries, backoff=args.backoff)
    if args.method in ("icmp", "all"):
        options.update(mechanism=args.mechanism, source=args.interface if args.method == "icmp" else None)
    if args.method in ("arp", "all"):
        options["interface"] = args.interface
    if args.method in ("tcp", "all"):
        options["ports"] = args.ports
    if args.method == "tcp":
        options["mechanism"] = args.mechanism
    live = args.dns_server is None and args.method != "all"
    if args.method == "all":
        result = sweep(args.targets, "all", **options)
    else:
        with Sweep(args.targets, method=args.method, **options) as session:
            bar = _progress(len(session.addresses))
            try:
                with stopped_by_signals():  # kill (SIGTERM) ends it as Ctrl-C does: the summary printed
                    for target in session.run():
                        if bar is not None:
                            bar.update(1)
                        if live and (target.alive or args.verbose):
                            if bar is not None:
                                bar.clear()
                            print(host_line(target), flush=True)
            except KeyboardInterrupt:
                session.table.finish(time.perf_counter_ns())
            finally:
                if bar is not None:
                    bar.close()
            result = session.result()
    if not live:
        names = _names(result, args.dns_server) if args.dns_server else {}
        for target in result.targets:
            if target.alive or args.verbose:
                line = host_line(target)
                print(line + (f" {names[target.address]}" if target.address in names else ""))
    print(summary_line(result), flush=True)
    return 0 if result.alive else 1
