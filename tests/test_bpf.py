"""netstudy.wire.bpf on its own and in the kernel: errors that point at the token, fuzzing, tcpdump's own
compiled programs (`tcpdump -ddd`) run by our interpreter, every program accepted by SO_ATTACH_FILTER,
and the kernel's verdicts on frames sent over loopback equal to run()'s."""
from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from bpf_expressions import EXPRESSIONS, MANY_PORTS
from conftest import need_root, tool
from hypothesis import given, settings
from hypothesis import strategies as st

from netstudy import pcap
from netstudy.net.filter import attach_filter, detach_filter
from netstudy.wire.bpf import BpfProgram, FilterError, Instruction, compile_filter
from netstudy.wire.bpf.parse import KEYWORDS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def frames(mixed_capture) -> list[pcap.Record]:
    return list(pcap.read(mixed_capture(1500)))


# --- errors ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("expression, column, words", [
    ("tcp port x", 10, "expected a port number after 'port'"),
    ("tcp port", 9, "expected a port number after 'port'"),
    ("tcp prt 80", 5, "expected 'port', 'portrange', 'src', 'dst', 'and' or 'or' after 'tcp'"),
    ("and tcp", 1, "expected a primitive"),
    ("frob", 1, "not an IPv4 or IPv6 address"),
    ("host 10.0.0.300", 6, "'10.0.0.300' is not an IPv4 or IPv6 address"),
    ("host example.com", 6, "host names are not looked up"),
    ("port 99999", 6, "a port must be from 0 to 65535"),
    ("(tcp or udp", 12, "expected ')'"),
    ("tcp or udp)", 11, "expected 'and', 'or' or the end"),
    ("tcp udp", 5, "expected 'and', 'or' or the end"),
    ("tcp and", 8, "the filter ends there"),
    ("net 10.0.0.1/8", 5, "non-network bits"),
    ("tcp host 10.0.0.1", 10, "'tcp' cannot qualify 'host'"),
    ("ip port 80", 9, "'ip' cannot qualify 'port'"),
    ("ether host 1:2:3", 12, "not a MAC address"),
    ("portrange 10", 11, "expected a port range"),
    ("vlan 5000", 6, "a VLAN id must be from 0 to 4095"),
    ("tcp[13:3] = 1", 8, "the size after ':' must be 1, 2 or 4"),
    ("tcp[13] = ", 11, "expected a number"),
    ("ip[0] / 0 = 1", 7, "division by zero"),
    ("tcp $ 1", 5, "unexpected character '$'"),
    ("ip6 host 10.0.0.1", 10, "'ip6' cannot match the IPv4 address"),
])
def test_errors_point_at_the_token(expression: str, column: int, words: str) -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter(expression)
    error = caught.value
    assert error.column == column, str(error)
    assert words in str(error)
    assert str(error).startswith("filter: ") and str(error).endswith(f"at column {column}: {expression}")
    assert error.pointer().splitlines()[1].index("^") == column - 1


@pytest.mark.parametrize("expression, linktype", [("vlan", 113), ("ether host 1:2:3:4:5:6", 228),
                                                  ("ether broadcast", 101)])
def test_link_layer_primitives_need_ethernet(expression: str, linktype: int) -> None:
    with pytest.raises(FilterError, match="needs an Ethernet link type|need an Ethernet link type"):
        compile_filter(expression, linktype=linktype)


def test_unknown_link_type() -> None:
    with pytest.raises(FilterError, match="link type 105 is not supported"):
        compile_filter("tcp", linktype=105)


WORDS = sorted(KEYWORDS) + ["80", "10.0.0.1", "::1", "1:2:3:4:5:6", "x", "0x10", "1-2", "tcp-syn", "\\tcp",
                            "(", ")", "[", "]", ":", "!", "&&", "||", "&", "|", "+", "-", "*", "/", "%", "<<",
                            "=", "!=", "<", ">=", "len", "tcp[13]", "10.0.0.0/8", "999999999999", "$"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=12), st.sampled_from([0, 1, 101, 113, 228, 229, 276]))
def test_token_soup_raises_only_filter_errors(words: list[str], linktype: int) -> None:
    try:
        program = compile_filter(" ".join(words), linktype=linktype)
    except FilterError:
        return
    assert program.instructions[-1].code == 0x06


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.integers(0, 70000), st.sampled_from(EXPRESSIONS[:60]))
def test_random_bytes_never_raise(data: bytes, wire_length: int, expression: str) -> None:
    verdict = compile_filter(expression).run(data, wire_length)
    assert verdict in (0, 262144)


def test_empty_expression_accepts_everything() -> None:
    program = compile_filter("", snaplen=96)
    assert program.listing() == "(000) ret      #96"
    assert program.run(b"", 0) == 96


# the optimised program is tcpdump -d's, instruction for instruction (vlan left out: its code is changing
# to the kernel's ancillary loads)
LIKE_TCPDUMP = (
    "ip proto \\tcp", "tcp", "udp", "icmp", "icmp6", "arp", "rarp", "ip", "ip6", "sctp", "igmp",
    "ip6 and tcp port 8080", "host 127.0.0.1", "src host 127.0.0.1", "host ::1", "dst host ::1", "host 10.0.0.105",
    "ip host 10.0.0.1", "arp host 10.0.0.1", "net 127.0.0.0/8", "net 10", "net 10.0.0.0/25",
    "net 10.0.0.128 mask 255.255.255.128", "src and dst net 10.0.0.0/24", "host fd00:6e73::6de:1668:bc12:38",
    "net fd00:6e73::/32", "ip6 net fe80::/10", "src net ::/0", "ether src 02:4d:0f:07:00:a5",
    "ether dst 02:54:14:2e:00:69 or ether host 02:ff:42:8e:00:aa", "ether host 2:4d:f:7:0:a5", "ether broadcast",
    "ether multicast", "arp and ether broadcast", "ip multicast", "ip6 multicast",
    "ip6 multicast or ether multicast", "ip broadcast", "ether proto 0x86dd", "ether proto \\arp", "ip proto 17",
    "ip6 proto 58", "proto \\udp", "ip proto \\icmp or ip6 proto 58", "greater 200", "less 80 and ip",
    "len >= 100 and len <= 200", "len > 100 and len < 500", "tcp[tcpflags] & tcp-syn != 0", "tcp[13] & 18 = 18",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn", "tcp[tcpflags] == tcp-syn | tcp-ack", "ip[8] < 64",
    "ip[2:2] > 100 and ip[6] & 0x40 != 0", "icmp[icmptype] = icmp-echo or icmp[icmptype] = icmp-echoreply",
    "icmp6[0] = 128", "udp[8:2] > 100", "ip[0] & 0xf != 5", "ip[6:2] & 0x1fff != 0", "ip6[6] = 44",
    "ether[12:2] ^ 0x86dd = 0",
)


@pytest.mark.parametrize("expression", LIKE_TCPDUMP)
def test_listing_reads_like_tcpdump_d(expression: str) -> None:
    tcpdump = tool("tcpdump")
    theirs = subprocess.run([tcpdump, "-d", "-y", "EN10MB", expression], capture_output=True, text=True,
                            check=True).stdout
    assert compile_filter(expression).listing() == theirs.rstrip("\n").replace("tax      ", "tax")


FAR = " or ".join(f"ip[{i}:4] = {i}" for i in range(150))          # 300 tests the optimiser cannot shorten


@pytest.mark.parametrize("program", [compile_filter(MANY_PORTS, optimize=False), compile_filter(FAR)],
                         ids=["generated", "optimised"])
def test_far_jumps_go_through_ja(program: BpfProgram) -> None:
    assert len(program) > 300
    assert any(i.code == 0x05 for i in program.instructions)            # ja
    assert all(i.jt <= 255 and i.jf <= 255 for i in program.instructions)


def test_bad_programs_refused() -> None:
    with pytest.raises(FilterError.__mro__[1], match="jumps past the end"):
        BpfProgram((Instruction(0x15, 5, 0, 1), Instruction(0x06, 0, 0, 0)))
    with pytest.raises(FilterError.__mro__[1], match="must end with a ret"):
        BpfProgram((Instruction(0x28, 0, 0, 12),))


# --- tcpdump's compiled programs through our interpreter -------------------------------------------

def tcpdump_program(tcpdump: str, expression: str) -> BpfProgram:
    """tcpdump's own program for the expression (`tcpdump -ddd`: a count, then `code jt jf k` lines)."""
    text = subprocess.run([tcpdump, "-ddd", "-y", "EN10MB", expression], capture_output=True, text=True,
                          check=True).stdout.split("\n")
    count = int(text[0])
    return BpfProgram(tuple(Instruction(*map(int, line.split())) for line in text[1:1 + count]))


def test_tcpdump_programs_in_our_interpreter(frames: list[pcap.Record]) -> None:
    """tcpdump's optimised program and ours, both run by run(), give every frame the same verdict."""
    tcpdump = tool("tcpdump")
    for expression in EXPRESSIONS[::3]:
        theirs, ours = tcpdump_program(tcpdump, expression), compile_filter(expression)
        verdicts = [(theirs.run(r.data, r.length), ours.run(r.data, r.length)) for r in frames]
        assert all(a == b for a, b in verdicts), expression
        assert ours.c_array().count("\n") + 1 == len(ours)


# --- the kernel --------------------------------------------------------------------------------------

def test_the_kernel_accepts_every_program() -> None:
    need_root("AF_PACKET and raw sockets")
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)) as packet, \
            socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP) as raw:
        for expression in EXPRESSIONS:
            attach_filter(packet, compile_filter(expression))
            try:
                ipv4 = compile_filter(expression, linktype=228)
            except FilterError:
                continue                                       # vlan, ether: not on a raw IPv4 socket
            attach_filter(raw, ipv4)
        detach_filter(packet)
        with pytest.raises(OSError):
            detach_filter(packet)                              # nothing left to detach


LIVE = ("udp", "tcp port 80", "not ip6 and greater 100", "tcp[tcpflags] & tcp-syn != 0", "arp or icmp6",
        "host 10.0.0.105 or net fd00:6e73::/32 and udp")


@pytest.mark.parametrize("expression", LIVE)
def test_kernel_verdicts_equal_ours_on_loopback(expression: str, frames: list[pcap.Record]) -> None:
    """Frames of the mixed capture sent on lo through a packet socket: the filtered packet socket receives
    exactly those run() accepts. (802.1Q frames are left out: the kernel strips the tag on receive.)"""
    need_root("AF_PACKET sockets")
    sent = [bytes(r.data) for r in frames[:400] if r.data[12:14] != b"\x81\x00" and len(r.data) <= 1500]
    program = compile_filter(expression)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)) as receiver, \
            socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sender:
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        receiver.bind(("lo", 0))
        attach_filter(receiver, program)
        receiver.setblocking(False)
        while True:                                            # what was queued before the filter
            try:
                receiver.recv(65536)
            except BlockingIOError:
                break
        sender.bind(("lo", 0))
        for frame in sent:
            sender.send(frame)
        time.sleep(0.3)
        received = set()
        while True:
            try:
                received.add(receiver.recv(65536))
            except BlockingIOError:
                break
    ours = {frame for frame in sent if program.accepts(frame)}
    assert ours and len(ours) < len(set(sent))
    assert received & set(sent) == ours                      # others' loopback traffic may pass too: ignored


def test_attach_needs_a_socket_that_exists() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.close()
    with pytest.raises(OSError):
        attach_filter(sock, compile_filter("udp"))
    assert os.name == "posix"
