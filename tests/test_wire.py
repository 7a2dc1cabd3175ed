"""netstudy.wire: field tables, building, parsing, checksums, decode() — against hand-made bytes and scapy."""
from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netstudy.errors import BuildError, DecodeError, InputError
from netstudy.wire import (
    ARP,
    ICMP,
    SLL,
    SLL2,
    TCP,
    UDP,
    VLAN,
    Ethernet,
    ICMPEcho,
    ICMPTimeExceeded,
    ICMPUnreachable,
    ICMPv6Echo,
    ICMPv6NeighborAdvertisement,
    ICMPv6NeighborSolicitation,
    IPv4,
    IPv6,
    IPv6Fragment,
    IPv6HopByHop,
    Null,
    decode,
    decode_ip,
    internet_checksum,
    internet_checksum_loop,
    ndp_option,
    tcp_option,
)
from netstudy.wire.checksum import ones_complement_sum, verify
from netstudy.wire.fields import Field, Header
from netstudy.wire.ipv4 import IPV4_OPTIONS
from netstudy.wire.ipv6 import IPV6_OPTIONS

MAC1, MAC2 = "02:00:00:00:00:01", "02:00:00:00:00:02"


# -- the Internet checksum -------------------------------------------------------------------------

def test_checksum_rfc1071_example():
    # RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2 (one's complement); checksum is ~0xddf2
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert ones_complement_sum(data) == 0xDDF2
    assert internet_checksum(data) == 0x220D == internet_checksum_loop(data)


@pytest.mark.parametrize("length", list(range(0, 70)) + [1499, 1500, 1501, 65535, 65536])
def test_checksum_matches_textbook_loop_on_every_length(length):
    for _ in range(5):
        data = os.urandom(length)
        assert internet_checksum(data) == internet_checksum_loop(data)


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff", b"\xff\xff", b"\xff\xff" * 7, b"\x00\x00" * 9,
                                  b"\xff\xff\x00\x01", b"\x80\x00\x80\x00"])
def test_checksum_edge_cases_negative_zero(data):
    assert internet_checksum(data) == internet_checksum_loop(data)


@given(st.binary(max_size=3000))
def test_checksum_property(data):
    assert internet_checksum(data) == internet_checksum_loop(data)
    # a buffer with its checksum appended (at an even offset) verifies
    padded = data + b"\x00" * (len(data) % 2)
    assert verify(padded + internet_checksum(padded).to_bytes(2, "big"))


# -- field tables ------------------------------------------------------------------------------------

def test_field_table_compiles_to_one_struct():
    assert IPv4(src="1.2.3.4").struct_format == "!BBHHHBBH4s4s"
    assert TCP().struct_format == "!HHIIBBHHH"
    assert IPv6().struct_format == "!IHBB16s16s"
    assert Ethernet().struct_format == "!6s6sH"
    assert [f.name for f in IPv4.FIELDS][:4] == ["version", "ihl", "dscp", "ecn"]


def test_fields_that_do_not_close_a_word_are_refused():
    with pytest.raises(TypeError, match="byte boundary"):
        class Broken(Header):
            FIELDS = (Field("a", 3, "three bits"),)


def test_hand_built_ipv4_udp_equals_struct():
    payload = b"hello"
    udp = struct.pack("!HHHH", 40000, 53, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    ip = ip[:10] + internet_checksum(ip).to_bytes(2, "big") + ip[12:]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, len(udp))
    udp = udp[:6] + internet_checksum(pseudo + udp).to_bytes(2, "big") + udp[8:]
    built = bytes(IPv4(src="127.0.0.1", dst="127.0.0.1", identification=1) / UDP(sport=40000, dport=53) / payload)
    assert built == ip + udp


def test_build_keeps_fields_the_caller_set():
    raw = bytes(IPv4(src="10.0.0.1", dst="10.0.0.2", checksum=0xBEEF, total_length=99) / b"x")
    ip = IPv4.parse(raw)
    assert ip.checksum == 0xBEEF and ip.total_length == 99


def test_changing_a_parsed_header_and_recomputing_checksum():
    ip = IPv4.parse(bytes(IPv4(src="10.0.0.1", dst="10.0.0.2") / b"data"))
    assert ip.checksum_ok()
    ip.ttl = 1
    assert not IPv4.parse(bytes(ip) + b"data").checksum_ok()      # the old checksum is now wrong
    ip.checksum = None                                              # ask for it to be filled again
    assert IPv4.parse(ip.build(b"data")).checksum_ok()


@pytest.mark.parametrize("kwargs, message", [
    (dict(ttl=300), "ttl: 300 does not fit in 8 bits"),
    (dict(src="300.1.1.1"), "not a valid ipv4"),
    (dict(nonsense=1), "no field named nonsense"),
    (dict(ttl="x"), "needs an integer"),
])
def test_build_errors_say_what_is_wrong(kwargs, message):
    with pytest.raises(BuildError, match=message):
        IPv4(**kwargs)


def test_tcp_flags_like_tcpdump():
    assert TCP(flags="S").flags == "S"
    assert TCP(flags="S.").flags == "S."
    assert TCP(flags="FP.").flags == "FP."
    t = TCP(flags="R")
    assert t.rst and not t.syn and not t.ack_flag
    assert TCP(flags="S.").flag_bits == 0x012
    with pytest.raises(BuildError, match="unknown letter"):
        TCP(flags="SX")


def test_tcp_options_round_trip_and_print_like_tcpdump():
    opts = [tcp_option("mss", 1460), tcp_option("sackOK"), tcp_option("TS", 7, 0), tcp_option("nop"),
            tcp_option("wscale", 7)]
    raw = bytes(IPv4(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1, dport=2, flags="S", options=opts))
    tcp = decode(raw, 101)[TCP]
    assert tcp.header_length == 40 and tcp.data_offset == 10
    assert tcp.option("mss").value == 1460 and tcp.option("wscale").value == 7
    assert tcp.option("TS").value == (7, 0)
    assert "options [mss 1460,sackOK,TS val 7 ecr 0,nop,wscale 7]" in tcp.summary()
    sack = tcp_option("sack", (1, 2), (5, 9))
    assert str(sack) == "sack 2 {1:2}{5:9}"


# -- decode() ----------------------------------------------------------------------------------------

def frame_tcp_syn() -> bytes:
    return bytes(Ethernet(src=MAC1, dst=MAC2) / IPv4(src="10.0.0.1", dst="10.0.0.2", identification=7)
                 / TCP(sport=5555, dport=80, seq=1000, flags="S", options=[tcp_option("mss", 1460)]))


def test_decode_stack_and_summary():
    p = decode(frame_tcp_syn())
    assert [type(layer) for layer in p.layers] == [Ethernet, IPv4, TCP]
    assert p.summary() == "IP 10.0.0.1.5555 > 10.0.0.2.80: Flags [S], seq 1000, win 65535, options [mss 1460], length 0"
    assert p.checksums() == {"IPv4": "good", "TCP": "good"}
    assert p.error is None and p.remainder == b""


def test_decode_udp_summary_from_the_issue():
    raw = bytes(IPv4(src="127.0.0.1", dst="127.0.0.1") / UDP(sport=40000, dport=9) / bytes(45))
    assert decode(raw, 101).summary() == "IP 127.0.0.1.40000 > 127.0.0.1.9: UDP, length 45"


def test_decode_truncated_layer_stops_the_stack_and_keeps_the_rest():
    raw = frame_tcp_syn()[:14 + 20 + 10]
    p = decode(raw)
    assert [type(layer) for layer in p.layers] == [Ethernet, IPv4]
    assert p.error.layer == "TCP" and p.error.offset == 34
    assert p.malformed and "[|tcp" in p.summary()
    assert p.summary().startswith("IP 10.0.0.1.5555 > 10.0.0.2.80:")


def test_standalone_parse_raises_decode_error_with_layer_field_offset():
    with pytest.raises(DecodeError) as err:
        IPv4.parse(b"\x45\x00\x00")
    assert (err.value.layer, err.value.offset) == ("IPv4", 0)
    bad_version = bytearray(bytes(IPv4(src="1.1.1.1", dst="2.2.2.2")))
    bad_version[0] = 0x55
    with pytest.raises(DecodeError, match="version is 5"):
        IPv4.parse(bytes(bad_version))
    bad_ihl = bytearray(bytes(IPv4(src="1.1.1.1", dst="2.2.2.2")))
    bad_ihl[0] = 0x43
    with pytest.raises(DecodeError) as err:
        IPv4.parse(bytes(bad_ihl))
    assert err.value.field == "ihl"
    with pytest.raises(DecodeError) as err:
        TCP.parse(bytes(TCP(data_offset=15)))
    assert err.value.field == "data_offset" and err.value.offset == 12


def test_vlan_arp_and_padding():
    raw = bytes(Ethernet(src=MAC1, dst="ff:ff:ff:ff:ff:ff") / VLAN(vid=42, pcp=3)
                / ARP(sender_mac=MAC1, sender_ip="10.0.0.1", target_ip="10.0.0.2")) + bytes(14)
    p = decode(raw)
    assert [type(x) for x in p.layers] == [Ethernet, VLAN, ARP]
    assert p[VLAN].vid == 42 and p[VLAN].pcp == 3 and p[Ethernet].ethertype == 0x8100
    assert p.summary() == "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 42"   # tcpdump counts the padding
    assert p.remainder == b""                      # Ethernet padding is not ARP payload


def test_ipv4_options_record_route():
    rr = IPV4_OPTIONS.option(7, bytes([4]) + bytes(8))
    raw = bytes(IPv4(src="10.0.0.1", dst="10.0.0.2", options=[rr]) / ICMPEcho(identifier=1, sequence=2))
    ip = decode(raw, 101)[IPv4]
    assert ip.ihl == 8 and ip.header_length == 32
    assert [o.name for o in ip.options] == ["RR", "EOL"]
    assert ip.checksum_ok()


def test_icmp_errors_quote_the_original_datagram():
    original = bytes(IPv4(src="10.0.0.2", dst="10.0.0.9", ttl=1) / UDP(sport=3333, dport=33434) / bytes(10))
    raw = bytes(IPv4(src="10.0.0.1", dst="10.0.0.2") / ICMPTimeExceeded() / original[:28])
    icmp = decode(raw, 101).transport
    assert isinstance(icmp, ICMPTimeExceeded)
    quoted = icmp.quoted
    assert quoted[IPv4].dst == "10.0.0.9" and quoted[UDP].dport == 33434
    assert decode_ip(original)[UDP].payload == bytes(10)
    unreachable = bytes(IPv4(src="10.0.0.9", dst="10.0.0.2") / ICMPUnreachable(code=3) / original[:28])
    assert decode(unreachable, 101).summary() == \
        "IP 10.0.0.9 > 10.0.0.2: ICMP 10.0.0.9 udp port 33434 unreachable, length 36"
    v6 = bytes(IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=1, dport=2))    # not what ICMPv4 quotes
    odd = bytes(IPv4(src="10.0.0.9", dst="10.0.0.2") / ICMPUnreachable(code=1) / v6)
    assert decode(odd, 101).summary() == "IP 10.0.0.9 > 10.0.0.2: ICMP host unreachable, length 56"


def test_icmp_type_dispatch():
    assert type(ICMP.parse(bytes(ICMPEcho(type=0)))) is ICMPEcho
    assert type(ICMP.parse(bytes([13, 0, 0, 0, 0, 0, 0, 0]))) is ICMP     # timestamp: generic table


def test_ipv6_extension_headers_and_icmpv6():
    hbh = IPv6HopByHop(options=[IPV6_OPTIONS.make("router-alert", 0)])
    raw = bytes(Ethernet(src=MAC1, dst=MAC2) / IPv6(src="fd00::1", dst="fd00::2") / hbh / UDP(sport=1, dport=2) / b"hi")
    p = decode(raw)
    assert [type(x).__name__ for x in p.layers] == ["Ethernet", "IPv6", "IPv6HopByHop", "UDP"]
    assert p[IPv6HopByHop].header_length == 8 and p[IPv6].next_header == 0 and p[IPv6HopByHop].next_header == 17
    assert p.checksums() == {"UDP": "good"}
    echo = bytes(IPv6(src="::1", dst="::1") / ICMPv6Echo(identifier=9, sequence=3) / b"abc")
    p = decode(echo, 101)
    assert p.summary() == "IP6 ::1 > ::1: ICMP6, echo request, id 9, seq 3, length 11"
    assert p.checksums() == {"ICMPv6 echo": "good"}


def test_ipv6_fragment_and_neighbour_discovery():
    frag = bytes(IPv6(src="fd00::1", dst="fd00::2") / IPv6Fragment(identification=5, m=True, fragment_offset=2)
                 / b"middle")
    p = decode(frag, 101)
    assert [type(x) for x in p.layers] == [IPv6, IPv6Fragment] and p.remainder == b"middle"
    ns = ICMPv6NeighborSolicitation(target="fe80::2", options=[ndp_option(1, bytes.fromhex("020000000001"))])
    raw = bytes(IPv6(src="fe80::1", dst="ff02::1:ff00:2", hop_limit=255) / ns)
    p = decode(raw, 101)
    assert p.transport.target == "fe80::2" and p.transport.link_address(1) == MAC1
    na = bytes(IPv6(src="fe80::2", dst="fe80::1") / ICMPv6NeighborAdvertisement(target="fe80::2", solicited=True))
    assert decode(na, 101).transport.solicited


@pytest.mark.parametrize("linktype, prefix", [
    (0, struct.pack("<I", 2)),                                           # BSD loopback, little-endian writer
    (113, struct.pack("!HHH8sH", 0, 772, 6, bytes(8), 0x0800)),           # Linux cooked v1
    (276, struct.pack("!HHIHBB8s", 0x0800, 0, 1, 772, 0, 6, bytes(8))),    # Linux cooked v2
])
def test_capture_link_types(linktype, prefix):
    ip = bytes(IPv4(src="127.0.0.1", dst="127.0.0.1") / UDP(sport=1, dport=2) / b"x")
    p = decode(prefix + ip, linktype)
    assert p[IPv4].src == "127.0.0.1" and p[UDP].dport == 2
    assert type(p.layers[0]) in (Null, SLL, SLL2)


def test_decode_refuses_unknown_linktype():
    with pytest.raises(InputError, match="link type 9999"):
        decode(b"", 9999)


def test_offloaded_checksum_is_recognised_not_rejected():
    ip = IPv4(src="127.0.0.1", dst="127.0.0.1")
    tcp = TCP(sport=1, dport=2, flags="S")
    raw = bytearray(bytes(ip / tcp))
    pseudo = ip.pseudo_header(6, 20)
    raw[20 + 16:20 + 18] = ones_complement_sum(pseudo).to_bytes(2, "big")  # what Linux leaves on lo
    assert decode(bytes(raw), 101).checksums()["TCP"] == "offloaded"
    raw[20 + 16] ^= 0x55
    assert decode(bytes(raw), 101).checksums()["TCP"] == "bad"


# -- properties: round trips, and bytes that never crash ---------------------------------------------

def _values_strategy(cls: type[Header], fixed: dict) -> st.SearchStrategy:
    """Values for every field of ``cls``: ``fixed`` holds constants, or strategies of their own."""
    strategies = {name: value for name, value in fixed.items() if isinstance(value, st.SearchStrategy)}
    fixed = {name: value for name, value in fixed.items() if name not in strategies}
    for f in cls.FIELDS:
        if f.name in fixed or f.name in strategies or f.auto:
            continue
        if f.kind in ("ipv4", "ipv6", "mac", "bytes"):
            strategies[f.name] = st.binary(min_size=f.bits // 8, max_size=f.bits // 8)
        else:
            strategies[f.name] = st.integers(0, (1 << f.bits) - 1)
    return st.fixed_dictionaries(strategies).map(lambda d: {**d, **fixed})


ROUND_TRIP = [
    (Ethernet, {}), (VLAN, {}), (ARP, {"hardware_size": 6, "protocol_size": 4,
           # ATM ARP (19) puts other fields after the types (RFC 2225 §8.7): decoding refuses it, by design
           "hardware_type": st.integers(0, 0xFFFF).filter(lambda t: t != 19)}), (IPv4, {"version": 4}),
    (IPv6, {"version": 6}), (TCP, {}), (UDP, {}), (ICMPEcho, {"type": 8}), (ICMPv6Echo, {"type": 128}),
    (SLL, {}), (SLL2, {}),
]


@pytest.mark.parametrize("cls, fixed", ROUND_TRIP, ids=[c.__name__ for c, _ in ROUND_TRIP])
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_build_parse_round_trip(cls, fixed, data):
    values = data.draw(_values_strategy(cls, fixed))
    payload = data.draw(st.binary(max_size=40))
    header = cls(**values)
    raw = header.build(payload)
    parsed = cls.parse(raw)
    for name in values:
        assert parsed.raw(name) == header.raw(name), name
    assert bytes(parsed) == raw[:parsed.header_length]
    assert parsed.payload == payload or cls in (ARP,)


def _never_crashes(raw: bytes, linktype: int) -> None:
    p = decode(raw, linktype)
    p.summary(), p.checksums(), p.row(), p.describe(), repr(p)
    for layer in p.layers:
        layer.fields()
        getattr(layer, "quoted", None)


@settings(max_examples=400)
@given(st.binary(max_size=200), st.sampled_from([0, 1, 101, 113, 276]))
def test_random_bytes_never_raise(raw, linktype):
    _never_crashes(raw, linktype)


SEEDS = [bytes(Ethernet(src=MAC1, dst=MAC2) / IPv4(src="10.0.0.1", dst="10.0.0.2")
               / TCP(sport=1, dport=2, flags="S", options=[tcp_option("mss", 1460), tcp_option("TS", 1, 2)])),
         bytes(Ethernet(src=MAC1, dst=MAC2) / IPv6(src="fd00::1", dst="fd00::2")
               / IPv6HopByHop(options=[IPV6_OPTIONS.make("router-alert", 0)]) / UDP(sport=1, dport=2) / b"hi"),
         bytes(Ethernet(src=MAC1, dst=MAC2) / IPv4(src="10.0.0.1", dst="10.0.0.2", options=[
             IPV4_OPTIONS.option(7, bytes([4]) + bytes(8))]) / ICMPUnreachable(code=3)
               / bytes(IPv4(src="10.0.0.2", dst="10.0.0.3") / UDP(sport=5, dport=6))[:28]),
         bytes(Ethernet(src=MAC1, dst=MAC2) / IPv6(src="fe80::1", dst="ff02::1")
               / ICMPv6NeighborSolicitation(target="fe80::2", options=[ndp_option(1, bytes(6))]))]


@settings(max_examples=400)
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=6),
       st.integers(0, 200))
def test_mutated_frames_never_raise(seed, flips, cut):
    raw = bytearray(seed)
    for pos, value in flips:
        if pos < len(raw):
            raw[pos] = value
    _never_crashes(bytes(raw[:cut]), 1)


@settings(max_examples=300)
@given(st.sampled_from([Ethernet, VLAN, ARP, IPv4, IPv6, TCP, UDP, ICMP, IPv6HopByHop, IPv6Fragment]),
       st.binary(max_size=80))
def test_standalone_parse_raises_only_decode_error(cls, raw):
    try:
        header = cls.parse(raw)
    except DecodeError:
        return
    header.fields(), header.summary(), repr(header), header.payload


# -- scapy as an independent judge -------------------------------------------------------------------

def test_scapy_reads_what_we_build():
    scapy = pytest.importorskip("scapy.all")
    raw = frame_tcp_syn()
    pkt = scapy.Ether(raw)
    assert pkt[scapy.IP].src == "10.0.0.1" and pkt[scapy.TCP].dport == 80
    assert pkt[scapy.TCP].options[0] == ("MSS", 1460)
    # scapy recomputes checksums when they are deleted: they must equal ours
    rebuilt = scapy.Ether(raw)
    del rebuilt[scapy.IP].chksum, rebuilt[scapy.TCP].chksum
    assert bytes(rebuilt) == raw
    raw6 = bytes(IPv6(src="::1", dst="::1") / ICMPv6Echo(identifier=1, sequence=1) / b"ping")
    pkt6 = scapy.IPv6(raw6)
    del pkt6[scapy.ICMPv6EchoRequest].cksum
    assert bytes(scapy.IPv6(bytes(pkt6))) == raw6


def test_we_read_what_scapy_builds():
    scapy = pytest.importorskip("scapy.all")
    pkt = (scapy.Ether(src=MAC1, dst=MAC2) / scapy.Dot1Q(vlan=7) / scapy.IP(src="10.1.1.1", dst="10.1.1.2", ttl=9)
           / scapy.TCP(sport=1234, dport=443, flags="PA", seq=5, ack=6,
                       options=[("NOP", None), ("NOP", None), ("Timestamp", (10, 20))]) / b"data")
    p = decode(bytes(pkt))
    assert p[VLAN].vid == 7 and p[IPv4].ttl == 9 and p[TCP].flags == "P."
    assert p[TCP].option("TS").value == (10, 20) and p.remainder == b"data"
    assert p.checksums() == {"IPv4": "good", "TCP": "good"}
    pkt6 = scapy.IPv6(src="fd00::1", dst="fd00::2") / scapy.IPv6ExtHdrFragment(id=9, offset=0, m=1) / scapy.UDP(
        sport=1, dport=2) / b"x"
    p6 = decode(bytes(pkt6), 101)
    assert p6[IPv6Fragment].identification == 9 and p6[IPv6Fragment].m and p6[UDP].dport == 2


def test_tcp_options_fast_path_writes_what_the_table_writes():
    """The nop,nop,TS shortcut of the one-line summary agrees with the general option walk."""
    from netstudy.wire.tcp import TCP_OPTIONS, _options_text
    for val, ecr in ((0, 0), (1, 2), (2916574204, 3183090155), (0xFFFFFFFF, 7)):
        raw = bytes([1, 1, 8, 10]) + val.to_bytes(4, "big") + ecr.to_bytes(4, "big")
        general = ",".join(TCP_OPTIONS.texts(raw, 0, 12, 0, skip=0))
        assert _options_text(raw, 0, 12) == f", options [{general}]"
        assert _options_text(b"xx" + raw, 2, 14) == f", options [{general}]"


def test_summary_from_bytes_equals_the_header_objects_summary():
    """Header.summary_at (what tables use) and header.summary() write the same line."""
    from pathlib import Path

    from netstudy import pcap
    captures = sorted(p for p in (Path(__file__).parent / "data" / "captures").iterdir()
                      if p.suffix in (".pcap", ".pcapng"))
    checked = 0
    for path in captures:
        for rec in pcap.read(path):
            packet = decode(rec.data, rec.linktype)
            for kind, off, end, *_ in packet.spans:
                assert kind.summary_at(packet.data, off, end) == kind._make(packet.data, off, end).summary()
                checked += 1
    assert checked > 500


def _row_from_header_objects(packet) -> dict:
    """A packet's table row the slow way: every layer's ROW attributes from its header object, the
    protocol from the top layer that names one, the summary from ``Packet.summary``."""
    from netstudy.wire.decode import ROW_COLUMNS
    row = dict.fromkeys(ROW_COLUMNS)
    row["length"] = len(packet.data)
    for layer in packet.layers:
        for column, attribute in layer.ROW:
            row[column] = getattr(layer, attribute)
        if layer.PROTOCOL is None or layer.PROTOCOL:
            row["protocol"] = layer.PROTOCOL or layer.NAME
    row["malformed"] = packet.malformed
    row["summary"] = packet.summary()
    return row


def test_compiled_rows_equal_rows_from_header_objects():
    """The row writer compiled per stack shape (what to_frame runs) agrees with the header objects on
    every packet of every fixture capture, on each of them cut short (malformed layers), and once
    header objects were made."""
    from pathlib import Path

    from netstudy import pcap
    captures = sorted(p for p in (Path(__file__).parent / "data" / "captures").iterdir()
                      if p.suffix in (".pcap", ".pcapng"))
    shapes = set()
    for path in captures:
        for rec in pcap.read(path):
            for cut in (len(rec.data), len(rec.data) - 3, 40, 20):
                packet = decode(rec.data[:cut], rec.linktype)
                assert packet.row() == _row_from_header_objects(packet), (path.name, cut)
                shapes.add(tuple(kind for kind, *_ in packet.spans))
    assert len(shapes) > 20
    packet = decode(bytes(Ethernet() / IPv4(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / b"x"))
    assert packet.row()["summary"] == "IP 10.0.0.1.1 > 10.0.0.2.2: UDP, length 1"
    assert packet.transport.sport == 1 and packet.row() == _row_from_header_objects(packet)


def test_options_extension_without_options_is_padded_to_8_bytes():
    """Hop-by-Hop and Destination Options with no option are one PadN to 8 bytes (RFC 8200 §4.2), the
    bytes scapy builds too."""
    scapy = pytest.importorskip("scapy.all")
    from netstudy.wire.ipv6 import IPv6DestOptions, IPv6HopByHop
    assert bytes(IPv6HopByHop()) == bytes(IPv6DestOptions()) == bytes.fromhex("3b00010400000000")
    ours = IPv6(src="fd00::1", dst="fd00::2") / IPv6HopByHop() / UDP(sport=1, dport=2) / b"x"
    theirs = scapy.IPv6(src="fd00::1", dst="fd00::2") / scapy.IPv6ExtHdrHopByHop() / scapy.UDP(sport=1, dport=2) / b"x"
    assert bytes(ours) == bytes(theirs)
