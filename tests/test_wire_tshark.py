"""netstudy.wire against tshark: every field we decode agrees with tshark on every frame of every fixture.

The fixtures are real traffic (ping, dig, nmap, curl, traceroute, ARP/NDP in namespaces) captured with
tcpdump/dumpcap by tests/data/make_captures.py, each with tshark's per-frame reading beside it (.tsv).
Packets that netstudy builds are also read by tshark live, which must find nothing malformed.
"""
from __future__ import annotations

import itertools
import re
import subprocess

import pytest
from conftest import tcpdump_lines, tool
from tshark import captures, load

from netstudy import pcap
from netstudy.wire import (
    ARP,
    ICMP,
    TCP,
    UDP,
    VLAN,
    Ethernet,
    ICMPEcho,
    ICMPTimeExceeded,
    ICMPUnreachable,
    ICMPv6,
    ICMPv6Echo,
    ICMPv6NeighborSolicitation,
    ICMPv6TimeExceeded,
    ICMPv6Unreachable,
    IPv4,
    IPv6,
    IPv6Fragment,
    IPv6HopByHop,
    decode,
    tcp_option,
)
from netstudy.wire.ipv6 import IPV6_OPTIONS

CAPTURES = captures()


def _int(text: str) -> int:
    return int(text, 16) if text.startswith("0x") else int(text)


def expected_pairs(ours, theirs: dict[str, str]) -> list[tuple[str, object, object]]:
    """(field, our value, tshark's value) for every field tshark reports and we decode."""
    pairs: list[tuple[str, object, object]] = []

    def add(field: str, value: object, convert=_int) -> None:
        if theirs.get(field, "") != "":
            pairs.append((field, value, convert(theirs[field])))

    eth, arp, ip4, ip6 = ours.get(Ethernet), ours.get(ARP), ours.get(IPv4), ours.get(IPv6)
    if eth is not None:
        add("eth.src", eth.src, str)
        add("eth.dst", eth.dst, str)
        add("eth.type", eth.ethertype)
    # tshark's vlan.id is the first 802.1Q tag (0x8100); an 802.1ad tag (0x88a8) is ieee8021ad.id
    layers = ours.layers
    for before, layer in itertools.pairwise(layers):
        if isinstance(layer, VLAN) and before.ethertype == 0x8100:
            add("vlan.id", layer.vid)
            break
    if arp is not None:
        add("arp.opcode", arp.opcode)
        add("arp.src.proto_ipv4", arp.sender_ip, str)
        add("arp.dst.proto_ipv4", arp.target_ip, str)
    if ip4 is not None:
        for field, value in [("ip.version", ip4.version), ("ip.hdr_len", ip4.header_length),
                             ("ip.len", ip4.total_length), ("ip.id", ip4.identification),
                             ("ip.flags.df", int(ip4.df)), ("ip.flags.mf", int(ip4.mf)),
                             ("ip.frag_offset", ip4.fragment_offset), ("ip.ttl", ip4.ttl),
                             ("ip.proto", ip4.protocol), ("ip.checksum", ip4.checksum)]:
            add(field, value)
        add("ip.src", ip4.src, str)
        add("ip.dst", ip4.dst, str)
    if ip6 is not None:
        add("ipv6.plen", ip6.payload_length)
        add("ipv6.nxt", ip6.next_header)
        add("ipv6.hlim", ip6.hop_limit)
        add("ipv6.src", ip6.src, str)
        add("ipv6.dst", ip6.dst, str)
    frag = ours.get(IPv6Fragment)
    if frag is not None:
        add("ipv6.fraghdr.offset", frag.fragment_offset)
        add("ipv6.fraghdr.more", int(frag.m), lambda t: int(t in ("1", "True")))
        add("ipv6.fraghdr.ident", frag.identification)
    icmp = ours.get(ICMP)
    if icmp is not None:
        add("icmp.type", icmp.type)
        add("icmp.code", icmp.code)
        add("icmp.checksum", icmp.checksum)
        if isinstance(icmp, ICMPEcho):
            add("icmp.ident", icmp.identifier)
            add("icmp.seq", icmp.sequence)
    icmp6 = ours.get(ICMPv6)
    if icmp6 is not None:
        add("icmpv6.type", icmp6.type)
        add("icmpv6.code", icmp6.code)
    tcp = ours.get(TCP)
    if tcp is not None:
        for field, value in [("tcp.srcport", tcp.sport), ("tcp.dstport", tcp.dport), ("tcp.seq_raw", tcp.seq),
                             ("tcp.ack_raw", tcp.ack), ("tcp.hdr_len", tcp.header_length),
                             ("tcp.flags", tcp.flag_bits), ("tcp.window_size_value", tcp.window)]:
            add(field, value)
        mss, wscale = tcp.option("mss"), tcp.option("wscale")
        if mss is not None:
            add("tcp.options.mss_val", mss.value)
        if wscale is not None:
            add("tcp.options.wscale.shift", wscale.value)
    udp = ours.get(UDP)
    if udp is not None:
        add("udp.srcport", udp.sport)
        add("udp.dstport", udp.dport)
        add("udp.length", udp.length)
    return pairs


@pytest.mark.interop
@pytest.mark.parametrize("capture", CAPTURES, ids=[c.name for c in CAPTURES])
def test_every_field_agrees_with_tshark(capture):
    rows = load(capture)
    records = list(pcap.read(capture))
    assert len(records) == len(rows), "frame count differs from tshark"
    compared = 0
    for record, theirs in zip(records, rows, strict=True):
        ours = decode(record.data, record.linktype)
        assert ours.error is None or "Malformed" in theirs.get("_ws.expert.message", "") or record.truncated, \
            f"frame {theirs['frame.number']}: we say malformed ({ours.error}), tshark does not"
        for field, mine, tsharks in expected_pairs(ours, theirs):
            assert mine == tsharks, f"frame {theirs['frame.number']} {field}: netstudy {mine!r}, tshark {tsharks!r}"
            compared += 1
    assert compared > 0


# tcpdump prefixes a Linux cooked frame with its interface and direction (``lo    In  ``)
_COOKED_PREFIX = re.compile(r"^(?:\S+\s+)?(?:In|Out|M|B|P)\s+")


def _differs_by_design(packet) -> str | None:
    """Why netstudy's line for ``packet`` is meant to differ from tcpdump's plain line, or None (the same
    differences are in tests/test_peer_captures.py's BY_DESIGN table)."""
    if packet.error is not None:
        return "malformed: netstudy names the field and offset where tcpdump writes [|tcp]"
    ip, transport = packet.get(IPv4), packet.transport
    if ip is not None and ip.fragment_offset:
        return "a later IPv4 fragment: netstudy writes it as tcpdump -v does, tcpdump's plain line says ip-proto-N"
    if isinstance(transport, TCP) and packet.remainder and 53 in (transport.sport, transport.dport):
        return "DNS over TCP: tcpdump adds the message, netstudy does not decode it"
    if isinstance(transport, TCP) and packet.remainder and {80, 8080} & {transport.sport, transport.dport}:
        return "HTTP: tcpdump adds ': HTTP', netstudy decodes no application protocol (as in test_peer_captures)"
    return None


@pytest.mark.interop
def test_summary_lines_agree_with_tcpdump():
    """Every frame of every fixture reads as ``tcpdump -n -t -S`` prints it (-S: absolute sequence
    numbers, as netstudy writes them), but for the differences :func:`_differs_by_design` names."""
    tcpdump = tool("tcpdump")
    compared, different = 0, []
    for capture in CAPTURES:
        run = subprocess.run([tcpdump, "-n", "-t", "-S", "-r", str(capture)], capture_output=True, text=True)
        theirs = run.stdout.splitlines()
        records = list(pcap.read(capture))
        if len(theirs) != len(records):          # tcpdump reads the first section of a pcapng file only
            assert capture.suffix == ".pcapng", f"{capture.name}: tcpdump printed {len(theirs)} lines: {run.stderr}"
            continue
        for number, (record, line) in enumerate(zip(records, theirs, strict=True), 1):
            packet = decode(record.data, record.linktype)
            if _differs_by_design(packet):
                continue
            if record.linktype in (113, 276):
                line = _COOKED_PREFIX.sub("", line)
            compared += 1
            if packet.summary() != line:
                different.append((capture.name, number, packet.summary(), line))
    assert different == [] and compared > 200, f"{compared} lines compared"


@pytest.mark.interop
def test_icmpv6_error_lines_agree_with_tcpdump(tmp_path):
    """Each unreachable code tcpdump names (0-4) and both time-exceeded codes, quoting a UDP probe, read
    as tcpdump prints them (spaces aside: tcpdump writes code 1 as ``,  unreachable prohibited``)."""
    probe = bytes(IPv6(src="fd00::1", dst="fd00::9") / UDP(sport=1234, dport=33434) / bytes(8))
    errors = [ICMPv6Unreachable(code=code) for code in range(5)] + [ICMPv6TimeExceeded(code=code) for code in (0, 1)]
    frames = [bytes(IPv6(src="fd00::2", dst="fd00::1") / error / probe) for error in errors]
    theirs = tcpdump_lines(frames, tmp_path / "errors.pcap", linktype=101)
    ours = [decode(frame, 101).summary() for frame in frames]
    assert [" ".join(line.split()) for line in ours] == [" ".join(line.split()) for line in theirs]


@pytest.mark.interop
def test_icmp_error_lines_agree_with_tcpdump(tmp_path):
    """Every unreachable code (0-15, and 4 with a next-hop MTU) and three time-exceeded codes, quoting
    a UDP probe, read as tcpdump prints them."""
    probe = bytes(IPv4(src="10.0.0.1", dst="10.0.0.9") / UDP(sport=1234, dport=33434) / bytes(8))
    errors = ([ICMPUnreachable(code=code) for code in range(16)] + [ICMPUnreachable(code=4, next_hop_mtu=1400)]
              + [ICMPTimeExceeded(code=code) for code in range(3)])
    frames = [bytes(IPv4(src="10.0.0.2", dst="10.0.0.1") / error / probe) for error in errors]
    theirs = tcpdump_lines(frames, tmp_path / "errors.pcap", linktype=101)
    assert [decode(frame, 101).summary() for frame in frames] == theirs


def test_fixtures_cover_the_protocols():
    protocols = set()
    for capture in CAPTURES:
        for record in pcap.read(capture):
            protocols.update(type(layer).__name__ for layer in decode(record.data, record.linktype).layers)
    for needed in ["Ethernet", "ARP", "IPv4", "IPv6", "TCP", "UDP", "ICMPEcho", "ICMPUnreachable",
                   "ICMPTimeExceeded", "ICMPv6Echo", "ICMPv6NeighborSolicitation", "ICMPv6NeighborAdvertisement",
                   "IPv6Fragment", "SLL", "SLL2", "Null", "VLAN"]:
        assert needed in protocols, f"no fixture exercises {needed}"


# -- tshark reads what we build ---------------------------------------------------------------------

MAC1, MAC2 = "02:00:00:00:00:01", "02:00:00:00:00:02"


def built_frames() -> list[bytes]:
    E = lambda: Ethernet(src=MAC1, dst=MAC2)  # noqa: E731
    original = bytes(IPv4(src="10.0.0.2", dst="10.0.0.9", ttl=1) / UDP(sport=3333, dport=33434) / bytes(12))
    return [bytes(f) for f in [
        E() / IPv4(src="10.0.0.1", dst="10.0.0.2") / ICMPEcho(identifier=7, sequence=1) / bytes(56),
        E() / IPv4(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=40000, dport=9) / b"hello",
        E() / IPv4(src="10.0.0.1", dst="10.0.0.2", df=True) / TCP(
            sport=5555, dport=80, seq=1, flags="S",
            options=[tcp_option("mss", 1460), tcp_option("sackOK"), tcp_option("TS", 5, 0), tcp_option("nop"),
                     tcp_option("wscale", 7)]),
        E() / VLAN(vid=42) / IPv4(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=5555, dport=80, seq=10, ack=20,
                                                                        flags="P.") / b"GET / HTTP/1.0\r\n\r\n",
        E() / ARP(sender_mac=MAC1, sender_ip="10.0.0.1", target_ip="10.0.0.2"),
        E() / IPv4(src="10.0.0.1", dst="10.0.0.2") / ICMPTimeExceeded() / original[:28],
        E() / IPv4(src="10.0.0.9", dst="10.0.0.2") / ICMPUnreachable(code=3) / original[:28],
        E() / IPv6(src="fd00::1", dst="fd00::2") / ICMPv6Echo(identifier=5, sequence=2) / bytes(32),
        E() / IPv6(src="fd00::1", dst="fd00::2") / IPv6HopByHop(options=[IPV6_OPTIONS.make("router-alert", 0)])
        / UDP(sport=1000, dport=2000) / b"hi",
        E() / IPv6(src="fe80::1", dst="ff02::1:ff00:2", hop_limit=255) / ICMPv6NeighborSolicitation(target="fe80::2"),
    ]]


@pytest.mark.interop
def test_tshark_finds_nothing_malformed_in_what_we_build(tmp_path):
    tool("tshark")
    path = tmp_path / "built.pcap"
    frames = built_frames()
    pcap.write(path, [pcap.Record(timestamp_ns=i * 1000, caplen=len(f), length=len(f), linktype=1, data=f)
                      for i, f in enumerate(frames)])
    prefs = ["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
    out = subprocess.run(["tshark", "-n", "-r", str(path), *prefs, "-T", "fields", "-e", "frame.number",
                          "-e", "_ws.expert.message", "-e", "_ws.col.Protocol", "-e", "ip.checksum.status",
                          "-e", "tcp.checksum.status", "-e", "udp.checksum.status", "-e", "icmp.checksum.status",
                          "-e", "icmpv6.checksum.status"],
                         capture_output=True, text=True, check=True).stdout
    lines = out.strip().splitlines()
    assert len(lines) == len(frames)
    for line in lines:
        assert "Malformed" not in line and "Bad checksum" not in line and "incorrect" not in line.lower(), line
        # tshark: 1 good, 0 bad, 2 unverified (the quoted UDP header inside an ICMP error)
        statuses = ",".join(line.split("\t")[3:]).split(",")
        assert "0" not in statuses, f"a checksum is bad: {line}"
        assert "1" in statuses or "\tARP\t" in line, f"no checksum verified: {line}"
