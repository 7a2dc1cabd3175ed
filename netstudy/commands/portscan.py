"""`netstudy portscan TARGET`: which TCP/UDP ports are open, closed or filtered, by a connect (``-sT``),
SYN (``-sS``) or UDP (``-sU``) scan; the report in nmap's shape (``PORT STATE SERVICE REASON``)."""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from netstudy.commands.common import (
    Number,
    add_mechanism_flag,
    count,
    one_line_errors,
    seconds,
    stop_quietly_on_closed_pipe,
    stopped_by_signals,
)
from netstudy.errors import InputError
from netstudy.portscan import PortScan, combine, grab_banners
from netstudy.portscan.engine import MAX_PARALLEL, MAX_RATE, MAX_RETRIES, MAX_TIMEOUT, MAX_WORKERS, SPLIT_FROM
from netstudy.portscan.output import report_lines

PROGRESS_FROM = 1000            # a progress bar only for scans this long, and only on a terminal


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("portscan", help="scan TCP/UDP ports with nmap's states and reasons (connect, SYN, UDP)",
                       description="Scan the ports of a host (or a list, or a CIDR up to a /16) like nmap -Pn: "
                                   "-sT connects (no privilege needed), -sS sends SYNs on a raw socket (root or "
                                   "CAP_NET_RAW), -sU sends UDP probes (raw when privileged, else connected UDP "
                                   "sockets). Ports: nmap's spec (22,80,443  1-1024  -  U:53,T:80) or --top-ports.")
    p.add_argument("targets", nargs="+", metavar="TARGET", help="host, address or CIDR (default use: 127.0.0.1)")
    p.add_argument("-p", dest="ports", metavar="SPEC", help="ports, as nmap writes them (default: 1-1000)")
    p.add_argument("-sT", dest="scans", action="append_const", const="connect", help="TCP connect scan (default)")
    p.add_argument("-sS", dest="scans", action="append_const", const="syn", help="TCP SYN scan (raw socket)")
    p.add_argument("-sU", dest="scans", action="append_const", const="udp", help="UDP scan")
    p.add_argument("--top-ports", type=count("top ports", 1, 65535), metavar="N",
                   help="the N ports most often open (nmap-services)")
    p.add_argument("--rate", type=Number("rate", 0, MAX_RATE, above=True), metavar="N",
                   help="probes a second (default: unpaced TCP, 500 UDP)")
    p.add_argument("--timeout", type=seconds("timeout", MAX_TIMEOUT), default=1.0, metavar="S",
                   help="seconds the first attempt waits for an answer (default 1)")
    p.add_argument("--retries", type=count("retries", 0, MAX_RETRIES), metavar="N",
                   help="attempts after the first (default: 1 TCP, 2 UDP)")
    p.add_argument("--parallel", type=count("parallel", 1, MAX_PARALLEL), metavar="N",
                   help="probes in flight at once (default 1024 connect)")
    p.add_argument("--workers", type=count("workers", 1, MAX_WORKERS), metavar="N",
                   help=f"processes sharing the ports (default: one per core for a TCP scan of {SPLIT_FROM} "
                        f"probes or more, else 1)")
    p.add_argument("--banners", action="store_true", help="read what open TCP services say first")
    p.add_argument("-oN", dest="normal", metavar="FILE", help="also write the report to FILE")
    p.add_argument("-oJ", dest="json", metavar="FILE", help="write the results as JSON to FILE")
    add_mechanism_flag(p, "UDP scan: raw sockets (privileged) or connected datagram sockets (default: raw if "
                          "allowed); SYN scan: answers from a packet ring (default), or raw: a raw socket")
    one_line_errors(p, "portscan")
    p.set_defaults(func=run)


def _progress(total: int) -> Any:
    """A tqdm bar on stderr for a long scan on a terminal; None otherwise (a pipe, a log, a file)."""
    if total < PROGRESS_FROM or not (sys.stderr.isatty() and sys.stdout.isatty()):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="port", leave=False, file=sys.stderr)


@stop_quietly_on_closed_pipe
def run(args: argparse.Namespace) -> int:
    scans = list(dict.fromkeys(args.scans or ["connect"]))
    if "connect" in scans and "syn" in scans:
        raise InputError("-sT and -sS are both TCP scans: choose one")
    results = []
    # the scans are closed once the report is out: a split scan's workers, done, finish closing their
    # sockets while it is written, and are reaped after
    with contextlib.ExitStack() as open_scans:
        for kind in scans:
            scan = open_scans.enter_context(
                PortScan(args.targets, args.ports, scan=kind, top_ports=args.top_ports, rate=args.rate,
                         timeout=args.timeout, retries=args.retries, parallel=args.parallel,
                         mechanism=args.mechanism, workers=args.workers))
            bar = _progress(scan.total)
            try:
                with stopped_by_signals():  # kill (SIGTERM) ends it as Ctrl-C does: the report printed
                    for settled in scan.progress():
                        if bar is not None:
                            bar.update(len(settled))
            except KeyboardInterrupt:
                scan.interrupt()
            finally:
                if bar is not None:
                    bar.close()
            results.append(scan.result())
        result = combine(results)
        if args.banners:
            grab_banners(result.records, min(args.timeout * 2, 5.0))
        started = time.strftime("%Y-%m-%d %H:%M %Z")
        result.started = result.started or started
        lines = report_lines(result)
        print("\n".join(lines), flush=True)
        if args.normal:
            Path(args.normal).write_text("\n".join(lines) + "\n")
        if args.json:
            Path(args.json).write_text(result.to_json() + "\n")
    return 0
