"""Decoding a capture: netstudy.wire against dpkt and scapy (and tshark for reference), in one run.

    python benchmarks/parse_pcap.py                 # makes benchmarks/data/mixed.pcap (200,000 packets) if missing
    python benchmarks/parse_pcap.py --packets 50000 # a quicker run

Two tasks, each done by every contender on the same packets:

1. decode: every frame down to the transport ports and TCP flags (frames already in memory);
2. table: read the file and build a pandas DataFrame with one row per packet (time, lengths, MACs, IPs,
   protocol, ports, TCP flags, ICMP type/code, TTL, a one-line summary): ``netstudy.pcap.to_frame``
   against dpkt's reader and parsers feeding pandas the same columns.

scapy is run on a slice of the packets (it is two orders of magnitude slower) and its rate extrapolated;
tshark runs on the whole file (``-T fields``, one process, C) as a reference, not a target.
Targets (issue 2): decode ≥ 3× dpkt and ≥ 40× scapy; table ≥ 2× dpkt + pandas.
"""
from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

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


def best(fn, *args, repeat: int = 3) -> float:
    return min(cpu(fn, *args)[0] for _ in range(repeat))


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
    import dpkt
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
               (0x80, "W"))
TCP_OPTION_TEXT = {2: lambda d: f"mss {int.from_bytes(d, 'big')}", 3: lambda d: f"wscale {d[0]}",
                   4: lambda d: "sackOK", 1: lambda d: "nop",
                   8: lambda d: f"TS val {int.from_bytes(d[:4], 'big')} ecr {int.from_bytes(d[4:], 'big')}"}


def dpkt_summary(src: str, dst: str, t) -> str:
    """The tcpdump-style line netstudy writes, built from dpkt's parse: the same work for both."""
    import dpkt
    if isinstance(t, dpkt.tcp.TCP):
        flags = "".join(letter for bit, letter in TCP_LETTERS if t.flags & bit) or "none"
        parts = [f"Flags [{flags}]"]
        if t.data or t.flags & 0x07:
            parts.append(f"seq {t.seq}" + (f":{(t.seq + len(t.data)) & 0xFFFFFFFF}" if t.data else ""))
        if t.flags & 0x10:
            parts.append(f"ack {t.ack}")
        parts.append(f"win {t.win}")
        if t.opts:
            opts = [TCP_OPTION_TEXT.get(kind, lambda d, k=kind: f"unknown-{k}")(data)
                    for kind, data in dpkt.tcp.parse_opts(t.opts) if kind != 0]
            parts.append(f"options [{','.join(opts)}]")
        parts.append(f"length {len(t.data)}")
        return f"IP {src}.{t.sport} > {dst}.{t.dport}: {', '.join(parts)}"
    if isinstance(t, dpkt.udp.UDP):
        return f"IP {src}.{t.sport} > {dst}.{t.dport}: UDP, length {len(t.data)}"
    if isinstance(t, (dpkt.icmp.ICMP, dpkt.icmp6.ICMP6)):
        return f"IP {src} > {dst}: ICMP type {t.type} code {t.code}, length {len(t)}"
    return f"{src} > {dst}"


def dpkt_frame(path: Path):
    """The same table as netstudy.pcap.to_frame, built with dpkt's reader and parsers and pandas."""
    import dpkt
    import pandas as pd
    rows = []
    ntoa6 = lambda b: socket.inet_ntop(socket.AF_INET6, b)  # noqa: E731
    with open(path, "rb") as f:
        for ts, buf in dpkt.pcap.Reader(f):
            eth = dpkt.ethernet.Ethernet(buf)
            vlan = eth.vlan_tags[0].id if getattr(eth, "vlan_tags", None) else None
            src = dst = proto = sport = dport = flags = itype = icode = ttl = None
            ip = eth.data
            if isinstance(ip, dpkt.ip.IP):
                src, dst, ttl, proto = socket.inet_ntoa(ip.src), socket.inet_ntoa(ip.dst), ip.ttl, "IPv4"
            elif isinstance(ip, dpkt.ip6.IP6):
                src, dst, ttl, proto = ntoa6(ip.src), ntoa6(ip.dst), ip.hlim, "IPv6"
            elif isinstance(ip, dpkt.arp.ARP):
                src, dst, proto = socket.inet_ntoa(ip.spa), socket.inet_ntoa(ip.tpa), "ARP"
            t = getattr(ip, "data", None)
            if isinstance(t, dpkt.tcp.TCP):
                proto, sport, dport = "TCP", t.sport, t.dport
                flags = "".join(letter for bit, letter in TCP_LETTERS if t.flags & bit) or "none"
            elif isinstance(t, dpkt.udp.UDP):
                proto, sport, dport = ("DNS" if 53 in (t.sport, t.dport) else "UDP"), t.sport, t.dport
            elif isinstance(t, (dpkt.icmp.ICMP, dpkt.icmp6.ICMP6)):
                proto, itype, icode = "ICMP", t.type, t.code
            rows.append((int(ts * 1_000_000_000), len(buf), eth.src.hex(":"), eth.dst.hex(":"), vlan, src, dst,
                         proto, sport, dport, flags, itype, icode, ttl, dpkt_summary(src, dst, t)))
    frame = pd.DataFrame.from_records(rows, columns=["timestamp_ns", "length", "src_mac", "dst_mac", "vlan", "src",
                                                     "dst", "protocol", "sport", "dport", "tcp_flags", "icmp_type",
                                                     "icmp_code", "ttl", "summary"])
    for name in ("vlan", "sport", "dport", "icmp_type", "icmp_code", "ttl"):
        frame[name] = frame[name].astype("Int64")
    frame.insert(0, "time", pd.to_datetime(frame.pop("timestamp_ns"), unit="ns", utc=True))
    return frame


def tshark_fields(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport",
                    "-e", "tcp.flags", "-e", "udp.srcport", "-e", "udp.dstport"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=200_000, help="packets in the generated capture")
    parser.add_argument("--scapy-slice", type=int, default=5_000, help="packets scapy decodes (rate extrapolated)")
    args = parser.parse_args()
    path = make_mixed_pcap.DEFAULT_OUT if args.packets == 200_000 else HERE / "data" / f"mixed-{args.packets}.pcap"
    if not path.exists():
        print(f"generating {path} ({args.packets} packets)...")
        make_mixed_pcap.generate(path, args.packets)
    frames = [r.data for r in pcap.read(path)]
    n = len(frames)
    assert ours_decode(frames[:2000]) == dpkt_decode(frames[:2000]), "netstudy and dpkt disagree on ports/flags"
    print(f"{n} packets from {path.name}; CPU seconds, best of 3\n")

    ours = best(ours_decode, frames)
    theirs = best(dpkt_decode, frames)
    sl = frames[:args.scapy_slice]
    scapy = cpu(scapy_decode, sl)[0] * n / len(sl)
    print("decode to ports and flags")
    print(f"  netstudy.wire  {n / ours:>10,.0f} packets/s")
    print(f"  dpkt           {n / theirs:>10,.0f} packets/s   netstudy/dpkt  = {theirs / ours:5.1f}×  (target ≥ 3×)")
    print(f"  scapy          {n / scapy:>10,.0f} packets/s   netstudy/scapy = {scapy / ours:5.0f}×  (target ≥ 40×)")
    if shutil.which("tshark"):
        wall = tshark_fields(path)
        print(f"  tshark -T fields {n / wall:>8,.0f} packets/s (wall clock, C; reference only)")

    ours_table = best(pcap.to_frame, path, repeat=2)
    theirs_table = best(dpkt_frame, path, repeat=2)
    print("\nDataFrame of the capture")
    print(f"  netstudy.pcap.to_frame {n / ours_table:>10,.0f} packets/s")
    print(f"  dpkt + pandas          {n / theirs_table:>10,.0f} packets/s   ratio {theirs_table / ours_table:4.1f}×"
          f"  (target ≥ 2×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
