"""Reproducers for the defects that tcpdump's own test captures showed in netstudy.wire (issue 18): each
built with netstudy.wire (or a few bytes taken from a capture), each with the line tcpdump writes."""
from __future__ import annotations

import struct

from netstudy.wire import ARP, TCP, Ethernet, IPv4, decode, tcp_option

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
