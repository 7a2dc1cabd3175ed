"""Reassembly judged by tshark: every TCP stream of many captures followed byte for byte as
``tshark -q -z follow,tcp,raw|ascii,N`` prints it, fragmented datagrams equal to tshark's reassembled
ones, DNS over TCP read as tshark reads it; and the streams' records (anomalies, states) on the
captures made by tests/data/record_reassembly.py, where we know what each segment did."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import tool

from netstudy.stats.reassembly import State, reassemble
from netstudy.wire import decode_ip

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "tests" / "data" / "captures"
PEER = Path("/work/shared/peer-captures/tcpdump")
FOLLOW_MODES = ("raw", "ascii")
# tcpdump's own test captures with TCP: IPv4 and IPv6, TSO and GSO super-segments, TCP fast open,
# truncated segments, MPTCP, a malformed frame cut in its IP fragment
PEER_TCP = ("dns_tcp.pcap", "dns_tcp_8053.pcap", "ssh.pcap", "kday4.pcap", "tfo-5c1fa7f9ae91.pcap", "gso-ipv6.pcap",
            "bigtcp-ipv6-hbh.pcap", "bigtcp-ipv4.pcap", "ipv4_tcp_http_xml_tso.pcap", "tcp_rst_data-trunc.pcap",
            "tcp_rst_diag_payload.pcap", "mptcp-v0.pcap", "mptcp-aa-echo.pcap", "bgp-4byte-asn.pcap",
            "ldp-common-session.pcap", "whois.pcap", "rpki-rtr-oobr.pcap", "accecn_handshake.pcap")
# (mptcp-dss-oobr.pcap is left out: tshark stops at its malformed MPTCP option before following the
# segment, and netstudy's TCP decoder does not judge option contents; the geneve/vxlan captures carry
# their TCP inside UDP tunnels netstudy does not decode.)


def _fixtures() -> list[Path]:
    own = sorted(p for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng"))
    shipped = sorted((ROOT / "netstudy" / "data" / "captures").glob("*.pcap"))
    return own + shipped


@pytest.fixture(scope="module")
def mixed(mixed_capture) -> Path:
    return mixed_capture(3000)


def tshark_follow(path: Path, streams: int) -> tuple[int, dict[str, str]]:
    """One tshark run: how many TCP streams it numbers (``tcp.stream`` of every frame), and its raw
    and ascii follow blocks of streams 0..streams-1, each mode's put in stream order (tshark prints
    the last asked first)."""
    args = [tool("tshark"), "-n", "-r", str(path), "-T", "fields", "-e", "tcp.stream"]
    for mode in FOLLOW_MODES:
        for index in range(streams):
            args += ["-z", f"follow,tcp,{mode},{index}"]
    out = subprocess.run(args, capture_output=True, check=True).stdout.decode("latin-1")
    start = re.search(r"\n=+\nFollow: ", out)
    fields, follows = (out[:start.start()], out[start.start():]) if start else (out, "")
    numbered = max((int(x) for x in fields.split()), default=-1) + 1
    blocks: dict[str, list[tuple[int, str]]] = {mode: [] for mode in FOLLOW_MODES}
    for block in re.split(r"(?=\n=+\nFollow: )", follows):
        if block.strip():
            head = re.search(r"Follow: tcp,(\w+)\nFilter: tcp\.stream eq (\d+)", block)
            blocks[head[1]].append((int(head[2]), block))
    return numbered, {mode: "".join(text for _, text in sorted(blocks[mode])) for mode in FOLLOW_MODES}


def assert_follows_like_tshark(path: Path) -> int:
    result = reassemble(path)
    streams, theirs = tshark_follow(path, len(result.streams))
    assert len(result.streams) == streams
    for mode in FOLLOW_MODES:
        ours = "".join(result.follow(i, mode) for i in range(streams))
        assert ours == theirs[mode], f"{path.name} {mode}"
    return streams


@pytest.mark.parametrize("path", _fixtures(), ids=lambda p: p.name)
def test_fixture_streams_equal_tshark_follow(path):
    assert_follows_like_tshark(path)


@pytest.mark.parametrize("name", PEER_TCP)
def test_peer_capture_streams_equal_tshark_follow(name):
    if not (PEER / name).exists():
        pytest.skip(f"{PEER / name} is not on this machine")
    assert assert_follows_like_tshark(PEER / name) >= 1


def test_mixed_capture_of_3000_packets_equals_tshark_follow(mixed):
    assert assert_follows_like_tshark(mixed) > 100


def test_the_lab_captures_hold_what_the_tests_rely_on():
    """The crafted captures do hold streams (a comparison of nothing with nothing proves nothing)."""
    assert [len(reassemble(CAPTURES / name).streams) for name in
            ("crafted_tcp_anomalies.pcap", "crafted_tcp_fragments.pcap", "crafted_dns_tcp.pcap", "lo_dns_tcp.pcap",
             "lab_tcp_loss_sender.pcap", "lab_tcp_loss_receiver.pcap")] == [4, 2, 1, 3, 1, 1]


def test_real_loss_in_the_lab_seen_from_both_ends():
    """Real TCP through a router dropping segments (tests/data/record_reassembly.py --lab): the sender's
    capture holds each lost segment twice, the receiver's the segments that came past the holes; both
    give the 55320 bytes the server said it received, and its answer."""
    sender = reassemble(CAPTURES / "lab_tcp_loss_sender.pcap").streams[0]
    receiver = reassemble(CAPTURES / "lab_tcp_loss_receiver.pcap").streams[0]
    assert sender.data(0) == receiver.data(0) and len(sender.data(0)) == 55320
    assert receiver.data(1) == sender.data(1) == b"received 55320 bytes"
    assert sender.count("retransmission") >= 3 and sender.count("out-of-order") == 0
    assert receiver.count("out-of-order") >= 3 and receiver.count("retransmission") == 0
    assert sender.state is receiver.state is State.CLOSED
    lines = receiver.data(0).split(b"\n")[:-1]
    assert [line[:9] for line in lines] == [f"line {i:04d}".encode() for i in range(120)]


def test_anomalies_recorded_where_the_capture_script_put_them():
    result = reassemble(CAPTURES / "crafted_tcp_anomalies.pcap")
    first, wrapped, midstream, reused = result.streams
    kinds = [(a.frame, a.kind) for a in first.anomalies]
    assert kinds == [(5, "retransmission"), (6, "out-of-order"), (8, "partial retransmission"),
                     (9, "out-of-order"), (9, "overlap"), (11, "overlap"), (13, "out-of-order"),
                     (14, "out-of-order"), (15, "gap")]
    text = bytes(range(32, 127)) * 4
    sent = first.data(0)
    # the first copy of every byte kept: the 20 X and the first 10 Y of the overlaps are not there; the
    # 38 bytes of piece 7 (stream offsets 266 to 304) were never captured
    assert sent == text[:200] + b"Y" * 28 + text[228:266] + text[304:380]
    gap = [c for c in first.chunks if c.__class__.__name__ == "Gap"]
    assert len(gap) == 1 and gap[0].missing == 38 and gap[0].data == b"[38 bytes missing in capture file]\x00"
    assert first.state is State.CLOSED and first.isn(0) == 1000 and first.isn(1) == 5000
    assert wrapped.isn(0) == 2**32 - 20 and wrapped.data(0) == b"a" * 30 + b"b" * 30
    assert wrapped.data(1) == b"c" * 40 and wrapped.state is State.RESET
    assert midstream.isn(0) is None and midstream.state is State.ESTABLISHED
    assert midstream.data(0) == b"midstream 1 midstream 2" and midstream.data(1) == b"reply "
    assert reused.index == 3 and reused.client == first.client and reused.data(0) == b"again"
    frame = result.to_frame()
    assert list(frame["state"]) == ["closed", "reset", "established", "reset"]
    assert frame.loc[0, ["retransmissions", "out_of_order", "overlaps", "gaps"]].tolist() == [2, 4, 2, 1]
    assert frame.loc[0, "bytes_client_to_server"] == len(sent) and frame.loc[2, "midstream"]


def tshark_reassembled(path: Path) -> list[bytes]:
    """The bytes of every ``Reassembled IPv4/IPv6 (N bytes)`` data source ``tshark -x`` shows, in order."""
    out = subprocess.run([tool("tshark"), "-n", "-r", str(path), "-x"], capture_output=True, text=True,
                         check=True).stdout
    found = []
    for block in re.findall(r"Reassembled IPv[46] \((\d+) bytes\):\n(.*?)(?:\n\n|\Z)", out, re.S):
        size, dump = block
        data = bytes.fromhex("".join(line[6:54] for line in dump.splitlines()))
        assert len(data) == int(size)
        found.append(data)
    return found


@pytest.mark.parametrize("name", ["veth_frag4.pcap", "veth_frag6.pcap", "crafted_tcp_fragments.pcap"])
def test_defragmented_datagrams_equal_tshark_reassembled(name):
    result = reassemble(CAPTURES / name)
    theirs = tshark_reassembled(CAPTURES / name)
    assert len(theirs) >= 4
    assert [d.payload for d in result.datagrams] == theirs
    for datagram in result.datagrams:
        packet = decode_ip(datagram.data)
        assert not packet.malformed
        assert "bad" not in packet.checksums().values()      # the whole datagram checks, IPv4 header included
        assert datagram.steps[-1].action == "complete" and not datagram.holes()


def test_step_log_of_a_ping_of_3000_bytes():
    datagram = reassemble(CAPTURES / "veth_frag4.pcap").datagrams[0]
    assert datagram.step_lines() == [
        "fragment 1: offset 0, 1480 bytes, queued, holes left: [1480, ∞)",
        "fragment 2: offset 1480, 1480 bytes, queued, holes left: [2960, ∞)",
        "fragment 3: offset 2960, 48 bytes, last, complete, holes left: none",
    ]


def tshark_dns(path: Path, port: int = 53) -> list[tuple[str, str]]:
    """(dns.id, dns.qry.name) of every message, as tshark reads DNS over TCP (``-d`` for another port)."""
    args = [tool("tshark"), "-n", "-r", str(path), "-Y", "dns", "-T", "fields", "-e", "dns.id", "-e", "dns.qry.name"]
    if port != 53:
        args += ["-d", f"tcp.port=={port},dns"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    pairs = []
    for line in out.splitlines():
        ids, names = line.split("\t")
        pairs += zip(ids.split(","), names.split(","), strict=True)
    return pairs


@pytest.mark.parametrize("path, port", [(CAPTURES / "lo_dns_tcp.pcap", 5399), (CAPTURES / "crafted_dns_tcp.pcap", 53),
                                        (PEER / "dns_tcp.pcap", 53)], ids=lambda v: getattr(v, "name", v))
def test_dns_over_tcp_equals_tshark(path, port):
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    messages = reassemble(path).dns([port])
    ours = [(f"0x{m.message.id:04x}", str(m.message.question[0].name).rstrip(".")) for m in messages]
    assert ours == tshark_dns(path, port) and len(ours) >= 2


def test_dns_over_tcp_pipelined_and_split():
    messages = reassemble(CAPTURES / "crafted_dns_tcp.pcap").dns()
    assert [(m.frame, m.direction, m.message.id, m.message.rcode) for m in messages] == [
        (4, 0, 0x100, 0), (4, 0, 0x101, 0), (6, 0, 0x102, 0), (7, 1, 0x100, 3), (7, 1, 0x101, 3), (7, 1, 0x102, 3)]
    live = reassemble(CAPTURES / "lo_dns_tcp.pcap").dns([5399])
    assert [m.message.rcode for m in live if m.direction] == [0, 0, 3]     # the absent name: NXDOMAIN
    assert live[1].message.answer[0].rdata.address == "127.0.0.80"
