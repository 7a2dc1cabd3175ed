"""Write the captures the reassembly tests compare with tshark: TCP streams with retransmissions (exact
and partial), out-of-order, overlapping and lost segments, sequence wraparound and a capture started
mid-stream; TCP segments in IPv4 and IPv6 fragments; pipelined DNS over TCP; and a DNS-over-TCP
exchange recorded live (dig +tcp and netstudy's DNS server on loopback); and real TCP between two
network namespaces losing segments to an nftables rule, recorded with tcpdump.

    .venv/bin/python tests/data/record_reassembly.py            # crafted files (no privilege needed)
    sudo .venv/bin/python tests/data/record_reassembly.py --dns  # and lo_dns_tcp.pcap (tcpdump, dig +tcp)
    sudo .venv/bin/python tests/data/record_reassembly.py --lab  # and lab_tcp_loss_*.pcap (namespaces, nftables)

The crafted segments are built with netstudy.wire (every length and checksum filled in) and written
with netstudy.pcap: the kernel has no netem here (DESIGN.md), so loss and reordering are made by hand,
in a known order, so each anomaly the tests expect is where the script put it.
"""
from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

from netstudy.pcap import LinkType, PcapWriter
from netstudy.wire import TCP, Ethernet, IPv4, IPv6, IPv6Fragment
from netstudy.wire.dns import Message, Question, tcp_frame

OUT = Path(__file__).resolve().parent / "captures"
START_NS = 1_800_000_000_000_000_000
NAMES = ("www.netstudy.test", "mail.netstudy.test", "absent.netstudy.test")   # the last one: NXDOMAIN
MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


class Conversation:
    """Segments of one TCP connection between A (client) and B (server), numbered from each ISN."""

    def __init__(self, a: str, b: str, sport: int, dport: int, isn_a: int, isn_b: int) -> None:
        self.ends = ((a, sport), (b, dport))
        self.isn = (isn_a, isn_b)
        self.v6 = ":" in a

    def ip(self, side: int) -> IPv4 | IPv6:
        src, dst = self.ends[side][0], self.ends[1 - side][0]
        return IPv6(src=src, dst=dst) if self.v6 else IPv4(src=src, dst=dst, identification=0)

    def segment(self, side: int, rel: int, data: bytes = b"", flags: str = "P.", ack: int = 1) -> bytes:
        """A segment from ``side`` at relative sequence ``rel`` acknowledging the other side's ``ack``."""
        tcp = TCP(sport=self.ends[side][1], dport=self.ends[1 - side][1], seq=(self.isn[side] + rel) % 2**32,
                  ack=(self.isn[1 - side] + ack) % 2**32 if "." in flags else 0, flags=flags, window=65535)
        return (self.ip(side) / tcp / data).build()

    def handshake(self) -> list[bytes]:
        return [self.segment(0, 0, flags="S", ack=0), self.segment(1, 0, flags="S.", ack=1),
                self.segment(0, 1, flags=".", ack=1)]


def frame(datagram: bytes) -> bytes:
    ethertype = 0x86DD if datagram[0] >> 4 == 6 else 0x0800
    return (Ethernet(src=MAC_A, dst=MAC_B, ethertype=ethertype) / datagram).build()


def write(name: str, datagrams: list[bytes]) -> None:
    with PcapWriter(OUT / name, LinkType.ETHERNET) as writer:
        for i, datagram in enumerate(datagrams):
            writer.write(frame(datagram), START_NS + i * 1_000_000)
    print(f"{name}: {len(datagrams)} packets")


def anomalies() -> list[bytes]:
    """Three streams: retransmissions, reordering, overlaps and a loss; wraparound; mid-stream."""
    c = Conversation("10.20.0.1", "10.20.0.2", 40000, 8080, 1000, 5000)
    text = bytes(range(32, 127)) * 4                     # 380 bytes the client sends, 10 pieces of 38
    p = [text[i:i + 38] for i in range(0, 380, 38)]
    at = [1 + 38 * i for i in range(10)]
    out = c.handshake()
    out += [c.segment(0, at[0], p[0]), c.segment(0, at[0], p[0])]                  # exact retransmission
    out += [c.segment(0, at[2], p[2]), c.segment(0, at[1], p[1])]                  # out of order
    out += [c.segment(0, at[1] + 10, p[1][10:] + p[2] + p[3])]                      # partial retransmission
    out += [c.segment(0, at[4] + 5, b"X" * 20)]                                     # waits past a hole...
    out += [c.segment(0, at[4], p[4] + p[5][:10])]                                  # ...first copy of 5 wins
    out += [c.segment(0, at[5], b"Y" * 38)]                                         # overlap, other bytes
    out += [c.segment(0, at[6], p[6])]
    out += [c.segment(0, at[8], p[8]), c.segment(0, at[9], p[9])]                   # p[7] never captured
    out += [c.segment(1, 1, b"HTTP/1.0 200 OK\r\n\r\n", ack=at[9] + 38)]            # acknowledged past it
    out += [c.segment(0, 381, flags="F.", ack=20), c.segment(1, 20, flags="F.", ack=382),
            c.segment(0, 382, flags=".", ack=21)]
    w = Conversation("10.20.0.1", "10.20.0.2", 40001, 8080, 2**32 - 20, 2**32 - 3)  # both ISNs wrap
    out += w.handshake()
    out += [w.segment(0, 1 + 30, b"b" * 30), w.segment(0, 1, b"a" * 30), w.segment(1, 1, b"c" * 40, ack=61)]
    out += [w.segment(0, 61, flags="R.", ack=41)]
    m = Conversation("10.20.0.3", "10.20.0.2", 40002, 22, 777_000, 888_000)         # the capture starts here
    out += [m.segment(0, 500, b"midstream 1 "), m.segment(1, 300, b"reply ", ack=512),
            m.segment(0, 512, b"midstream 2", ack=306)]
    # a client that reuses port 40000 with a new ISN after the first connection closed: a new stream
    r = Conversation("10.20.0.1", "10.20.0.2", 40000, 8080, 90_000, 91_000)
    out += r.handshake() + [r.segment(0, 1, b"again"), r.segment(1, 1, flags="R.", ack=6)]
    return out


def fragments_v4(datagram: bytes, size: int, order: list[int]) -> list[bytes]:
    """The IPv4 datagram cut into fragments of ``size`` payload bytes (a multiple of 8), sent in ``order``."""
    head, payload = datagram[:20], datagram[20:]
    ip = IPv4.parse(head)
    pieces = []
    for start in range(0, len(payload), size):
        frag = IPv4(src=ip.src, dst=ip.dst, identification=0x4242 + len(datagram), protocol=ip.protocol,
                    mf=start + size < len(payload), fragment_offset=start // 8)
        pieces.append(frag.build(payload[start:start + size]))
    return [pieces[i] for i in order]


def fragments_v6(datagram: bytes, size: int, order: list[int]) -> list[bytes]:
    ip = IPv6.parse(datagram)
    payload = datagram[40:]
    pieces = []
    for start in range(0, len(payload), size):
        more = start + size < len(payload)
        stack = (IPv6(src=ip.src, dst=ip.dst, next_header=44)
                 / IPv6Fragment(next_header=ip.next_header, fragment_offset=start // 8, m=more,
                                identification=0x60000 + len(datagram))
                 / payload[start:start + size])
        pieces.append(stack.build())
    return [pieces[i] for i in order]


def fragmented() -> list[bytes]:
    """A TCP stream over IPv4 and one over IPv6 whose data segments travel in fragments, out of order."""
    rng = random.Random(7)
    out: list[bytes] = []
    for a, b in (("10.30.0.1", "10.30.0.2"), ("fd30::1", "fd30::2")):
        c = Conversation(a, b, 41000, 9000, 123_456, 654_321)
        out += c.handshake()
        body = bytes(rng.randrange(256) for _ in range(3000))
        seg = c.segment(0, 1, body)
        cut = fragments_v6 if c.v6 else fragments_v4
        out += cut(seg, 1232, [1, 0, 2])                        # the first fragment second
        out += [c.segment(1, 1, b"ok", ack=3001)]
        out += cut(c.segment(0, 3001, body[::-1]), 1024, [2, 1, 0])
        out += [c.segment(0, 6001, flags="F.", ack=3), c.segment(1, 3, flags="F.", ack=6002)]
    return out


def dns_pipelined() -> list[bytes]:
    """DNS over TCP (RFC 7766 §6.2.1.1: pipelined queries): two queries in one segment, a third cut
    across two segments, and the answers all in one segment."""
    c = Conversation("10.40.0.1", "10.40.0.53", 42000, 53, 31_000, 32_000)
    names = ("www.example.test", "mail.example.test", "a-long-name.for-a-split.example.test")
    queries = [tcp_frame(Message(id=0x100 + i, rd=True, question=[Question(n)]).to_wire())
               for i, n in enumerate(names)]
    answers = b"".join(tcp_frame(Message(id=0x100 + i, qr=True, rd=True, ra=True, rcode=3,
                                         question=[Question(n)]).to_wire()) for i, n in enumerate(names))
    first = queries[0] + queries[1]
    half = len(queries[2]) // 2
    out = c.handshake()
    out += [c.segment(0, 1, first), c.segment(0, 1 + len(first), queries[2][:half]),
            c.segment(0, 1 + len(first) + half, queries[2][half:])]
    sent = 1 + len(first) + len(queries[2])
    out += [c.segment(1, 1, answers, ack=sent), c.segment(0, sent, flags="F.", ack=1 + len(answers)),
            c.segment(1, 1 + len(answers), flags="F.", ack=sent + 1)]
    return out


def record_dns_tcp() -> None:
    """tcpdump on lo while dig +tcp asks netstudy's DNS server on port 5399 (one connection a query)."""
    from netstudy.dns import DnsServer  # noqa: PLC0415  (only for the live recording)

    path = OUT / "lo_dns_tcp.pcap"
    zone = Path(__file__).resolve().parents[2] / "netstudy" / "data" / "zones" / "netstudy.test.zone"
    with DnsServer(zone, port=5399):
        tcpdump = subprocess.Popen(["tcpdump", "-i", "lo", "-n", "--immediate-mode", "-U", "-w", str(path),
                                    "tcp port 5399"],
                                   stderr=subprocess.PIPE, text=True)
        assert tcpdump.stderr is not None and "listening on" in tcpdump.stderr.readline()
        time.sleep(0.5)
        try:
            for name in NAMES:
                subprocess.run(["dig", "+tcp", "-p", "5399", "@127.0.0.1", name, "A"], check=True,
                               capture_output=True)
            time.sleep(0.3)
        finally:
            tcpdump.terminate()
            tcpdump.wait()
    print(f"{path.name} recorded")


LAB = ("reasm-a", "reasm-r", "reasm-b")       # client, router, server: the namespaces this script makes
SERVER = """
import socket
srv = socket.create_server(("10.51.0.2", 9000))
conn, _ = srv.accept()
got = 0
while chunk := conn.recv(65536):
    got += len(chunk)
conn.sendall(f"received {got} bytes".encode())
conn.close()
"""
CLIENT = """
import socket, time
sock = socket.create_connection(("10.51.0.2", 9000))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for i in range(120):
    sock.sendall(f"line {i:04d} ".encode() + bytes(range(48, 123)) * 6 + b"\\n")
    time.sleep(0.002)
sock.shutdown(socket.SHUT_WR)
print(sock.recv(100).decode())
sock.close()
"""
DROP_RULES = """table inet reasm {
 chain forward {
  type filter hook forward priority 0;
  tcp dport 9000 ip length > 200 numgen random mod 6 == 0 counter drop
 }
}
"""


def record_lab_loss() -> None:
    """Real TCP from reasm-a (10.50.0.1) through the router reasm-r to reasm-b (10.51.0.2), MTU 600,
    while nftables on the router drops one data segment in six at random (the kernel has no netem; a
    drop on the sender itself would be seen by its TCP and sent again unseen). tcpdump on both ends:
    the sender's side shows each lost segment sent twice (retransmissions), the receiver's side the
    holes and the segments that came past them (out of order)."""
    sh = ["ip", "netns", "exec"]
    a, r, b = LAB
    for ns in LAB:
        subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for left, right, net in ((a, r, "10.50.0"), (r, b, "10.51.0")):
            ldev, rdev = f"{left}0", f"{right}1"
            subprocess.run(["ip", "link", "add", ldev, "netns", left, "type", "veth", "peer", rdev, "netns", right],
                           check=True)
            for ns, dev, host in ((left, ldev, 1), (right, rdev, 2)):
                subprocess.run(sh + [ns, "ip", "addr", "add", f"{net}.{host}/24", "dev", dev], check=True)
                subprocess.run(sh + [ns, "ip", "link", "set", dev, "mtu", "600", "up"], check=True)
        subprocess.run(sh + [a, "ip", "route", "add", "default", "via", "10.50.0.2"], check=True)
        subprocess.run(sh + [b, "ip", "route", "add", "default", "via", "10.51.0.1"], check=True)
        subprocess.run(sh + [r, "sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)
        subprocess.run(sh + [r, "nft", "-f", "-"], check=True, text=True, input=DROP_RULES)
        dumps = []
        for ns, dev, name in ((a, f"{a}0", "lab_tcp_loss_sender.pcap"), (b, f"{b}1", "lab_tcp_loss_receiver.pcap")):
            dump = subprocess.Popen(sh + [ns, "tcpdump", "-i", dev, "-n", "--immediate-mode", "-U", "-w",
                                          str(OUT / name), "tcp port 9000"], stderr=subprocess.PIPE, text=True)
            assert dump.stderr is not None and "listening on" in dump.stderr.readline()
            dumps.append(dump)
        time.sleep(0.5)
        server = subprocess.Popen(sh + [b, sys.executable, "-c", SERVER])
        time.sleep(0.5)
        print(subprocess.run(sh + [a, sys.executable, "-c", CLIENT], check=True, capture_output=True,
                             text=True, timeout=60).stdout.strip())
        server.wait(timeout=30)
        print(subprocess.run(sh + [r, "nft", "list", "ruleset"], capture_output=True, text=True).stdout)  # drops
        time.sleep(0.5)
        for dump in dumps:
            dump.terminate()
            dump.wait()
    finally:
        for ns in LAB:
            subprocess.run(["ip", "netns", "del", ns], check=False)
    print("lab_tcp_loss_sender.pcap, lab_tcp_loss_receiver.pcap recorded")


if __name__ == "__main__":
    write("crafted_tcp_anomalies.pcap", anomalies())
    write("crafted_tcp_fragments.pcap", fragmented())
    write("crafted_dns_tcp.pcap", dns_pipelined())
    if "--dns" in sys.argv:
        record_dns_tcp()
    if "--lab" in sys.argv:
        record_lab_loss()
