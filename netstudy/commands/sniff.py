"""`netstudy sniff [-i IFACE] [FILTER…]`: capture frames like tcpdump — a line each (``-v`` every field,
``-X`` the bytes), ``-w`` to a pcap file, ``-r`` from one, a tcpdump filter run by the kernel as classic
BPF (``-d`` prints it), and tcpdump's statistics when it stops."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from netstudy.commands.common import (
    add_mechanism_flag,
    count,
    one_line_errors,
    seconds,
    stop_quietly_on_closed_pipe,
    stopped_by_signals,
)
from netstudy.net.packet import DEFAULT_SNAPLEN, MAX_SNAPLEN, interface_linktype
from netstudy.pcap import CaptureReader
from netstudy.sniff import Captured, Sniffer
from netstudy.sniff.core import MAX_DURATION
from netstudy.sniff.engine import MAX_BUFFER
from netstudy.sniff.output import dissection, end_lines, hex_lines, listening_line, packet_line, reading_line
from netstudy.wire.bpf import BpfProgram, compile_filter


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sniff", help="capture packets like tcpdump (AF_PACKET, a TPACKET_V3 ring, BPF filters)",
                       description="Capture the frames of an interface (root or CAP_NET_RAW) or read a capture "
                                   "file (no privilege needed), print them as tcpdump does, write them to a pcap "
                                   "file. FILTER is a tcpdump expression (tcp port 80, host 10.0.0.1 and not "
                                   "icmp...), compiled to classic BPF and run by the kernel.")
    p.add_argument("filter", nargs="*", metavar="FILTER", help="a tcpdump filter expression")
    p.add_argument("-i", dest="interface", default="lo", metavar="IFACE",
                   help="interface to capture on (default lo; any: every interface, Linux cooked v2 headers)")
    p.add_argument("-c", dest="count", type=count("count"), metavar="N", help="stop after N packets")
    p.add_argument("-G", dest="duration", type=seconds("duration", MAX_DURATION), metavar="SECONDS",
                   help="stop after SECONDS")
    p.add_argument("-s", dest="snaplen", type=count("snaplen", 1, MAX_SNAPLEN), default=DEFAULT_SNAPLEN,
                   metavar="SNAPLEN", help=f"bytes kept of each packet (default {DEFAULT_SNAPLEN})")
    p.add_argument("-B", dest="buffer_kib", type=count("buffer size", 4, MAX_BUFFER // 1024), default=2048,
                   metavar="KiB", help="kernel buffer (the ring) in KiB (default 2048, as tcpdump)")
    p.add_argument("-p", dest="promiscuous", action="store_true",
                   help="promiscuous mode (PACKET_ADD_MEMBERSHIP; tcpdump's -p means the opposite)")
    p.add_argument("-w", dest="write", metavar="FILE", help="write the packets to a pcap file (nanosecond stamps)")
    p.add_argument("-r", dest="read", metavar="FILE", help="read packets from a pcap or pcapng file")
    p.add_argument("-v", dest="verbose", action="store_true", help="every field of every layer")
    p.add_argument("-X", dest="hex", action="store_true", help="the bytes as a hexdump")
    p.add_argument("-d", dest="dump", action="store_true", help="print the compiled BPF program and exit")
    p.add_argument("--nano", action="store_true", help="timestamps to the nanosecond")
    add_mechanism_flag(p, "how frames are read: a memory-mapped TPACKET_V3 ring (default when the kernel has "
                          "one) or a recvfrom() per frame", choices=("auto", "ring", "recvfrom"))
    one_line_errors(p, "sniff")
    p.set_defaults(func=run)


def dump(expression: str, args: argparse.Namespace) -> BpfProgram:
    """The program ``-d`` prints: for the file's link type with ``-r``, else for the live socket (as
    ``tcpdump -d -r FILE`` and ``tcpdump -d -i IFACE`` differ on ``vlan``)."""
    if args.read:
        with CaptureReader(args.read) as reader:
            interfaces = reader.interfaces
        return compile_filter(expression, interfaces[0].linktype if interfaces else 1, args.snaplen)
    return compile_filter(expression, interface_linktype(args.interface), args.snaplen, live=True)


@stop_quietly_on_closed_pipe
def run(args: argparse.Namespace) -> int:
    expression = " ".join(args.filter) or None
    if args.dump:
        print(dump(expression or "", args).listing())
        return 0
    sniffer = Sniffer(args.interface, expression, count=args.count, duration=args.duration, snaplen=args.snaplen,
                      promiscuous=args.promiscuous, mechanism=args.mechanism, buffer_size=args.buffer_kib * 1024,
                      keep=False, write=args.write, file=args.read)
    if args.read:
        print(reading_line(args.read, sniffer.linktype, args.snaplen), file=sys.stderr)
    else:
        print(listening_line(args.interface, sniffer.linktype, args.snaplen, sniffer.mechanism), file=sys.stderr)
    quiet = args.write is not None and not (args.verbose or args.hex)     # tcpdump -w prints no lines
    try:
        with sniffer, stopped_by_signals():
            for frame in _frames(sniffer, quiet):
                packet = frame.decode()
                print(packet_line(frame, packet, args.nano))
                if args.verbose:
                    print(dissection(packet))
                if args.hex:
                    print(hex_lines(packet))
    except KeyboardInterrupt:
        pass
    sys.stdout.flush()
    if not args.read:
        print("\n".join(end_lines(sniffer.result().stats)), file=sys.stderr)
    return 0


def _frames(sniffer: Sniffer, quiet: bool) -> Iterator[Captured]:
    """The frames to print; none when ``quiet`` (read a ring block at a time, written by the sniffer)."""
    if not quiet:
        yield from sniffer
        return
    for _ in sniffer.batches():
        pass
