"""`vlan` compiled for a live Linux socket (compile_filter(..., live=True)), where the kernel has taken the
outer tag out of the frame: the ancillary loads [vlanp] and [vlan_tci], listed as tcpdump -d lists them,
run by our interpreter from the frame's metadata (run(..., vlan_tci=)), and the programs of
`tcpdump -ddd -i IFACE` giving every frame the same verdict as ours, the tag in the bytes or in metadata.
(The live capture itself: tests/test_sniff_vlan.py.)"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from bpf_expressions import EXPRESSIONS
from conftest import need_root, tool

from netstudy import pcap
from netstudy.net.filter import attach_filter
from netstudy.wire.bpf import BpfProgram, Instruction, compile_filter

ROOT = Path(__file__).resolve().parent.parent
VLANP, VLAN_TCI, PROTOCOL = 0xFFFFF030, 0xFFFFF02C, 0xFFFFF000        # SKF_AD_OFF + 48, + 44, + 0
RET_A = Instruction(0x16, 0, 0, 0)
UNTAGGED = bytes(12) + b"\x08\x00" + bytes(40)


@pytest.fixture(scope="module")
def frames(mixed_capture) -> list[tuple[bytes, int, int | None]]:
    """The mixed capture's frames twice: as a file holds them, and as a live socket gets them (the outer
    tag of each tagged frame moved into ``vlan_tci``)."""
    out = mixed_capture(3000)
    records = [(bytes(r.data), r.length) for r in pcap.read(out)]
    live = [(d[:12] + d[16:], n - 4, int.from_bytes(d[14:16], "big")) for d, n in records
            if d[12:14] in (b"\x81\x00", b"\x88\xa8", b"\x91\x00") and len(d) >= 18]
    assert len(live) >= 30
    return [(d, n, None) for d, n in records] + live


def test_ancillary_loads_read_the_metadata() -> None:
    present = BpfProgram((Instruction(0x30, 0, 0, VLANP), RET_A))          # ldb [vlanp]; ret a
    tci = BpfProgram((Instruction(0x28, 0, 0, VLAN_TCI), RET_A))           # ldh [vlan_tci]; ret a
    assert present.run(UNTAGGED) == 0 and present.run(UNTAGGED, vlan_tci=0) == 1
    assert tci.run(UNTAGGED, vlan_tci=0xA00A) == 0xA00A and tci.run(UNTAGGED) == 0
    assert present.listing().splitlines()[0] == "(000) ldb      [vlanp]"
    assert tci.listing().splitlines()[0] == "(000) ldh      [vlan_tci]"
    # an ancillary load not modelled (SKF_AD_PROTOCOL) drops the packet, as a load past the end
    assert BpfProgram((Instruction(0x28, 0, 0, PROTOCOL), Instruction(0x06, 0, 0, 1))).run(UNTAGGED) == 0


def test_vlan_on_a_file_has_no_ancillary_load() -> None:
    for expression in ("vlan", "vlan 10 and icmp"):
        assert "vlan" not in compile_filter(expression).listing()
        assert "[vlanp]" in compile_filter(expression, live=True).listing()
    # without vlan, live changes nothing
    assert compile_filter("tcp port 80", live=True).instructions == compile_filter("tcp port 80").instructions


@pytest.mark.parametrize("expression", ["vlan 10", "vlan 10 and icmp", "vlan and udp port 5004"])
def test_live_vlan_verdicts(expression: str) -> None:
    """A VLAN 10 ICMP frame and a VLAN 10 UDP/5004 one, the tag in the bytes or in metadata."""
    ip = bytes.fromhex("4500001c0001000040010000") + bytes([10, 10, 0, 1, 10, 10, 0, 2])
    icmp = bytes(12) + b"\x08\x00" + ip + bytes(8)
    udp = bytes(12) + b"\x08\x00" + ip[:9] + b"\x11" + ip[10:] + (5004).to_bytes(2, "big") * 2 + bytes(4)
    program = compile_filter(expression, live=True)
    for frame in (icmp, udp):
        wanted = expression == "vlan 10" or (b"\x01" if "icmp" in expression else b"\x11") == frame[23:24]
        tagged = frame[:12] + b"\x81\x00\xa0\x0a" + frame[12:]
        assert program.accepts(frame, vlan_tci=0xA00A) == wanted                 # the tag in metadata
        assert program.accepts(tagged) == wanted                                 # the tag in the bytes
        if expression.startswith("vlan 10"):
            assert not program.accepts(frame, vlan_tci=0xA014)                   # VLAN 20
        assert not program.accepts(frame)                                         # no tag at all


def tcpdump_live_program(expression: str) -> BpfProgram:
    """tcpdump's program for a live socket on lo (`tcpdump -ddd -i lo`: a count, then `code jt jf k`)."""
    text = subprocess.run([tool("tcpdump"), "-ddd", "-i", "lo", expression], capture_output=True, text=True,
                          check=True).stdout.split("\n")
    return BpfProgram(tuple(Instruction(*map(int, line.split())) for line in text[1:1 + int(text[0])]))


def test_listing_reads_like_tcpdump_d_on_an_interface() -> None:
    """Unoptimised (tcpdump -O), libpcap's live programs are ours instruction for instruction."""
    need_root("tcpdump -i lo")
    for expression in ("vlan", "vlan 10", "vlan and vlan", "vlan or arp", "vlan 10 and icmp", "not vlan and udp",
                       "vlan 3 and vlan and tcp"):
        theirs = subprocess.run([tool("tcpdump"), "-O", "-d", "-i", "lo", expression], capture_output=True,
                                text=True, check=True).stdout
        assert compile_filter(expression, live=True, optimize=False).listing() == theirs.rstrip("\n"), expression


def test_tcpdumps_live_programs_in_our_interpreter(frames) -> None:
    """For every expression, tcpdump's optimised live program and ours give every frame the same verdict,
    the tag in its bytes (a frame seen going out, QinQ's inner tag) or in metadata."""
    need_root("tcpdump -i lo")
    for expression in EXPRESSIONS:
        theirs, ours = tcpdump_live_program(expression), compile_filter(expression, live=True)
        assert all(theirs.run(*frame) == ours.run(*frame) for frame in frames), expression


def test_the_kernel_accepts_every_live_program() -> None:
    need_root("AF_PACKET sockets")
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0) as packet:
        for expression in EXPRESSIONS:
            attach_filter(packet, compile_filter(expression, live=True))


def test_sniff_d_prints_the_live_program_or_the_files() -> None:
    """`netstudy sniff -d` as tcpdump -d: for the interface's socket, or with -r for the file's frames."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "netstudy.cli", "sniff", "-d"]
    live = subprocess.run([*argv, "-i", "lo", "vlan", "10"], capture_output=True, text=True, check=True, env=env)
    assert live.stdout.rstrip("\n") == compile_filter("vlan 10", live=True).listing()
    capture = ROOT / "netstudy" / "data" / "captures" / "loopback_sniff.pcap"
    on_file = subprocess.run([*argv, "-r", str(capture), "vlan", "10"], capture_output=True, text=True, check=True,
                             env=env)
    assert on_file.stdout.rstrip("\n") == compile_filter("vlan 10").listing()
