"""Generate a reproducible pcap of mixed, realistic traffic for the parsing benchmarks.

    python benchmarks/make_mixed_pcap.py                # 200,000 packets -> benchmarks/data/mixed.pcap
    python benchmarks/make_mixed_pcap.py --packets 1000000 --seed 7 --out /tmp/big.pcap

Ethernet frames (a few 802.1Q-tagged) carrying IPv4 and IPv6 TCP conversations (handshake with MSS,
SACK-permitted, timestamps and window scale; data with timestamps; FIN), DNS queries and answers over
UDP, other UDP, ICMP and ICMPv6 echo, and ARP, interleaved as from many hosts at once. Every length
and checksum is correct (IP header, TCP/UDP/ICMP with the RFC 1071 sum over the pseudo-header).
Built with struct alone and written with netstudy.pcap.PcapWriter: netstudy.wire is not used, so the
benchmark's input does not depend on the decoder it measures. The same seed gives the same file.
"""
from __future__ import annotations

import argparse
import random
import struct
import time
from collections.abc import Iterator
from pathlib import Path

from netstudy.pcap import LinkType, PcapWriter

DEFAULT_OUT = Path(__file__).parent / "data" / "mixed.pcap"
START_NS = 1_700_000_000_000_000_000
ETH_IPV4, ETH_IPV6, ETH_ARP, ETH_VLAN = 0x0800, 0x86DD, 0x0806, 0x8100
TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10
NAMES = ["www.example.com", "mail.example.org", "api.lab.test", "cdn.static.example.net", "ntp.lab.test",
         "login.example.com", "a.very.long.subdomain.name.example.org", "db.lab.test"]


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum. 2**16 = 1 (mod 0xFFFF), so the one's-complement sum of the 16-bit
    words is the whole buffer read as one big integer, modulo 0xFFFF (0 standing for 0xFFFF)."""
    if len(data) % 2:
        data += b"\0"
    value = int.from_bytes(data, "big")
    total = value % 0xFFFF or (0xFFFF if value else 0)
    return ~total & 0xFFFF


class Host:
    __slots__ = ("mac", "ip4", "ip6")

    def __init__(self, rng: random.Random, index: int) -> None:
        self.mac = bytes([0x02, rng.randrange(256), rng.randrange(256), rng.randrange(256), index >> 8, index & 0xFF])
        self.ip4 = bytes([10, 0, index >> 8, index & 0xFF])
        self.ip6 = bytes.fromhex("fd006e7300000000") + rng.randbytes(6) + index.to_bytes(2, "big")


class Builder:
    """Frames from headers packed with struct, lengths and checksums filled in."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ip_id = rng.randrange(65536)

    def ether(self, src: bytes, dst: bytes, ethertype: int, payload: bytes) -> bytes:
        """Ethernet II (a few frames 802.1Q-tagged on VLAN 10..20) from MAC addresses."""
        if self.rng.random() < 0.03:
            tag = struct.pack("!HH", (self.rng.randrange(8) << 13) | self.rng.randrange(10, 21), ethertype)
            return dst + src + struct.pack("!H", ETH_VLAN) + tag + payload
        return dst + src + struct.pack("!H", ethertype) + payload

    def ip(self, src: Host, dst: Host, v6: bool, proto: int, segment: bytes, ttl: int) -> bytes:
        """IPv4 (RFC 791) or IPv6 (RFC 8200) around a transport segment whose checksum field is still 0;
        fills that checksum first (over the pseudo-header, except for ICMPv4)."""
        if v6:
            pseudo = src.ip6 + dst.ip6 + struct.pack("!IxxxB", len(segment), proto)
        else:
            pseudo = src.ip4 + dst.ip4 + struct.pack("!xBH", proto, len(segment))
        at = {6: 16, 17: 6, 58: 2, 1: 2}[proto]
        csum = checksum((pseudo if proto != 1 else b"") + segment)
        if proto == 17 and csum == 0:
            csum = 0xFFFF                                              # RFC 768: 0 means "no checksum"
        segment = segment[:at] + struct.pack("!H", csum) + segment[at + 2:]
        if v6:
            flow = self.rng.randrange(1 << 20)
            header = struct.pack("!IHBB", (6 << 28) | flow, len(segment), proto, ttl) + src.ip6 + dst.ip6
            return self.ether(src.mac, dst.mac, ETH_IPV6, header + segment)
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(segment), self.ip_id, 0x4000, ttl, proto, 0,
                             src.ip4, dst.ip4)
        header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
        return self.ether(src.mac, dst.mac, ETH_IPV4, header + segment)


def tcp_conversation(b: Builder, client: Host, server: Host, v6: bool) -> Iterator[bytes]:
    """RFC 9293 handshake with options (RFC 7323 timestamps and window scale, RFC 2018 SACK-permitted),
    a request, a response in MSS-sized segments with ACKs, and a FIN exchange."""
    rng = b.rng
    cport, sport = rng.randrange(32768, 61000), rng.choice([80, 443, 22, 8080, 5432])
    cseq, sseq = rng.randrange(1 << 32), rng.randrange(1 << 32)
    cts, sts = rng.randrange(1 << 32), rng.randrange(1 << 32)
    mss = 1440 if v6 else 1460
    ttl_c, ttl_s = 64, rng.choice([64, 128, 255])

    def seg(src: Host, dst: Host, sp: int, dp: int, seq: int, ack: int, flags: int, options: bytes,
            payload: bytes, ttl: int) -> bytes:
        offset = (20 + len(options)) // 4
        header = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, offset << 4, flags,
                             rng.choice([502, 510, 1024, 65535]), 0, 0)
        return b.ip(src, dst, v6, 6, header + options + payload, ttl)

    def ts(mine: int, theirs: int) -> bytes:
        return struct.pack("!BBBBII", 1, 1, 8, 10, mine & 0xFFFFFFFF, theirs & 0xFFFFFFFF)

    def syn_options(mine: int, theirs: int) -> bytes:
        """MSS, SACK-permitted, timestamps, NOP, window scale 7: what Linux puts in a SYN (40 bytes)."""
        return struct.pack("!BBH", 2, 4, mss) + b"\x04\x02" + ts(mine, theirs)[2:] + b"\x01\x03\x03\x07"

    yield seg(client, server, cport, sport, cseq, 0, TCP_SYN, syn_options(cts, 0), b"", ttl_c)
    yield seg(server, client, sport, cport, sseq, cseq + 1, TCP_SYN | TCP_ACK, syn_options(sts, cts), b"", ttl_s)
    cseq, sseq = cseq + 1, sseq + 1
    yield seg(client, server, cport, sport, cseq, sseq, TCP_ACK, ts(cts + 1, sts), b"", ttl_c)
    request = (f"GET /{rng.randrange(10**6)}/index.html HTTP/1.1\r\nHost: lab.test\r\n"
               f"User-Agent: netstudy-bench\r\nAccept: */*\r\n\r\n").encode()
    yield seg(client, server, cport, sport, cseq, sseq, TCP_PSH | TCP_ACK, ts(cts + 2, sts), request, ttl_c)
    cseq += len(request)
    body = rng.randbytes(rng.choice([0, 300, 1200, 5000, 20000]))
    response = f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n\r\n"
    response_bytes = response.encode() + body
    remaining, sent = len(response_bytes), 0
    while remaining > 0:
        size = min(mss - 12, remaining)
        payload = response_bytes[sent:sent + size]
        sent += size
        yield seg(server, client, sport, cport, sseq, cseq, TCP_ACK | (TCP_PSH if size == remaining else 0),
                  ts(sts + 3, cts + 2), payload, ttl_s)
        sseq, remaining = sseq + size, remaining - size
        if rng.random() < 0.5 or remaining == 0:
            yield seg(client, server, cport, sport, cseq, sseq, TCP_ACK, ts(cts + 4, sts + 3), b"", ttl_c)
    if rng.random() < 0.1:
        yield seg(client, server, cport, sport, cseq, 0, TCP_RST, b"", b"", ttl_c)
        return
    yield seg(client, server, cport, sport, cseq, sseq, TCP_FIN | TCP_ACK, ts(cts + 5, sts + 3), b"", ttl_c)
    yield seg(server, client, sport, cport, sseq, cseq + 1, TCP_FIN | TCP_ACK, ts(sts + 6, cts + 5), b"", ttl_s)
    yield seg(client, server, cport, sport, cseq + 1, sseq + 1, TCP_ACK, ts(cts + 7, sts + 6), b"", ttl_c)


def dns_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def dns_exchange(b: Builder, client: Host, server: Host, v6: bool) -> Iterator[bytes]:
    """An RFC 1035 query and its answer (A or AAAA, or NXDOMAIN), answers pointing back at the question."""
    rng = b.rng
    qid, port, qtype = rng.randrange(65536), rng.randrange(1024, 65536), rng.choice([1, 1, 28, 15])
    question = dns_name(rng.choice(NAMES)) + struct.pack("!HH", qtype, 1)
    query = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question
    yield b.ip(client, server, v6, 17, struct.pack("!HHHH", port, 53, 8 + len(query), 0) + query, 64)
    if rng.random() < 0.1:
        answer = struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
    else:
        count = rng.randrange(1, 4)
        rdata = {1: 4, 28: 16, 15: 0}[qtype]
        records = b""
        for _ in range(count):
            data = rng.randbytes(rdata) if rdata else struct.pack("!H", 10) + b"\xc0\x0c"
            records += struct.pack("!HHHIH", 0xC00C, qtype, 1, rng.randrange(86400), len(data)) + data
        answer = struct.pack("!HHHHHH", qid, 0x8180, 1, count, 0, 0) + question + records
    yield b.ip(server, client, v6, 17, struct.pack("!HHHH", 53, port, 8 + len(answer), 0) + answer, 64)


def udp_datagrams(b: Builder, client: Host, server: Host, v6: bool) -> Iterator[bytes]:
    """NTP, syslog- or game-like datagrams one way and back."""
    rng = b.rng
    sport, dport = rng.randrange(1024, 65536), rng.choice([123, 514, 27015, 5004])
    for _ in range(rng.randrange(1, 6)):
        # NTP (RFC 5905): 48 bytes, first byte LI/VN/mode = version 4, client; others: opaque payloads.
        payload = b"\x23" + rng.randbytes(47) if dport == 123 else rng.randbytes(rng.choice([48, 100, 172, 600]))
        yield b.ip(client, server, v6, 17, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload, 64)
        if rng.random() < 0.7:
            yield b.ip(server, client, v6, 17, struct.pack("!HHHH", dport, sport, 8 + len(payload), 0) + payload, 64)


def ping(b: Builder, client: Host, server: Host, v6: bool) -> Iterator[bytes]:
    """ICMP echo (RFC 792) or ICMPv6 echo (RFC 4443), like ping: 56 bytes of data, a few rounds."""
    ident = b.rng.randrange(65536)
    request, reply, proto = (128, 129, 58) if v6 else (8, 0, 1)
    for seq in range(1, b.rng.randrange(2, 6)):
        data = struct.pack("!Q", b.rng.randrange(1 << 63)) + bytes(range(48))
        yield b.ip(client, server, v6, proto, struct.pack("!BBHHH", request, 0, 0, ident, seq) + data, 64)
        yield b.ip(server, client, v6, proto, struct.pack("!BBHHH", reply, 0, 0, ident, seq) + data, 64)


def arp(b: Builder, client: Host, server: Host, v6: bool) -> Iterator[bytes]:
    """RFC 826 who-has (broadcast) and is-at, padded to Ethernet's 60-byte minimum."""
    body = struct.pack("!HHBBH", 1, ETH_IPV4, 6, 4, 1) + client.mac + client.ip4 + bytes(6) + server.ip4
    yield b.ether(client.mac, b"\xff" * 6, ETH_ARP, body + bytes(18))
    body = struct.pack("!HHBBH", 1, ETH_IPV4, 6, 4, 2) + server.mac + server.ip4 + client.mac + client.ip4
    yield b.ether(server.mac, client.mac, ETH_ARP, body + bytes(18))


CONVERSATIONS = [(tcp_conversation, 45), (dns_exchange, 25), (udp_datagrams, 12), (ping, 12), (arp, 6)]


def frames(count: int, seed: int) -> Iterator[tuple[int, bytes]]:
    """(timestamp_ns, frame) pairs: about 30 conversations at a time, interleaved packet by packet."""
    rng = random.Random(seed)
    b = Builder(rng)
    hosts = [Host(rng, i) for i in range(1, 200)]
    kinds, weights = zip(*CONVERSATIONS, strict=True)
    active: list[Iterator[bytes]] = []
    now = START_NS
    produced = 0
    while produced < count:
        while len(active) < 30:
            client, server = rng.sample(hosts, 2)
            kind = rng.choices(kinds, weights)[0]
            active.append(kind(b, client, server, rng.random() < 0.3))
        index = rng.randrange(len(active))
        frame = next(active[index], None)
        if frame is None:
            active[index] = active[-1]
            active.pop()
            continue
        now += int(rng.expovariate(1 / 50_000))                       # about 20,000 packets a second
        produced += 1
        yield now, frame


def generate(path: Path = DEFAULT_OUT, packets: int = 200_000, seed: int = 1) -> int:
    """Write the pcap; returns the number of packets (always `packets`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with PcapWriter(path, LinkType.ETHERNET, nanosecond=True) as writer:
        for timestamp_ns, frame in frames(packets, seed):
            writer.write(frame, timestamp_ns)
        return writer.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    started = time.perf_counter()
    count = generate(args.out, args.packets, args.seed)
    elapsed = time.perf_counter() - started
    print(f"{args.out}: {count} packets, {args.out.stat().st_size / 1e6:.1f} MB in {elapsed:.1f} s (seed {args.seed})")


if __name__ == "__main__":
    main()
