"""802.1Q-tagged frames captured live, judged by tcpdump capturing the same veth at the same time.

The kernel takes the outer VLAN tag out of a frame before a packet socket sees it; the sniffer must put
it back in every frame (both paths) and compile ``vlan`` for the socket with the ancillary loads, as
libpcap does. The lab: two namespaces (``sniff-vlan-a-…``, ``sniff-vlan-b-…``) joined by a veth pair;
A sends tagged frames (802.1Q VLANs 10 and 20, a priority, an 802.1ad QinQ frame) with a packet socket,
and a real ping untagged; B's kernel takes each outer tag into the frame's metadata on receive, and
both captures run on B's veth (the filters also on A's, where the frames going out keep their tags in
their bytes: the other half of libpcap's program). (This machine's kernel has no 8021q driver, so no ``type vlan``
sub-interface can make the tagged traffic: the frames are written whole instead, and the receiving
kernel untags them as it would a NIC's.)"""
from __future__ import annotations

import collections
import contextlib
import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import need_namespaces, need_root, tool
from sniffing import NETSTUDY, TCPDUMP, Namespace, interrupt, wait_listening

from netstudy import pcap
from netstudy.wire.bpf import compile_filter

pytestmark = [pytest.mark.live, pytest.mark.root, pytest.mark.interop, pytest.mark.lab]
A_IFACE, B_IFACE = "vlana", "vlanb"
TPIDS = (b"\x81\x00", b"\x88\xa8")

# run in namespace A: argv = interface, destination MAC, source MAC
SENDER = r"""
import sys
from scapy.all import IP, ICMP, UDP, Dot1Q, Ether, sendp
iface, dst, src = sys.argv[1:4]
frames = (
    [Ether(dst=dst, src=src) / Dot1Q(vlan=10, prio=5) / IP(src="10.10.0.1", dst="10.10.0.2") / ICMP(seq=i)
     for i in range(3)]
    + [Ether(dst=dst, src=src) / Dot1Q(vlan=20) / IP(src="10.20.0.1", dst="10.20.0.2") / UDP(dport=5004)
       / (b"vlan twenty %d" % i) for i in range(3)]
    + [Ether(dst=dst, src=src) / Dot1Q(vlan=10) / IP(src="10.10.0.3", dst="10.10.0.2") / UDP(dport=7)
       / (b"x" * 200) for _ in range(2)]
    + [Ether(dst=dst, src=src, type=0x88A8) / Dot1Q(vlan=30, type=0x8100) / Dot1Q(vlan=10)
       / IP(src="10.10.0.1", dst="10.10.0.2") / ICMP(seq=9) for _ in range(2)])
sendp(frames, iface=iface, verbose=0)
"""
FILTERS = ["vlan", "vlan 10", "vlan 20", "vlan and icmp", "not vlan", "vlan 10 and host 10.10.0.1",
           "vlan and vlan", "vlan 20 and udp port 5004"]


class VlanLink:
    """Namespaces A and B joined by a veth pair (IPv6 off: no neighbour discovery in the captures)."""

    def __init__(self, a: Namespace, b: Namespace) -> None:
        self.a, self.b = a, b

    def setup(self) -> None:
        subprocess.run(["ip", "link", "add", A_IFACE, "netns", self.a.name, "type", "veth", "peer", "name", B_IFACE,
                        "netns", self.b.name], check=True)
        for ns, iface, address in ((self.a, A_IFACE, "10.0.0.1/24"), (self.b, B_IFACE, "10.0.0.2/24")):
            ns.run(["sysctl", "-qw", f"net.ipv6.conf.{iface}.disable_ipv6=1"], check=True)
            ns.run(["ip", "addr", "add", address, "dev", iface], check=True)
            ns.run(["ip", "link", "set", iface, "up"], check=True)

    def mac(self, ns: Namespace, iface: str) -> str:
        return json.loads(ns.run(["ip", "-j", "link", "show", iface], check=True).stdout)[0]["address"]

    def traffic(self) -> None:
        """The tagged frames from A, and three pings (untagged, answered) from A to B."""
        self.a.run([sys.executable, "-c", SENDER, A_IFACE, self.mac(self.b, B_IFACE), self.mac(self.a, A_IFACE)],
                   check=True)
        self.a.run(["ping", "-c", "3", "-i", "0.2", "10.0.0.2"], check=True)


@pytest.fixture
def link() -> Iterator[VlanLink]:
    need_root("AF_PACKET capture and network namespaces")
    need_namespaces()
    tool("tcpdump")
    pytest.importorskip("scapy")
    with Namespace("vlan-a") as a, Namespace("vlan-b") as b:
        pair = VlanLink(a, b)
        pair.setup()
        yield pair


@contextlib.contextmanager
def capturing(ns: Namespace, *argvs: list) -> Iterator[list[str]]:
    """Every capture listening before the block runs, all interrupted after it; their stderr after."""
    procs: list[subprocess.Popen] = []
    errors: list[str] = []
    try:
        procs.extend(ns.popen(argv) for argv in argvs)      # all starting at once, then each one listening
        for proc in procs:
            wait_listening(proc)
        time.sleep(0.3)
        yield errors
        time.sleep(1.0)
    finally:
        errors.extend(interrupt(proc)[1] for proc in procs)


def tcpdump(path: Path, *extra: str, iface: str = B_IFACE) -> list[str]:
    return [*TCPDUMP, "-i", iface, *extra, "-w", str(path)]


def ours(path: Path, mechanism: str, *extra: str, iface: str = B_IFACE) -> list[str]:
    return [*NETSTUDY, "sniff", "-i", iface, "--mechanism", mechanism, *extra, "-w", str(path)]


def frames(path: Path | io.BytesIO) -> collections.Counter[tuple[bytes, int]]:
    return collections.Counter((bytes(r.data), r.length) for r in pcap.read(path))


def tagged(counter: collections.Counter[tuple[bytes, int]]) -> collections.Counter[tuple[bytes, int]]:
    return collections.Counter({k: v for k, v in counter.items() if k[0][12:14] in TPIDS})


def in_metadata(data: bytes, length: int) -> tuple[bytes, int, int | None]:
    """The frame as B's packet socket got it: the outer tag out of the bytes, into ``vlan_tci``."""
    if data[12:14] in TPIDS:
        return data[:12] + data[16:], length - 4, int.from_bytes(data[14:16], "big")
    return data, length, None


@pytest.mark.parametrize("mechanism", ["ring", "recvfrom"])
def test_every_frame_carries_its_tag_as_tcpdumps(link, tmp_path, mechanism):
    theirs, mine = tmp_path / "tcpdump.pcap", tmp_path / "ours.pcap"
    theirs_cut, mine_cut = tmp_path / "tcpdump-s40.pcap", tmp_path / "ours-s40.pcap"
    with capturing(link.b, tcpdump(theirs), ours(mine, mechanism), tcpdump(theirs_cut, "-s", "40"),
                   ours(mine_cut, mechanism, "-s", "40")) as errors:
        link.traffic()
    expected = frames(theirs)
    assert frames(mine) == expected, errors
    tags = tagged(expected)
    assert sum(tags.values()) == 10 and sum(expected.values()) >= 16       # 10 tagged, 3 pings each way
    assert any(data[14:16] == b"\xa0\x0a" for data, _ in tags)            # priority 5, VLAN 10: the whole TCI
    assert sum(v for (data, _), v in tags.items() if data[12:14] == b"\x88\xa8") == 2   # 802.1ad kept as 0x88a8
    # the snap length cuts the frame with its tag back in, and the wire length counts the tag
    cut = tagged(frames(mine_cut))
    assert cut == tagged(frames(theirs_cut))
    assert {(data, length) for data, length in cut} == {(data[:40], length) for data, length in tags}


@pytest.mark.parametrize("side", ["receiving", "sending"])
def test_live_filters_keep_the_frames_tcpdumps_keep(link, tmp_path, side):
    """Every filter of FILTERS on one run of the traffic: tcpdump with it, our ring and recvfrom with it,
    and tcpdump with none (what the interface carried), all on the same veth at the same time."""
    ns, iface = (link.b, B_IFACE) if side == "receiving" else (link.a, A_IFACE)
    everything = tmp_path / "all.pcap"
    paths = {(expression, capture): tmp_path / f"{number}-{capture}.pcap"
             for number, expression in enumerate(FILTERS) for capture in ("tcpdump", "ring", "recvfrom")}
    argvs = [tcpdump(path, expression, iface=iface) if capture == "tcpdump" else ours(path, capture, expression,
                                                                                       iface=iface)
             for (expression, capture), path in paths.items()]
    with capturing(ns, tcpdump(everything, iface=iface), *argvs) as errors:
        link.traffic()
    seen = frames(everything)
    assert sum(tagged(seen).values()) == 10
    for expression in FILTERS:
        expected = frames(paths[expression, "tcpdump"])
        assert frames(paths[expression, "ring"]) == expected, (expression, errors)
        assert frames(paths[expression, "recvfrom"]) == expected, (expression, errors)
        # our interpreter, given each frame as the kernel had it (received: the outer tag in metadata; sent:
        # the tag in the bytes), keeps the same frames
        live = compile_filter(expression, live=True)
        as_kernel_had_it = in_metadata if side == "receiving" else lambda data, length: (data, length, None)
        kept = collections.Counter({k: v for k, v in seen.items() if live.accepts(*as_kernel_had_it(*k))})
        assert kept == expected, expression
        # and on the file, our file program keeps what tcpdump -r keeps
        done = subprocess.run(["tcpdump", "-r", str(everything), "-w", "-", expression], capture_output=True,
                              check=True)
        from_file = frames(io.BytesIO(done.stdout))
        program = compile_filter(expression)
        assert collections.Counter({k: v for k, v in seen.items() if program.accepts(*k)}) == from_file, expression
        assert from_file == expected, expression    # a frame tagged in its bytes or in metadata: the same verdict
