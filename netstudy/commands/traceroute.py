"""`netstudy traceroute HOST`: the path hop by hop, printed like `traceroute -n`."""
from __future__ import annotations

import argparse

from netstudy.commands.common import (
    Number,
    add_family_flags,
    add_mechanism_flag,
    count,
    one_line_errors,
    port,
    seconds,
    stop_quietly_on_closed_pipe,
    stopped_by_signals,
    ttl,
)
from netstudy.icmp import Traceroute, hop_line, trace_header_line
from netstudy.icmp.engine import BASE_PORT, MAX_PACKET, MAX_QUERIES, MAX_SECONDS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("traceroute", help="print the routers on the way to a host, like traceroute -n",
                       description="Send probes with TTL 1, 2, 3, ... (ICMP echo by default, or UDP to high "
                                   "ports) and print who answers each, like traceroute -n. ICMP probes need a "
                                   "raw socket or net.ipv4.ping_group_range; UDP probes work unprivileged.")
    p.add_argument("host", help="host name or address")
    p.add_argument("packet_size", nargs="?", type=Number("packet length", 0, MAX_PACKET, whole=True),
                   help="bytes per probe, IP header included (60; IPv6 80)")
    method = p.add_mutually_exclusive_group()
    method.add_argument("-I", "--icmp", dest="method", action="store_const", const="icmp",
                        help="ICMP echo probes (the default)")
    method.add_argument("-U", "--udp", dest="method", action="store_const", const="udp",
                        help=f"UDP probes to ports {BASE_PORT} and up")
    p.add_argument("-m", dest="max_hops", type=ttl("max hops"), default=30, metavar="MAX_TTL",
                   help="max hops (default 30)")
    p.add_argument("-f", dest="first_ttl", type=ttl("first ttl"), default=1, metavar="FIRST_TTL",
                   help="start at this TTL")
    p.add_argument("-q", dest="queries", type=count("probes per hop", high=MAX_QUERIES), default=3, metavar="NQUERIES",
                   help="probes per hop (default 3)")
    p.add_argument("-w", dest="wait", type=seconds("wait", MAX_SECONDS), default=5.0, metavar="SECONDS",
                   help="give a probe up after this long (default 5)")
    p.add_argument("-N", dest="parallel", type=count("probes in flight", high=255 * MAX_QUERIES), default=16,
                   metavar="SQUERIES",
                   help="probes in flight at once (default 16)")
    p.add_argument("-p", dest="port", type=port("port"), default=BASE_PORT,
                   help=f"first UDP port (default {BASE_PORT})")
    p.add_argument("-s", dest="source", metavar="ADDRESS", help="source address (or interface name)")
    p.add_argument("-n", dest="numeric", action="store_true", help="numeric output (always: accepted for habit)")
    add_family_flags(p)
    add_mechanism_flag(p, "raw socket, or the unprivileged one (ICMP socket / UDP error queue)")
    one_line_errors(p, "traceroute")
    p.set_defaults(func=run, method="icmp")


@stop_quietly_on_closed_pipe
def run(args: argparse.Namespace) -> int:
    tracer = Traceroute(args.host, method=args.method, max_hops=args.max_hops, first_ttl=args.first_ttl,
                        queries=args.queries, wait=args.wait, parallel=args.parallel, port=args.port,
                        packet_size=args.packet_size, source=args.source, version=args.version,
                        mechanism=args.mechanism)
    with tracer:
        print(trace_header_line(args.host, tracer.address, tracer.max_hops, tracer.packet_size), flush=True)
        try:
            with stopped_by_signals():      # kill (SIGTERM) ends it as Ctrl-C does
                for hop in tracer.run():
                    print(hop_line(hop), flush=True)
        except KeyboardInterrupt:
            return 130
    return 0
