"""Reproducers for the defects that tcpdump's own test captures showed in netstudy.wire (issue 18): each
built with netstudy.wire (or a few bytes taken from a capture), each with the line tcpdump writes."""
from __future__ import annotations

import socket
import struct

from netstudy.wire import (
    ARP,
    TCP,
    UDP,
    Ethernet,
    ICMPv6Echo,
    IPv4,
    IPv6,
    IPv6DestOptions,
    IPv6HopByHop,
    IPv6Routing,
    decode,
    tcp_option,
)
from netstudy.wire.ipv6 import IPV6_OPTIONS

MAC1, MAC2 = "02:00:00:00:00:01", "02:00:00:00:00:02"


# -- ARP: types, sizes and opcodes checked and named as tcpdump does ------------------------------------

def _arp(**fields) -> bytes:
    return bytes(Ethernet(src=MAC1, dst="ff:ff:ff:ff:ff:ff") / ARP(sender_mac=MAC1, sender_ip="10.0.0.1",
                                                                  target_ip="10.0.0.2", **fields))


def test_arp_request_shows_a_target_mac_that_is_not_zero():
    assert decode(_arp(target_mac=MAC2)).summary() == \
        "ARP, Request who-has 10.0.0.2 (02:00:00:00:00:02) tell 10.0.0.1, length 28"
    assert decode(_arp()).summary() == "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28"


def test_arp_for_another_protocol_is_not_read_as_ipv4():
    assert decode(_arp(protocol_type=0x86DD)).summary() == "ARP, Ethernet (len 6), IPv6 (len 4), length 28"
    assert decode(_arp(hardware_type=0x1234, protocol_type=0x4321)).summary() == \
        "ARP, Unknown Hardware (4660) (len 6), Unknown Protocol (0x4321) (len 4), length 28"


def test_rarp_inarp_and_unknown_opcodes_are_named_as_tcpdump_does():
    assert decode(_arp(opcode=3, target_mac=MAC2)).summary() == \
        "ARP, Reverse Request who-is 02:00:00:00:00:02 tell 02:00:00:00:00:01, length 28"
    assert decode(_arp(opcode=4, target_mac=MAC2)).summary() == \
        "ARP, Reverse Reply 02:00:00:00:00:02 at 10.0.0.2, length 28"
    assert decode(_arp(opcode=8)).summary() == \
        "ARP, Inverse Request who-is 00:00:00:00:00:00 tell 02:00:00:00:00:01, length 28"
    assert decode(_arp(opcode=9)).summary() == "ARP, Inverse Reply 02:00:00:00:00:01 at 10.0.0.1, length 28"
    assert decode(_arp(opcode=77)).summary() == "ARP, Unknown (77) "


def test_arp_of_other_address_sizes_decodes_and_a_cut_one_is_marked():
    # 8-byte hardware addresses (IEEE 1394-like), IPv4 protocol addresses: 8 + 2 * (8 + 4) = 32 bytes
    body = struct.pack("!HHBBH", 24, 0x0800, 8, 4, 1) + bytes(range(8)) + bytes([10, 0, 0, 1]) + bytes(8) \
        + bytes([10, 0, 0, 2])
    frame = bytes(Ethernet(src=MAC1, dst=MAC2, ethertype=0x0806)) + body
    packet = decode(frame)
    assert packet.error is None and packet.summary() == "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 32"
    cut = decode(frame[:14 + 20])                      # addresses run past the frame: tcpdump writes " [|arp]"
    assert cut.error is not None and cut.error.layer == "ARP"
    assert cut.summary().startswith(" [|arp: ")


def test_arp_length_counts_the_frame_on_the_wire():
    """tcpdump writes an ARP packet's length to the end of the frame on the wire (the capture record's
    length): netstudy too when ``decode()`` is given it, the bytes there are otherwise (the two frames of
    tcpdump's arp-too-long-tha.pcap and getname_2_read4_asan.pcap)."""
    too_long_tha = bytes.fromhex("30303030303030303030303088a830300806303008000e040001" + "30" * 38)
    line = "ARP, Request who-has 48.48.48.48 (30:30:30:30:30:30:30:30:30:30:30:30:30:30) tell 48.48.48.48, length {}"
    assert decode(too_long_tha).summary() == line.format(46)
    assert decode(too_long_tha, wire_length=262144).summary() == line.format(262126)
    assert decode(too_long_tha, wire_length=60).row()["summary"] == line.format(46)
    getname = bytes.fromhex("000cff7f9677c0c1c0a000648035ff008b0100000004")
    line = "ARP, Unknown Hardware (65280) (len 0), Unknown Protocol (0x8b01) (len 0), length {}"
    assert decode(getname).summary() == line.format(8)
    assert decode(getname, wire_length=65570).summary() == line.format(65556)


# -- TCP: urg, eol, experimental options ----------------------------------------------------------------

def _tcp_line(**fields) -> str:
    return decode(bytes(Ethernet(src=MAC1, dst=MAC2) / IPv4(src="10.0.0.1", dst="10.0.0.2")
                        / TCP(sport=1, dport=2, seq=5, ack=7, **fields))).summary()


def test_tcp_urgent_pointer_is_shown_when_urg_is_set():
    assert _tcp_line(flags="FSRP.UEW", urgent_pointer=0) == \
        "IP 10.0.0.1.1 > 10.0.0.2.2: Flags [FSRP.UEW], seq 5, ack 7, win 65535, urg 0, length 0"
    assert _tcp_line(flags=".U", urgent_pointer=9, options=[tcp_option("nop"), tcp_option("nop"),
                                                            tcp_option("TS", 1, 2)]) == \
        "IP 10.0.0.1.1 > 10.0.0.2.2: Flags [.U], ack 7, win 65535, urg 9, options [nop,nop,TS val 1 ecr 2], length 0"


def test_tcp_end_of_options_is_listed():
    assert _tcp_line(flags="S", options=[tcp_option("sackOK"), tcp_option("eol")]) == \
        "IP 10.0.0.1.1 > 10.0.0.2.2: Flags [S], seq 5, win 65535, options [sackOK,eol], length 0"
    assert _tcp_line(flags=".", options=b"\x00\x00\x00\x00") == \
        "IP 10.0.0.1.1 > 10.0.0.2.2: Flags [.], ack 7, win 65535, options [eol], length 0"


def test_tcp_experimental_options_are_named_by_their_magic_number():
    fast_open = bytes([254, 4, 0xF9, 0x89])                       # a fast open cookie request (RFC 7413)
    assert _tcp_line(flags="S", options=fast_open) == \
        "IP 10.0.0.1.1 > 10.0.0.2.2: Flags [S], seq 5, win 65535, options [exp-tfo cookiereq], length 0"
    accecn = bytes([254, 4, 0xAC, 0xC0, 1, 1, 0, 0])
    assert _tcp_line(flags=".", options=accecn) == \
        "IP 10.0.0.1.1 > 10.0.0.2.2: Flags [.], ack 7, win 65535, options [exp-acc0,nop,nop,eol], length 0"


def test_an_scps_option_too_short_for_its_data_is_shown_by_name_by_design():
    """An SCPS option of length 2 (no capability byte nor id, CCSDS 714.0-B-2 wants 4): tcpdump stops at
    '[bad opt]' and writes no length (scps_invalid.pcap); netstudy names the option, as it names any option
    without data, and goes on."""
    frame = bytes.fromhex("450000347b8600006e069551b6b5cae653fd6653ce0ef914dff3506700000000800220001bb30000"
                          "020405ac0103030201011402" "0000000035250e570000000090f60e00")
    packet = decode(frame, 228)
    assert packet.error is None
    assert packet.summary() == ("IP 182.181.202.230.52750 > 83.253.102.83.63764: Flags [S], seq 3757264999, "
                                "win 8192, options [mss 1452,nop,wscale 2,nop,nop,scps], length 0")
    assert [o.name for o in packet.transport.options] == ["mss", "nop", "wscale", "nop", "nop", "scps"]


# -- IPv6 extension headers and tunnels -----------------------------------------------------------------

def _routed(segments: list[str], left: int, final_checksum: bool, upper) -> bytes:
    """IPv6 to the first segment, a type 0 routing header listing the rest, then ``upper``; its checksum
    computed with the final destination in the pseudo-header (RFC 8200 §8.1) or with the IPv6 one."""
    route = b"".join(socket.inet_pton(socket.AF_INET6, a) for a in segments[1:])
    routing = IPv6Routing(routing_type=0, segments_left=left, options=route)
    pseudo_dst = segments[-1] if final_checksum else segments[0]
    raw = bytearray(bytes(IPv6(src="2001:db8::1", dst=pseudo_dst) / routing / upper))
    raw[24:40] = socket.inet_pton(socket.AF_INET6, segments[0])      # on its way to the first segment
    return bytes(Ethernet(src=MAC1, dst=MAC2, ethertype=0x86DD)) + bytes(raw)


def test_checksum_after_a_routing_header_uses_the_final_destination():
    hops = ["2001:db8::a", "2001:db8::b", "2001:db8::f"]
    good = decode(_routed(hops, 2, True, UDP(sport=1, dport=2) / b"hi"))
    assert good.checksums()["UDP"] == "good"
    assert decode(_routed(hops, 2, False, UDP(sport=1, dport=2) / b"hi")).checksums()["UDP"] == "bad"
    echo = decode(_routed(hops, 2, True, ICMPv6Echo(identifier=1, sequence=1)))
    assert echo.checksums()["ICMPv6 echo"] == "good"


def test_routing_header_is_marked_and_ports_come_after_the_extension_headers():
    packet = decode(_routed(["2001:db8::a", "2001:db8::f"], 1, True, UDP(sport=5645, dport=5642)))
    assert packet.summary() == ("IP6 2001:db8::1 > 2001:db8::a: RT6 (len=2, type=0 [Deprecated], segleft=1, "
                                "[0]2001:db8::f) 5645 > 5642: UDP, length 0")
    hbh = decode(bytes(Ethernet(src=MAC1, dst=MAC2) / IPv6(src="::1", dst="::2") / IPv6HopByHop()
                       / TCP(sport=1, dport=2, flags="S")))
    assert hbh.summary() == "IP6 ::1 > ::2: HBH 1 > 2: Flags [S], seq 0, win 65535, length 0"


def test_a_repeated_or_misplaced_hop_by_hop_header_is_malformed():
    twice = decode(bytes(IPv6(src="::1", dst="::2") / IPv6HopByHop() / IPv6HopByHop() / UDP(sport=1, dport=2)),
                   101)
    assert twice.error is not None and twice.error.layer == "IPv6 hop-by-hop"
    assert "must come first" in twice.error.reason
    after = decode(bytes(IPv6(src="::1", dst="::2") / IPv6DestOptions() / IPv6HopByHop() / UDP(sport=1, dport=2)),
                   101)
    assert after.error is not None and after.error.layer == "IPv6 hop-by-hop"
    assert decode(bytes(IPv6(src="::1", dst="::2") / IPv6HopByHop() / UDP(sport=1, dport=2)), 101).error is None


def test_tunnels_show_both_ip_headers_as_tcpdump_does():
    inner = IPv4(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1, dport=80, flags="S")
    ipip = decode(bytes(IPv4(src="192.0.2.1", dst="192.0.2.2") / inner), 101)
    assert ipip.summary() == ("IP 192.0.2.1 > 192.0.2.2: IP 10.0.0.1.1 > 10.0.0.2.80: Flags [S], seq 0, "
                              "win 65535, length 0")
    six_in_four = decode(bytes(IPv4(src="192.0.2.1", dst="192.0.2.2") / IPv6(src="::1", dst="::2")
                               / ICMPv6Echo(identifier=3, sequence=4)), 101)
    assert six_in_four.summary() == \
        "IP 192.0.2.1 > 192.0.2.2: IP6 ::1 > ::2: ICMP6, echo request, id 3, seq 4, length 8"
    six_in_six = decode(bytes(IPv6(src="::a", dst="::b") / IPv6(src="::1", dst="::2") / UDP(sport=7, dport=9)), 101)
    assert six_in_six.summary() == "IP6 ::a > ::b: IP6 ::1.7 > ::2.9: UDP, length 0"
    assert six_in_six.transport.sport == 7 and six_in_six.row()["src"] == "::1"


def test_a_tunnel_gives_each_ipv4_header_its_own_checksum_verdict():
    inner = IPv4(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / b"hi"
    raw = bytearray(bytes(IPv4(src="192.0.2.1", dst="192.0.2.2") / inner))
    assert decode(bytes(raw), 101).checksums() == {"IPv4": "good", "IPv4 (inner)": "good", "UDP": "good"}
    raw[20 + 10] ^= 0xFF                                  # the inner header's checksum broken, the outer's kept
    assert decode(bytes(raw), 101).checksums() == {"IPv4": "good", "IPv4 (inner)": "bad", "UDP": "good"}
    raw[20 + 10] ^= 0xFF
    raw[10] ^= 0xFF                                       # and the other way round
    assert decode(bytes(raw), 101).checksums() == {"IPv4": "bad", "IPv4 (inner)": "good", "UDP": "good"}
    deeper = decode(bytes(IPv4(src="192.0.2.1", dst="192.0.2.2") / IPv4(src="192.0.2.3", dst="192.0.2.4") / inner),
                    101)
    assert list(deeper.checksums()) == ["IPv4", "IPv4 (inner)", "IPv4 (inner 2)", "UDP"]
    four_in_six = decode(bytes(IPv6(src="::1", dst="::2") / inner), 101)   # after an IPv6 header: inner too
    assert four_in_six.checksums() == {"IPv4 (inner)": "good", "UDP": "good"}


# -- lengths from the headers' length fields ------------------------------------------------------------

def test_lengths_come_from_the_headers_when_the_capture_cut_the_frame():
    udp = bytes(Ethernet(src=MAC1, dst=MAC2) / IPv4(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=137, dport=137)
                / bytes(50))
    cut = decode(udp[:14 + 20 + 8 + 10], wire_length=len(udp))          # snap length: no truncated-ip mark
    assert cut.summary() == "IP 10.0.0.1.137 > 10.0.0.2.137: UDP, length 50"
    assert type(cut.network) is IPv4 and cut.error is None
    tcp = bytes(Ethernet(src=MAC1, dst=MAC2) / IPv4(src="10.0.0.1", dst="10.0.0.2")
                / TCP(sport=1, dport=2, seq=5, ack=7, flags="P.") / bytes(100))
    assert decode(tcp[:14 + 40 + 6], wire_length=len(tcp)).summary() == \
        "IP 10.0.0.1.1 > 10.0.0.2.2: Flags [P.], seq 5:105, ack 7, win 65535, length 100"


def test_truncated_ip_when_the_length_field_runs_past_the_frame_on_the_wire():
    tcp = bytes(Ethernet(src=MAC1, dst=MAC2) / IPv4(src="10.0.0.1", dst="10.0.0.2")
                / TCP(sport=1, dport=2, seq=5, ack=7, flags="P.") / bytes(100))
    short = tcp[:14 + 40 + 6]
    assert decode(short, wire_length=len(short)).summary() == ("IP truncated-ip - 94 bytes missing! 10.0.0.1.1 > "
                                                               "10.0.0.2.2: Flags [P.], seq 5:105, ack 7, win 65535, "
                                                               "length 100")
    assert decode(short, wire_length=len(short)).row()["summary"].startswith("IP truncated-ip - 94 bytes missing! ")
    v6 = bytes(Ethernet(src=MAC1, dst=MAC2) / IPv6(src="::1", dst="::2") / UDP(sport=1, dport=9) / bytes(4))
    assert decode(v6[:-1], wire_length=len(v6) - 1).summary() == \
        "IP6 truncated-ip6 - 1 bytes missing!::1.1 > ::2.9: UDP, length 4"
    assert decode(v6[:-1]).summary() == "IP6 ::1.1 > ::2.9: UDP, length 4"    # the wire's length not known


def test_the_first_fragment_of_a_udp_datagram_reads_the_datagrams_length():
    datagram = bytes(UDP(sport=1, dport=2, checksum=0) / bytes(100))
    first = bytes(Ethernet(src=MAC1, dst=MAC2) / IPv4(src="10.0.0.1", dst="10.0.0.2", mf=True, protocol=17)
                  / datagram[:24])
    assert decode(first).summary() == "IP 10.0.0.1.1 > 10.0.0.2.2: UDP, length 100"


# -- a header cut by the snap length keeps its fixed fields -----------------------------------------------

_SYN_OPTIONS = [tcp_option("mss", 1460), tcp_option("sackOK"), tcp_option("TS", 11, 0), tcp_option("nop"),
                tcp_option("wscale", 7)]


def _syn(sport: int = 40000) -> bytes:
    return bytes(Ethernet(src=MAC1, dst=MAC2) / IPv4(src="10.0.0.1", dst="10.0.0.2", identification=77, ttl=61)
                 / TCP(sport=sport, dport=80, seq=1000, ack=0, flags="S", window=64240, options=_SYN_OPTIONS))


def test_tcp_options_cut_by_the_snap_length_keep_the_fixed_header():
    frame = _syn()                                        # 14 + 20 + 40: the options run past 60 bytes
    packet = decode(frame[:60], wire_length=len(frame))
    tcp = packet.transport
    assert (tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.flags, tcp.window) == (40000, 80, 1000, 0, "S", 64240)
    assert tcp.header_length == 40 and [o.name for o in tcp.options] == ["mss", "sackOK"]
    error = packet.error
    assert (error.layer, error.field, error.offset) == ("TCP", "data_offset", 14 + 20 + 12)
    assert packet.summary() == ("IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 64240, "
                                "options [mss 1460,sackOK [|tcp: header of 40 bytes runs past the 26 bytes left]")
    assert packet.row()["sport"] == 40000 and packet.row()["tcp_flags"] == "S" and packet.row()["malformed"]
    assert packet.checksums()["TCP"] == "unverified"
    assert "TCP, 40 bytes" in packet.describe()


def test_fixed_fields_of_frames_cut_at_60_bytes_agree_with_tshark(tmp_path):
    import shutil
    import subprocess

    import pytest

    from netstudy import pcap
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    frames = [_syn(40000 + i) for i in range(3)]
    path = tmp_path / "cut60.pcap"
    with pcap.PcapWriter(path, snaplen=60) as writer:
        for frame in frames:
            writer.write(frame)
    fields = ["ip.src", "ip.dst", "ip.ttl", "ip.id", "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw",
              "tcp.flags", "tcp.window_size_value", "tcp.hdr_len"]
    run = subprocess.run(["tshark", "-r", str(path), "-T", "fields", *[a for f in fields for a in ("-e", f)]],
                         capture_output=True, text=True, check=True)
    rows = [line.split("\t") for line in run.stdout.splitlines()]
    records = list(pcap.read(path))
    assert len(rows) == len(records) == 3
    for record, theirs in zip(records, rows, strict=True):
        assert record.caplen == 60 and record.length == 74
        packet = decode(record.data, record.linktype, wire_length=record.length)
        ip, tcp = packet.network, packet.transport
        ours = [ip.src, ip.dst, ip.ttl, ip.identification, tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.flag_bits,
                tcp.window, tcp.header_length]
        assert [str(v) for v in ours[:2]] == theirs[:2]
        assert ours[2:] == [int(v, 0) for v in theirs[2:]]
        assert packet.error is not None and packet.error.layer == "TCP"


# -- DNS line and ICMPv6 wording --------------------------------------------------------------------

def test_dns_rcodes_and_extended_rcodes_are_named_as_tcpdump_does():
    from netstudy.wire.dns import DNS, Message, make_opt
    header = bytes.fromhex("1234") + (0x8000 | 9).to_bytes(2, "big") + bytes(8)
    assert DNS.summary_at(header, 0, 12) == "4660 NotAuth- [0q] 0/0/0 (12)"
    badvers = Message(id=7, qr=True, ra=True, additional=[make_opt(extended_rcode=1)])
    assert DNS.parse(badvers.to_wire()).summary() == "7 BadVers [0q] 0/0/1 (23)"


def test_dns_summary_at_on_less_than_a_header_is_a_clean_decode_error():
    import pytest

    from netstudy.errors import DecodeError
    from netstudy.wire.dns import DNS
    for size in range(12):
        with pytest.raises(DecodeError):
            DNS.summary_at(bytes(size), 0, size)


def test_icmpv6_unknown_types_and_parameter_problem_read_as_tcpdump():
    from netstudy.wire import ICMPv6
    unknown = decode(bytes(IPv6(src="::1", dst="::2") / ICMPv6(type=160, code=0)), 101)
    assert unknown.summary() == "IP6 ::1 > ::2: ICMP6, unknown icmp6 type (160), length 8"
    problem = decode(bytes(IPv6(src="::1", dst="::2") / ICMPv6(type=4, code=3, rest=48)), 101)
    assert problem.summary() == "IP6 ::1 > ::2: ICMP6, parameter problem, incomplete header chain - octet 48, length 8"


def test_dns_query_with_flags_a_query_should_not_set_gets_tcpdumps_mark():
    from netstudy.wire.dns import DNS, Message, Question
    # AA and the reserved Z bit in a query: tcpdump writes the whole flags word, [b2&3=0x...]
    odd = Message(id=5, rd=True, aa=True, z=True, question=[Question("example.com.")]).to_wire()
    assert DNS.summary_at(odd, 0, len(odd)) == "5+ [b2&3=0x540] A? example.com. (29)"
    parsed = Message.parse(odd)
    assert f"{parsed.summary()} ({len(odd)})" == DNS.summary_at(odd, 0, len(odd))
    plain = Message(id=5, rd=True, question=[Question("example.com.")]).to_wire()
    assert DNS.summary_at(plain, 0, len(plain)) == "5+ A? example.com. (29)"


def test_dns_message_cut_by_the_snap_length_shows_the_counts_then_what_fits():
    from netstudy.wire.dns import DNS, A, Message, Question, Record
    reply = Message(id=22836, qr=True, aa=True, question=[Question("www.tcpdump.org.")],
                    answer=[Record("www.tcpdump.org.", A("192.139.46.66")), Record("www.tcpdump.org.", A("1.2.3.4"))],
                    authority=[Record("tcpdump.org.", A("5.6.7.8"))]).to_wire()
    frame = bytes(IPv4(src="209.87.249.18", dst="192.168.1.11") / UDP(sport=53, dport=43966) / reply)
    # the second answer cut inside its fixed fields: tcpdump stops the answers there and writes the length
    # the UDP header gives (the message's, not the bytes captured)
    # (tcpdump writes no mark there; netstudy's names the record cut, in packet.error and the line)
    cut = decode(frame[:28 + 53], 101, wire_length=len(frame))
    assert cut.summary() == (f"IP 209.87.249.18.53 > 192.168.1.11.43966: 22836*- 2/1/0 A 192.139.46.66, ({len(reply)})"
                             " [|dns: answer 2 of 2 runs past the 53 bytes captured]")
    assert (cut.error.layer, cut.error.field, cut.error.offset) == ("DNS", "answer", 28 + 49)
    assert (cut[DNS].id, cut[DNS].ancount, cut[DNS].nscount) == (22836, 2, 1)     # the header kept
    # cut in the question: the header's counts, then the mark (tcpdump: 22836*- 2/1/0 [|domain])
    early = decode(frame[:28 + 30], 101, wire_length=len(frame))
    assert early.summary().endswith(": 22836*- 2/1/0 [|dns: question 1 of 1 runs past the 30 bytes captured]")
    assert (early.error.field, early.error.offset) == ("question", 28 + 12)
    assert decode(frame, 101).error is None
    # cut right after the first answer: the answers left unread, tcpdump's mark
    assert DNS.summary_at(reply[:49], 0, 49) == "22836*- 2/1/0 A 192.139.46.66 [|domain]"
    # cut inside the first answer's data: its type, then tcpdump's mark
    inside = DNS.summary_at(reply[:33 + 12], 0, 45)
    assert inside == "22836*- 2/1/0 A [|domain]"
    # counts no message could hold (hostile): the header's counts, then the mark where the walk stops
    hostile = bytes.fromhex("0001 8000 0003 0000 0000 0000")
    assert DNS.summary_at(hostile, 0, 12) == "1- [3q] [|domain]"


# -- snap length: every header with a variable part keeps its captured fixed fields ---------------------

def test_ipv4_options_cut_by_the_snap_length_keep_the_fixed_header():
    frame = bytes(IPv4(src="10.0.0.1", dst="10.0.0.2", options=b"\x01" * 8 + b"\x00" * 4) / UDP(sport=1, dport=2))
    packet = decode(frame[:24], 101, wire_length=len(frame))
    ip = packet[IPv4]
    assert (ip.src, ip.dst, ip.ttl, ip.protocol, ip.ihl) == ("10.0.0.1", "10.0.0.2", 64, 17, 8)
    assert (packet.error.layer, packet.error.field, packet.error.offset) == ("IPv4", "ihl", 0)
    assert packet.summary() == "IP 10.0.0.1 > 10.0.0.2: [|ipv4: header of 32 bytes runs past the 24 captured]"
    assert packet.checksums() == {"IPv4": "unverified"}       # the header is not all here


def test_ipv6_extension_headers_cut_by_the_snap_length_read_as_tcpdump():
    # tcpdump 4.99 on these frames: RT6 (len=2, type=0 [Deprecated], segleft=1 [|rt6], then [|hbhopt] alone
    routed = bytes(IPv6(src="::1", dst="::2") / IPv6Routing(routing_type=0, segments_left=1, options=bytes(20))
                   / UDP(sport=1, dport=2))
    packet = decode(routed[:50], 101, wire_length=len(routed))
    rt = packet[IPv6Routing]
    assert (rt.routing_type, rt.segments_left, rt.hdr_ext_len) == (0, 1, 2)
    assert (packet.error.layer, packet.error.field, packet.error.offset) == ("IPv6 routing", "hdr_ext_len", 41)
    assert packet.summary() == ("IP6 ::1 > ::2: RT6 (len=2, type=0 [Deprecated], segleft=1 [|ipv6 routing: "
                                "extension of 24 bytes runs past the 10 bytes left]")
    assert decode(routed[:41], 101).summary() == "IP6 ::1 > ::2: RT6 [|ipv6 routing: needs 8 bytes, only 1 left]"
    hbh = bytes(IPv6(src="::1", dst="::2") / IPv6HopByHop(options=[]) / UDP(sport=1, dport=2))
    packet = decode(hbh[:45], 101)
    assert packet[IPv6HopByHop].next_header == 17
    assert packet.summary() == "IP6 ::1 > ::2:  [|ipv6 hop-by-hop: extension of 8 bytes runs past the 5 bytes left]"


def _jumbogram(jumbo_length: int, data: int = 65528) -> bytes:
    """An ICMPv6 echo request of ``data`` bytes in a jumbogram (RFC 2675 §2): payload length 0, and the
    length (of the hop-by-hop header, the ICMPv6 header and the data) in a Jumbo Payload option."""
    return bytes(Ethernet(src=MAC1, dst=MAC2) / IPv6(src="::1", dst="::2", payload_length=0)
                 / IPv6HopByHop(options=[IPV6_OPTIONS.make("jumbo", jumbo_length)])
                 / ICMPv6Echo(identifier=3, sequence=4) / bytes(data))


def test_a_jumbogram_reads_its_length_from_the_jumbo_payload_option():
    # tcpdump 4.99 on these frames (written to a pcap): the lines below, and [icmp6 sum ok] with -v
    frame = _jumbogram(8 + 8 + 65528)
    packet = decode(frame, wire_length=len(frame))
    line = "IP6 ::1 > ::2: HBH ICMP6, echo request, id 3, seq 4, length 65536"
    assert packet.summary() == line and packet.row()["summary"] == line
    assert packet.network.jumbo_length == 65544 and packet.network.captured_whole
    assert packet.checksums() == {"ICMPv6 echo": "good"}
    assert decode(frame[:200], wire_length=len(frame)).summary() == line     # cut by the snap length: no mark
    trailing = _jumbogram(8 + 8 + 65528, 65530)                  # 2 bytes past the datagram: not the message's
    assert decode(trailing, wire_length=len(trailing)).summary() == line
    plain = decode(bytes(Ethernet(src=MAC1, dst=MAC2) / IPv6(src="::1", dst="::2") / IPv6HopByHop()
                         / ICMPv6Echo(identifier=3, sequence=4)))
    assert plain.network.jumbo_length is None
    assert decode(_jumbogram(1000)).network.jumbo_length is None     # 65535 or less: no jumbogram (RFC 2675 §3)


def test_a_jumbogram_longer_than_the_frame_is_truncated_after_its_hop_by_hop_header():
    frame = _jumbogram(8 + 8 + 65528 + 1)                       # one byte more than there is on the wire
    packet = decode(frame, wire_length=len(frame))
    line = "IP6 ::1 > ::2: HBH truncated-ip6 - 1 bytes missing!ICMP6, echo request, id 3, seq 4, length 65537"
    assert packet.summary() == line and packet.row()["summary"] == line
    assert packet.error is None and type(packet.network) is IPv6 and not packet.network.captured_whole
    assert packet.checksums() == {"ICMPv6 echo": "unverified"}
    assert decode(frame[:200], wire_length=len(frame)).summary() == line     # the wire's length says it lies
    assert decode(frame).summary() == "IP6 ::1 > ::2: HBH ICMP6, echo request, id 3, seq 4, length 65537"


def test_icmp_cut_inside_its_fixed_bytes_keeps_type_code_and_checksum():
    from netstudy.wire.icmp import ICMP
    from netstudy.wire.icmpv6 import ICMPv6
    quench = bytes(IPv4(src="10.0.0.1", dst="10.0.0.2") / ICMP(type=4, code=0))
    packet = decode(quench[:26], 101, wire_length=len(quench))
    assert (packet[ICMP].type, packet[ICMP].code) == (4, 0)
    assert (packet.error.layer, packet.error.field, packet.error.offset) == ("ICMP", "rest", 24)
    assert packet.summary() == ("IP 10.0.0.1 > 10.0.0.2: ICMP source quench, length 8 "
                                "[|icmp: needs 8 bytes, only 6 left]")
    assert packet.checksums() == {"IPv4": "good", "ICMP": "unverified"}
    # nothing of it captured: the addresses, then the mark (tcpdump: "IP 10.0.0.1 > 10.0.0.2:  [|icmp]")
    assert decode(quench[:20], 101).summary() == "IP 10.0.0.1 > 10.0.0.2:  [|icmp: needs 8 bytes, only 0 left]"
    assert decode(quench[:22], 101).summary() == "IP 10.0.0.1 > 10.0.0.2:  [|icmp: needs 8 bytes, only 2 left]"
    echo = bytes(IPv6(src="::1", dst="::2") / ICMPv6(type=128, code=0))
    packet = decode(echo[:46], 101, wire_length=len(echo))
    assert (packet[ICMPv6].type, packet.error.field, packet.error.offset) == (128, "identifier", 44)
    assert packet.summary().startswith("IP6 ::1 > ::2: ICMP6, echo request, length 8 [|icmpv6 echo: ")


def test_cut_headers_compiled_rows_equal_rows_from_header_objects():
    """The table's compiled row writer and the header objects agree on each kind of cut header."""
    from test_wire import _row_from_header_objects

    from netstudy.wire.dns import Message, Question
    from netstudy.wire.icmp import ICMP
    from netstudy.wire.icmpv6 import ICMPv6
    query = Message(id=1, rd=True, question=[Question("example.com.")]).to_wire()
    frames = [
        (bytes(IPv4(src="10.0.0.1", dst="10.0.0.2", options=b"\x01" * 12) / UDP(sport=1, dport=2)), (24, 30)),
        (bytes(IPv6(src="::1", dst="::2") / IPv6Routing(segments_left=1, options=bytes(20)) / UDP(sport=1, dport=2)),
         (41, 44, 50)),
        (bytes(IPv6(src="::1", dst="::2") / IPv6HopByHop(options=[]) / UDP(sport=1, dport=2)), (41, 45)),
        (bytes(IPv4(src="10.0.0.1", dst="10.0.0.2") / ICMP(type=4, code=0)), (20, 22, 26)),
        (bytes(IPv6(src="::1", dst="::2") / ICMPv6(type=128, code=0)), (40, 46)),
        (bytes(IPv4(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5353, dport=53) / query), (40, 45, 55)),
    ]
    for frame, cuts in frames:
        for cut in cuts:
            packet = decode(frame[:cut], 101, wire_length=len(frame))
            assert packet.error is not None, (frame.hex(), cut)
            assert packet.row() == _row_from_header_objects(packet), (frame.hex(), cut)


def test_dns_query_counts_in_tcpdumps_order():
    from netstudy.wire.dns import DNS, A, Message, Question, Record
    # a query carrying an answer and two questions: tcpdump writes [1a] before [2q]; an inverse query
    # (opcode 1) is expected to carry one answer, so its questions come first and [0a] is written
    two = Message(id=9, rd=True, question=[Question("a."), Question("b.")], answer=[Record("a.", A("1.2.3.4"))])
    assert DNS.parse(two.to_wire()).summary() == f"9+ [1a] [2q] A? a. A? b. ({len(two.to_wire())})"
    inverse = Message(id=9, opcode=1, question=[Question("a.")])
    assert DNS.parse(inverse.to_wire()).summary() == "9 inv_q [1q] [0a] A? a. (19)"


def test_dns_walk_reads_record_data_as_tcpdump_does():
    """On a message the parse refuses, the walk reads an address from its first 4 bytes whatever the
    rdlength says and a name as far as the message goes, as tcpdump 4.99.3 does (checked on these bytes)."""
    from netstudy.wire.dns import DNS
    head = bytes.fromhex("abcd8500" "0000" "0001" "0000" "0000")
    a_of_5 = head + b"\x00" + bytes.fromhex("0001 0001 00000000 0005") + bytes([1, 2, 3, 4, 5])
    assert DNS.summary_at(a_of_5, 0, len(a_of_5)) == "43981*- [0q] 1/0/0 A 1.2.3.4 (28)"
    ns_escaping = head + b"\x00" + bytes.fromhex("0002 0001 00000000 0001") + b"\x03abc\x00"
    assert DNS.summary_at(ns_escaping, 0, len(ns_escaping)) == "43981*- [0q] 1/0/0 NS abc. (28)"


def test_atm_arp_is_not_read_as_an_ethernet_arp():
    """Hardware type 19 is ATM ARP (RFC 2225), whose fields after the types are laid out otherwise:
    netstudy says it does not decode it (tcpdump's atmarp_print, on arp-oobr.pcap#1166: [|arp])."""
    frame = bytes.fromhex("ffffffffffff001f29da2d7908060013080006040001001f29da2d79c0a80168000000000000c0a80101"
                          + "00" * 18)
    packet = decode(frame)
    assert (packet.error.layer, packet.error.field, packet.error.offset) == ("ARP", "hardware_type", 14)
    assert packet.summary() == " [|arp: hardware type 19 is ATM ARP (RFC 2225), whose layout netstudy does not decode]"
