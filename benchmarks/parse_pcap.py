"""Decoding a capture: netstudy.wire against dpkt and scapy (and tshark for reference), in one run.

    python benchmarks/parse_pcap.py                 # makes benchmarks/data/mixed.pcap (200,000 packets) if missing
    python benchmarks/parse_pcap.py --packets 50000 # a quicker run

Two tasks, each done by every contender on the same packets:

1. decode: every frame down to the transport ports and TCP flags (frames already in memory);
2. table: read the file and build a pandas DataFrame with one row per packet (time, wire and captured
   lengths, truncated, interface, MACs, VLAN, IPs, protocol, ports, TCP flags, ICMP type/code, TTL,
   malformed, and tcpdump's one-line summary, DNS messages included): ``netstudy.pcap.to_frame`` against
   dpkt's parsers (pcap headers, Ethernet, IP, IPv6, ARP, TCP, UDP, ICMP, ICMPv6, DNS) feeding pandas.
   After timing, the two tables are asserted identical (same columns, dtypes and every value); the run
   fails naming the first row and column that differ.

scapy is run on a slice of the packets (it is two orders of magnitude slower) and its rate extrapolated;
tshark runs on the whole file (``-T fields``, one process, C) as a reference, not a target.
Targets (issue 2): decode ≥ 3× dpkt and ≥ 40× scapy; table ≥ 2× dpkt + pandas.
"""
from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import dpkt

from netstudy import pcap
from netstudy.wire import TCP, UDP, decode

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import make_mixed_pcap  # noqa: E402


def cpu(fn, *args) -> tuple[float, object]:
    """Process CPU seconds of one call (the machines are shared: wall time would count the neighbours)."""
    start = time.process_time()
    result = fn(*args)
    return time.process_time() - start, result


def race(ours, theirs, arg, rounds: int) -> tuple[float, float, float, object, object]:
    """Run the two contenders alternately ``rounds`` times on ``arg`` (the machines are shared, and
    neighbours in time share the same load): each one's least CPU time, the median of the per-round
    ratios theirs/ours, and what each returned last."""
    ours_times, their_times = [], []
    for _ in range(rounds):
        seconds, ours_result = cpu(ours, arg)
        ours_times.append(seconds)
        seconds, their_result = cpu(theirs, arg)
        their_times.append(seconds)
    ratio = statistics.median(b / a for a, b in zip(ours_times, their_times, strict=True))
    return min(ours_times), min(their_times), ratio, ours_result, their_result


# -- task 1: decode to ports and flags ---------------------------------------------------------------

def ours_decode(frames: list[bytes]) -> int:
    n = 0
    for data in frames:
        t = decode(data, 1).transport
        if isinstance(t, TCP):
            n += t.sport + t.dport + t.flag_bits
        elif isinstance(t, UDP):
            n += t.sport + t.dport
    return n


def dpkt_decode(frames: list[bytes]) -> int:
    n = 0
    for data in frames:
        eth = dpkt.ethernet.Ethernet(data)
        ip = eth.data
        t = getattr(ip, "data", None)
        if isinstance(t, dpkt.tcp.TCP):
            n += t.sport + t.dport + t.flags
        elif isinstance(t, dpkt.udp.UDP):
            n += t.sport + t.dport
    return n


def scapy_decode(frames: list[bytes]) -> int:
    from scapy.layers.inet import TCP as STCP
    from scapy.layers.inet import UDP as SUDP
    from scapy.layers.l2 import Ether
    n = 0
    for data in frames:
        pkt = Ether(data)
        if STCP in pkt:
            t = pkt[STCP]
            n += t.sport + t.dport + int(t.flags)
        elif SUDP in pkt:
            t = pkt[SUDP]
            n += t.sport + t.dport
    return n


# -- task 2: a DataFrame ----------------------------------------------------------------------------

TCP_LETTERS = ((0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"), (0x10, "."), (0x20, "U"), (0x40, "E"),
               (0x80, "W"), (0x100, "e"))
TCP_FLAGS = ["".join(letter for bit, letter in TCP_LETTERS if bits & bit) or "none" for bits in range(512)]
TCP_OPTION_TEXT = {2: lambda d: f"mss {int.from_bytes(d, 'big')}", 3: lambda d: f"wscale {d[0]}",
                   4: lambda d: "sackOK", 1: lambda d: "nop",
                   8: lambda d: f"TS val {int.from_bytes(d[:4], 'big')} ecr {int.from_bytes(d[4:], 'big')}"}
DNS_TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 28: "AAAA",
             33: "SRV", 41: "OPT", 43: "DS", 46: "RRSIG", 48: "DNSKEY", 64: "SVCB", 65: "HTTPS", 252: "AXFR",
             255: "ANY", 257: "CAA"}
DNS_OPCODES = ("", " inv_q", " stat", " op3", " notify", " update", " op6", " op7", " op8", " updateA", " updateD",
               " updateDA", " updateM", " updateMA", " zoneInit", " zoneRef")      # tcpdump's names
DNS_CLASSES = {1: "", 3: " CHAOS", 4: " HS", 255: " ANY"}
DNS_RCODES = {1: " FormErr", 2: " ServFail", 3: " NXDomain", 4: " NotImp", 5: " Refused"}
DNS_NAME_DATA = {2: "nsname", 5: "cname", 12: "ptrname"}      # the dpkt attribute of a one-name rdata
COLUMNS = ["time", "length", "caplen", "truncated", "interface", "src_mac", "dst_mac", "vlan", "src", "dst",
           "protocol", "sport", "dport", "tcp_flags", "icmp_type", "icmp_code", "ttl", "malformed", "summary"]


def pcap_records(f) -> Iterator[tuple[int, int, bytes]]:
    """(time in ns, length on the wire, captured bytes) per record of a classic pcap, read with dpkt's
    header classes: dpkt.pcap.Reader gives the time as a float or Decimal and drops the wire length."""
    head = f.read(24)
    magic = dpkt.pcap.FileHdr(head).magic
    little = magic in (dpkt.pcap.PMUDPCT_MAGIC, dpkt.pcap.PMUDPCT_MAGIC_NANO)
    if dpkt.pcap.MAGIC_TO_PKT_HDR.get(magic) not in (dpkt.pcap.PktHdr, dpkt.pcap.LEPktHdr):
        raise ValueError(f"not a classic pcap file (magic {magic:08x})")
    if (dpkt.pcap.LEFileHdr if little else dpkt.pcap.FileHdr)(head).linktype != dpkt.pcap.DLT_EN10MB:
        raise ValueError("the dpkt contender reads Ethernet captures only")
    record = dpkt.pcap.LEPktHdr if little else dpkt.pcap.PktHdr
    unit = 1 if magic in (dpkt.pcap.TCPDUMP_MAGIC_NANO, dpkt.pcap.PMUDPCT_MAGIC_NANO) else 1000
    while head := f.read(16):
        h = record(head)
        yield h.tv_sec * 1_000_000_000 + h.tv_usec * unit, h.len, f.read(h.caplen)


def dns_flags(ident: int, op: int) -> str:
    """tcpdump's id and flags: ``1234+`` (a query asking for recursion), ``1234 NXDomain*-`` ..."""
    opcode, rcode = op >> 11 & 0xF, op & 0xF
    text = f"{ident}{DNS_OPCODES[opcode]}"
    if op & 0x8000:
        return (text + (DNS_RCODES.get(rcode, f" Resp{rcode}") if rcode else "") + ("*" if op & 0x400 else "")
                + ("" if op & 0x80 else "-") + ("|" if op & 0x200 else "") + ("$" if op & 0x20 else ""))
    return text + ("+" if op & 0x100 else "") + ("%" if op & 0x10 else "")


def dns_name(name: str) -> str:
    return f"{name}." if name else "."


def dns_class(code: int) -> str:
    return DNS_CLASSES.get(code, f" (Class {code})")


def dns_type(code: int) -> str:
    return DNS_TYPES.get(code) or f"TYPE{code}"


def dns_rdata(rr) -> str:
    if rr.type == 1:
        return socket.inet_ntoa(rr.ip)
    if rr.type == 28:
        return socket.inet_ntop(socket.AF_INET6, rr.ip6)
    if rr.type in DNS_NAME_DATA:
        return dns_name(getattr(rr, DNS_NAME_DATA[rr.type]))
    if rr.type == 15:               # dpkt 1.9.8 keeps the preference as a 1-tuple: read it from the rdata
        return f"{dns_name(rr.mxname)} {int.from_bytes(rr.rdata[:2], 'big')}"   # tcpdump: name, then preference
    return f"\\# {len(rr.rdata)}" + (f" {rr.rdata.hex()}" if rr.rdata else "")     # RFC 3597


def dns_line(payload: bytes) -> str:
    """tcpdump's text for a DNS message: ``50916+ A? db.lab.test. (29)``, ``53954 1/0/0 A 10.1.2.3 (45)``."""
    msg = dpkt.dns.DNS()
    try:
        msg.unpack(payload)
    except (dpkt.UnpackError, struct.error, UnicodeDecodeError):
        return f"{dns_flags(msg.id, msg.op)} [|domain]"          # the header was read before the failure
    text = dns_flags(msg.id, msg.op)
    if len(msg.qd) != 1:
        text += f" [{len(msg.qd)}q]"
    if msg.op & 0x8000:
        text += f" {len(msg.an)}/{len(msg.ns)}/{len(msg.ar)}"
        text += ",".join(f"{dns_class(rr.cls)} {dns_type(rr.type)} {dns_rdata(rr)}" for rr in msg.an)
    else:
        for count, letter in ((len(msg.an), "a"), (len(msg.ns), "n"), (len(msg.ar), "au")):
            if count:
                text += f" [{count}{letter}]"
        for q in msg.qd:                                            # tcpdump: every question
            text += f" {DNS_TYPES.get(q.type) or f'Type{q.type}'}{dns_class(q.cls)}? {dns_name(q.name)}"
    return f"{text} ({len(payload)})"


def tcp_line(t) -> str:
    parts = [f"Flags [{TCP_FLAGS[t.flags]}]"]
    if t.data or t.flags & 0x07:
        parts.append(f"seq {t.seq}" + (f":{(t.seq + len(t.data)) & 0xFFFFFFFF}" if t.data else ""))
    if t.flags & 0x10:
        parts.append(f"ack {t.ack}")
    parts.append(f"win {t.win}")
    if t.opts:
        opts = [TCP_OPTION_TEXT.get(kind, lambda d, k=kind: f"unknown-{k} 0x{d.hex()}")(data)
                for kind, data in dpkt.tcp.parse_opts(t.opts) if kind != 0]
        parts.append(f"options [{','.join(opts)}]")
    parts.append(f"length {len(t.data)}")
    return ", ".join(parts)


def icmp_line(t, family: str) -> str:
    """tcpdump's text for ICMP (``ICMP echo request, id 1, seq 2, length 64``) or ICMPv6 (``ICMP6, echo
    reply, ...``); other types by number only (netstudy names them: a capture of those makes the tables differ)."""
    echo = {8: "request", 0: "reply"} if family == "IP" else {128: "request", 129: "reply"}
    head = "ICMP " if family == "IP" else "ICMP6, "
    if t.type in echo:
        return f"{head}echo {echo[t.type]}, id {t.data.id}, seq {t.data.seq}, length {len(t)}"
    return f"{head}type-#{t.type}, length {len(t)}"


def dpkt_frame(path: Path):
    """The same table as netstudy.pcap.to_frame, built with dpkt's parsers and pandas."""
    import pandas as pd
    rows = []
    ntoa6 = partial(socket.inet_ntop, socket.AF_INET6)
    with open(path, "rb") as f:
        for ns, length, buf in pcap_records(f):
            eth = dpkt.ethernet.Ethernet(buf)
            vlan = eth.vlan_tags[-1].id if getattr(eth, "vlan_tags", None) else None
            src = dst = sport = dport = flags = itype = icode = ttl = None
            malformed, family, proto, net = False, None, "Ethernet", eth.data
            if isinstance(net, dpkt.ip.IP):
                proto, family, ttl = "IPv4", "IP", net.ttl
                src, dst = socket.inet_ntoa(net.src), socket.inet_ntoa(net.dst)
            elif isinstance(net, dpkt.ip6.IP6):
                proto, family, ttl = "IPv6", "IP6", net.hlim
                src, dst = ntoa6(net.src), ntoa6(net.dst)
            elif isinstance(net, dpkt.arp.ARP):
                src, dst, proto = socket.inet_ntoa(net.spa), socket.inet_ntoa(net.tpa), "ARP"
            t = getattr(net, "data", None)
            if isinstance(t, dpkt.tcp.TCP):
                proto, sport, dport, flags = "TCP", t.sport, t.dport, TCP_FLAGS[t.flags]
                line = tcp_line(t)
            elif isinstance(t, dpkt.udp.UDP):
                proto, sport, dport, line = "UDP", t.sport, t.dport, f"UDP, length {len(t.data)}"
                if t.data and 53 in (t.sport, t.dport):
                    if len(t.data) < 12:          # too short for a DNS header: netstudy's malformed mark
                        malformed = True
                        line += f" [|dns: needs 12 bytes, only {len(t.data)} left]"
                    else:
                        proto, line = "DNS", dns_line(t.data)
            elif isinstance(t, (dpkt.icmp.ICMP, dpkt.icmp6.ICMP6)):
                proto, itype, icode = "ICMP" if family == "IP" else "ICMPv6", t.type, t.code
                line = icmp_line(t, family)
            if proto == "ARP":
                summary = (f"ARP, Request who-has {dst} tell {src}, length {len(net)}" if net.op == 1 else
                           f"ARP, Reply {src} is-at {net.sha.hex(':')}, length {len(net)}" if net.op == 2 else
                           f"ARP, opcode {net.op}, length {len(net)}")
            elif family is None:
                summary = f"{eth.src.hex(':')} > {eth.dst.hex(':')}, ethertype 0x{eth.type:04x}"
            elif sport is not None:
                summary = f"{family} {src}.{sport} > {dst}.{dport}: {line}"
            elif itype is not None:
                summary = f"{family} {src} > {dst}: {line}"
            else:
                summary = f"{family} {src} > {dst}: ip-proto-{net.p}, length {len(t)}"
            rows.append((ns, length, len(buf), len(buf) < length, 0, eth.src.hex(":"), eth.dst.hex(":"), vlan,
                         src, dst, proto, sport, dport, flags, itype, icode, ttl, malformed, summary))
    frame = pd.DataFrame.from_records(rows, columns=COLUMNS)
    for name in ("vlan", "sport", "dport", "icmp_type", "icmp_code", "ttl"):
        frame[name] = frame[name].astype("Int64")
    frame["time"] = pd.to_datetime(frame["time"], unit="ns", utc=True)
    return frame


def assert_same_table(ours, theirs) -> None:
    """Fail naming the first row and column where the tables differ (a value, or a column's name or dtype)."""
    import pandas as pd
    if list(ours.columns) != list(theirs.columns) or len(ours) != len(theirs):
        raise AssertionError(f"netstudy has {len(ours)} rows of {list(ours.columns)}, "
                             f"dpkt {len(theirs)} rows of {list(theirs.columns)}")
    first: tuple[int, str] | None = None
    for name in ours.columns:
        a, b = ours[name], theirs[name]
        if a.dtype != b.dtype:
            raise AssertionError(f"column {name!r}: netstudy's dtype is {a.dtype}, dpkt's {b.dtype}")
        differ = ~(a.eq(b).fillna(False) | (a.isna() & b.isna())).to_numpy(dtype=bool)   # NA equals NA
        if differ.any() and (first is None or differ.argmax() < first[0]):
            first = int(differ.argmax()), name
    if first is not None:
        row, name = first
        raise AssertionError(f"the tables differ first at row {row}, column {name!r}: netstudy "
                             f"{ours[name].iloc[row]!r}, dpkt {theirs[name].iloc[row]!r}")
    pd.testing.assert_frame_equal(ours, theirs)      # and whatever the loop does not look at (the index)


def tshark_fields(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport",
                    "-e", "tcp.flags", "-e", "udp.srcport", "-e", "udp.dstport"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=200_000, help="packets in the generated capture")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of each race")
    parser.add_argument("--scapy-slice", type=int, default=5_000, help="packets scapy decodes (rate extrapolated)")
    args = parser.parse_args()
    path = make_mixed_pcap.DEFAULT_OUT if args.packets == 200_000 else HERE / "data" / f"mixed-{args.packets}.pcap"
    if not path.exists():
        print(f"generating {path} ({args.packets} packets)...")
        make_mixed_pcap.generate(path, args.packets)
    frames = [r.data for r in pcap.read(path)]
    n = len(frames)
    assert ours_decode(frames[:2000]) == dpkt_decode(frames[:2000]), "netstudy and dpkt disagree on ports/flags"
    print(f"{n} packets from {path.name}; CPU seconds, netstudy and dpkt run alternately: rates from each "
          f"one's best round, ratio = median of the rounds' ratios\n")

    ours, theirs, ratio = race(ours_decode, dpkt_decode, frames, args.rounds)[:3]
    sl = frames[:args.scapy_slice]
    scapy = cpu(scapy_decode, sl)[0] * n / len(sl)
    print("decode to ports and flags")
    print(f"  netstudy.wire  {n / ours:>10,.0f} packets/s")
    print(f"  dpkt           {n / theirs:>10,.0f} packets/s   netstudy/dpkt  = {ratio:5.1f}×  (target ≥ 3×)")
    print(f"  scapy          {n / scapy:>10,.0f} packets/s   netstudy/scapy = {scapy / ours:5.0f}×  (target ≥ 40×)")
    if shutil.which("tshark"):
        wall = tshark_fields(path)
        print(f"  tshark -T fields {n / wall:>8,.0f} packets/s (wall clock, C; reference only)")

    import pandas  # noqa: F401  (both contenders build pandas tables: imported before the clock starts)
    ours_table, theirs_table, ratio, ours_frame, theirs_frame = race(pcap.to_frame, dpkt_frame, path, args.rounds)
    print("\nDataFrame of the capture")
    print(f"  netstudy.pcap.to_frame {n / ours_table:>10,.0f} packets/s")
    print(f"  dpkt + pandas          {n / theirs_table:>10,.0f} packets/s   ratio {ratio:4.1f}×  (target ≥ 2×)")
    try:
        assert_same_table(ours_frame, theirs_frame)
    except AssertionError as exc:
        print(f"FAIL: the two tables are not the same: {exc}", file=sys.stderr)
        return 1
    print(f"  the two tables are identical: {n} rows × {len(ours_frame.columns)} columns, same dtypes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
