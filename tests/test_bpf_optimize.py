"""netstudy.wire.bpf.optimize: the optimised program gives the unoptimised one's verdict on every frame
(whole, cut short, random bytes) for every expression of tests/bpf_expressions.py and for expressions
hypothesis builds from the grammar; tcpdump's own unoptimised programs (`tcpdump -O -ddd`) keep their
verdicts through it; and the everyday expressions come out no longer than `tcpdump -d`'s programs."""
from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from bpf_expressions import EXPRESSIONS
from conftest import need_root, tool
from hypothesis import given, settings
from hypothesis import strategies as st

from netstudy import pcap
from netstudy.wire.bpf import BpfProgram, FilterError, Instruction, compile_filter
from netstudy.wire.bpf.optimize import optimize_program
from netstudy.wire.bpf.program import ABS, LD, RET, B, K, W

ROOT = Path(__file__).resolve().parent.parent
EVERYDAY = ("tcp", "udp", "icmp", "host 10.0.0.1", "port 80", "tcp port 80", "src host 10.0.0.1 and dst port 53",
            "net 10.0.0.0/8", "not port 22", "ip6 and tcp", "arp", "icmp6", "host ::1", "udp port 53")


@pytest.fixture(scope="module")
def packets(tmp_path_factory) -> list[tuple[bytes, int]]:
    """The mixed capture's frames, each also cut at a random length (loads past the end drop a packet),
    and random bytes."""
    out = tmp_path_factory.mktemp("bpfopt") / "mixed.pcap"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_mixed_pcap.py"), "--packets", "1200",
                    "--out", str(out)], check=True, capture_output=True)
    whole = [(bytes(r.data), r.length) for r in pcap.read(out)]
    rng = random.Random(15)
    cut = [(data[:rng.randrange(len(data) + 1)], length) for data, length in whole]
    noise = [(rng.randbytes(rng.randrange(80)), rng.randrange(2000)) for _ in range(300)]
    return whole + cut + noise


def differing(expression: str, packets: list[tuple[bytes, int]], linktype: int = 1) -> list[bytes]:
    before = compile_filter(expression, linktype=linktype, optimize=False)
    after = compile_filter(expression, linktype=linktype)
    assert len(after) <= len(before), expression
    return [data for data, length in packets if before.run(data, length) != after.run(data, length)]


FAR = " or ".join(f"ip[{i}:4] = {i}" for i in range(150))          # far jumps: the optimiser's own ja


@pytest.mark.parametrize("expression", EXPRESSIONS + (FAR,))
def test_same_verdicts_as_unoptimised(expression: str, packets: list[tuple[bytes, int]]) -> None:
    assert differing(expression, packets) == []


@pytest.mark.parametrize("linktype", [0, 101, 113, 228, 229, 276])
def test_same_verdicts_on_other_link_types(linktype: int, packets: list[tuple[bytes, int]]) -> None:
    for expression in EXPRESSIONS[::4]:
        try:
            assert differing(expression, packets[::3], linktype) == [], expression
        except FilterError as exc:
            assert "Ethernet" in str(exc), exc           # vlan, ether: Ethernet only


@pytest.mark.parametrize("expression", [e for e in EXPRESSIONS if "vlan" in e])
def test_same_verdicts_live(expression: str, packets: list[tuple[bytes, int]]) -> None:
    """``live=True``: vlan reads the kernel's ancillary loads ([vlanp], [vlan_tci]) and keeps the offsets
    in scratch words; frames as a live socket gets them, the outer tag moved into metadata (or none)."""
    before = compile_filter(expression, live=True, optimize=False)
    after = compile_filter(expression, live=True)
    assert len(after) < len(before)
    tagged = [(d[:12] + d[16:], n - 4, int.from_bytes(d[14:16], "big")) for d, n in packets
              if d[12:14] in (b"\x81\x00", b"\x88\xa8", b"\x91\x00") and len(d) >= 18]
    assert len(tagged) >= 30
    live = tagged + [(d, n, None) for d, n in packets] + [(d, n, 14) for d, n in packets[::7]]
    assert [d for d, n, tci in live if before.run(d, n, tci) != after.run(d, n, tci)] == []


ATOMS = ("tcp", "udp", "icmp", "ip6", "arp", "port 53", "src port 80", "dst port 443", "host 10.0.0.105",
         "net 10.0.0.0/24", "ip6 net fd00:6e73::/32", "portrange 50-90", "udp dst port 53", "icmp6", "vlan",
         "less 100", "greater 600", "tcp[13] & 2 != 0", "ip[8] > 64", "ether broadcast", "ip", "sctp",
         "tcp port 22 or 80", "ether multicast", "udp[8:2] > 100", "host ::1")
EXPRESSION_TREES = st.recursive(
    st.sampled_from(ATOMS),
    lambda inner: st.one_of(st.builds(lambda a, b: f"({a}) and ({b})", inner, inner),
                            st.builds(lambda a, b: f"({a}) or ({b})", inner, inner),
                            st.builds(lambda a: f"not ({a})", inner)),
    max_leaves=7)


@settings(max_examples=120, deadline=None)
@given(EXPRESSION_TREES)
def test_grammar_expressions_keep_their_verdicts(packets: list[tuple[bytes, int]], expression: str) -> None:
    assert differing(expression, packets[::4]) == [], expression


def test_tcpdumps_unoptimised_programs(packets: list[tuple[bytes, int]]) -> None:
    """The optimiser takes any program: tcpdump's own `-O` (unoptimised) programs keep their verdicts,
    and none grows."""
    tcpdump = tool("tcpdump")
    for expression in EXPRESSIONS[1::5]:
        text = subprocess.run([tcpdump, "-O", "-ddd", "-y", "EN10MB", expression], capture_output=True,
                              text=True, check=True).stdout.split("\n")
        theirs = BpfProgram(tuple(Instruction(*map(int, line.split())) for line in text[1:1 + int(text[0])]))
        ours = BpfProgram(tuple(optimize_program(theirs.instructions)))
        assert len(ours) <= len(theirs), expression
        assert all(theirs.run(d, n) == ours.run(d, n) for d, n in packets[::2]), expression


def test_everyday_expressions_as_short_as_tcpdumps() -> None:
    tcpdump = tool("tcpdump")
    for expression in EVERYDAY:
        theirs = subprocess.run([tcpdump, "-d", "-y", "EN10MB", expression], capture_output=True, text=True,
                                check=True).stdout.count("\n")
        assert len(compile_filter(expression)) <= theirs, expression


def test_port_80_loses_its_repeated_tests() -> None:
    """The TCP/UDP/SCTP alternatives re-tested `ldh [12]; jeq #0x800` and `ldb [23]`: 54 instructions
    become tcpdump's 24, each of the three protocols tested once."""
    before, after = compile_filter("port 80", optimize=False), compile_filter("port 80")
    assert (len(before), len(after)) == (54, 24)
    assert after.listing().count("ldh      [12]") == 1
    assert after.listing().count("ldb      [23]") == 1


def test_a_load_that_may_fail_stays() -> None:
    """A load nothing reads is kept when it may run past the end of the packet (it drops the packet), and
    a load at an ancillary offset (SKF_AD_OFF + 44, vlan_tci) proves nothing about the packet's length."""
    ancillary, dead = Instruction(LD | W | ABS, 0, 0, 0xFFFFF000 + 44), Instruction(LD | B | ABS, 0, 0, 30)
    program = [ancillary, dead, Instruction(LD | W | ABS, 0, 0, 0), Instruction(RET | K, 0, 0, 0xFFFF)]
    assert dead in optimize_program(program)
    program = [Instruction(LD | W | ABS, 0, 0, 40), dead, Instruction(LD | W | ABS, 0, 0, 0),
               Instruction(RET | K, 0, 0, 0xFFFF)]
    assert dead not in optimize_program(program)         # [40:44] was there, so [30] is


def test_unoptimised_program_for_the_lesson() -> None:
    program = compile_filter("tcp port 80", optimize=False)
    assert program.listing().count("ldxb") == 2 and len(program) == 22


LIVE_VLAN = ("vlan", "vlan 10", "vlan and vlan", "vlan or arp", "vlan 10 and icmp", "not vlan and udp",
             "vlan 3 and vlan and tcp", "vlan 10 and udp port 53")


@pytest.mark.parametrize("expression", LIVE_VLAN)
def test_live_vlan_programs_as_short_as_tcpdumps(expression: str) -> None:
    """On a socket (`tcpdump -d -i lo`): the scratch words holding the offsets fold to constants, so
    ``ldx M[1]; ldh [x + 12]`` becomes ``ldh [16]``; four programs are tcpdump's exactly."""
    need_root("tcpdump -d -i lo")
    theirs = subprocess.run([tool("tcpdump"), "-d", "-i", "lo", expression], capture_output=True, text=True,
                            check=True).stdout.rstrip("\n")
    ours = compile_filter(expression, live=True)
    assert len(ours) <= theirs.count("\n") + 1
    if expression in ("vlan", "vlan and vlan", "vlan or arp", "not vlan and udp"):
        assert ours.listing() == theirs
