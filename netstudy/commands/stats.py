"""`netstudy stats FILE`: Wireshark's Statistics menu for a capture file, printed as ``tshark -q -z``
prints it (protocol hierarchy, conversations, endpoints, I/O graph) and the TCP handshake, DNS and
TCP flag tables; ``--plot`` draws the table, ``--parquet`` writes it for DuckDB or Spark."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from typing import Any

from netstudy import pcap
from netstudy.commands.common import one_line_errors, seconds, stop_quietly_on_closed_pipe, stopped_by_signals
from netstudy.errors import InputError
from netstudy.stats import (
    PROTOS,
    conversations,
    dns_times,
    endpoints,
    figures,
    handshake_rtts,
    io_graph,
    output,
    protocol_hierarchy,
    read_columns,
    tcp_flags,
    to_parquet,
)

TABLES = ("phs", "conv", "endpoints", "io", "rtt", "dns", "flags")
WITH_PROTO = {"conv": "tcp", "endpoints": "ip", "io": None}       # the tables --proto applies to, and defaults
MAX_INTERVAL = 365 * 86400.0
PROGRESS_FROM = 16 << 20        # a bar for captures of this many bytes or more, and only on a terminal


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="capture statistics like tshark -z: protocol hierarchy, conversations, ...",
                       description="Statistics of a pcap or pcapng file, as tshark -q -z prints them: phs "
                                   "(io,phs), conv (conv,PROTO), endpoints (endpoints,PROTO), io (io,stat,S); "
                                   "and rtt (TCP handshake times), dns (DNS response times), flags (TCP flags "
                                   "per connection).")
    p.add_argument("file", metavar="FILE", help="a pcap or pcapng capture")
    p.add_argument("--table", choices=TABLES, default="phs", help="which table (default: phs)")
    p.add_argument("--proto", choices=PROTOS,
                   help="conv and endpoints: which addresses pair up (default tcp, ip); io: count only its frames")
    p.add_argument("--interval", type=seconds("interval", MAX_INTERVAL), default=1.0, metavar="S",
                   help="io: seconds per interval (default 1)")
    p.add_argument("--plot", metavar="OUT.png", help="also draw the table into this image file")
    p.add_argument("--parquet", metavar="OUT", help="also write the table to this Parquet file (needs pyarrow)")
    one_line_errors(p, "stats")
    p.set_defaults(func=run)


def _progress_wanted() -> bool:
    return sys.stderr.isatty() and sys.stdout.isatty()


def _records(path: str) -> Iterator[pcap.Record]:
    """The capture's records, behind a tqdm bar over its bytes for a long file on a terminal."""
    size = os.path.getsize(path)
    if size < PROGRESS_FROM or not _progress_wanted():
        yield from pcap.read(path)
        return
    from tqdm import tqdm
    with tqdm(total=size, unit="B", unit_scale=True, leave=False, file=sys.stderr) as bar:
        for record in pcap.read(path):
            bar.update(record.caplen + 16)
            yield record


def _table(args: argparse.Namespace) -> tuple[Any, list[str], Any]:
    """The table asked for, its lines, and its figure's function."""
    name, proto = args.table, args.proto
    if proto is not None and name not in WITH_PROTO:
        raise InputError(f"--proto applies to --table {', '.join(WITH_PROTO)}, not {name}")
    if name in WITH_PROTO:
        frame = read_columns(args.file, progress=None if _progress_wanted() else False)
        pair = proto or WITH_PROTO[name] or ""
        if name == "conv":
            table = conversations(frame, pair)
            return table, output.conversation_lines(table, pair), figures.conversation_bars
        if name == "endpoints":
            table = endpoints(frame, pair)
            return table, output.endpoint_lines(table, pair), figures.endpoint_bars
        table = io_graph(frame, args.interval, proto)
        return table, output.io_lines(table, args.interval), figures.io_plot
    if name == "flags":
        table = tcp_flags(read_columns(args.file, progress=None if _progress_wanted() else False))
        return table, output.table_lines(table, "TCP Flags per Connection"), None
    records = _records(args.file)
    if name == "phs":
        table = protocol_hierarchy(records)
        return table, output.hierarchy_lines(table), figures.hierarchy_bars
    if name == "rtt":
        table = handshake_rtts(records)
        return table, output.table_lines(table, "TCP Handshake Times (ms)"), figures.rtt_histogram
    table = dns_times(records)
    return table, output.table_lines(table, "DNS Response Times (ms)"), figures.dns_histogram


@stop_quietly_on_closed_pipe
def run(args: argparse.Namespace) -> int:
    if not os.path.isfile(args.file):
        raise InputError(f"{args.file}: no such capture file")
    if args.plot and args.table == "flags":
        raise InputError("--table flags has no plot")
    try:
        with stopped_by_signals():      # Ctrl-C or kill while a big capture is read: stop, no traceback
            table, lines, draw = _table(args)
    except KeyboardInterrupt:
        return 130
    print("\n".join(lines), flush=True)
    if draw is not None and args.plot:
        draw(table).savefig(args.plot, dpi=120, bbox_inches="tight")
    if args.parquet:
        to_parquet(table, args.parquet)
    return 0
