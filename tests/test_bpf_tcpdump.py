"""netstudy.wire.bpf against tcpdump: for every expression of tests/bpf_expressions.py and every capture
below, the frames our BPF program accepts (run by our interpreter) are exactly the frames
`tcpdump -r FILE -w - EXPR` writes, compared as multisets of (timestamp in µs, bytes).

Captures: the fixtures of tests/data/captures and netstudy/data/captures, a 5,000-frame mixed capture
from benchmarks/make_mixed_pcap.py (802.1Q tags, IPv6, DNS, ARP, ICMP), and tcpdump's own test
captures from /work/shared/peer-captures/tcpdump (Ethernet, Linux cooked, raw IP, raw IPv4/IPv6, BSD
loopback; truncated and malformed frames among them).

Where tcpdump refuses an expression for a link type ("expression rejects all packets": `arp` on raw
IPv4), our program must accept nothing.
"""
from __future__ import annotations

import collections
import io
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from bpf_expressions import EXPRESSIONS
from conftest import tool

from netstudy import pcap
from netstudy.wire.bpf import FilterError, compile_filter

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path("/work/shared/peer-captures/tcpdump")
PEER_CAPTURES = (
    "802.1ad_QinQ.pcap", "LINKTYPE_IPV4.pcap", "LINKTYPE_IPV6.pcap", "LINKTYPE_RAW_ipv4.pcap",
    "LINKTYPE_RAW_ipv6.pcap", "mptcp-v1.pcap", "forces1.pcap", "tcp-handshake-nano.pcap", "icmpv6.pcap",
    "dns_tcp.pcap", "dns_udp.pcap", "ipv6-routing-header.pcap", "arp-oobr.pcap", "ipv4_tcp_http_xml.pcap",
    "tcp_rst_data-trunc.pcap", "quic_handshake_truncated.pcap", "dns-badcookie.pcap", "vxlan.pcap",
    "gso-ipv6.pcap", "dhcp-rfc4388.pcap", "ntp.pcap", "espudp1.pcap", "icmp-cksum-oobr-1.pcap",
    "hoobr_rt6_print.pcap", "ipv4_invalid_total_length.pcap", "tftp.pcap",
)
OURS = sorted(p for p in (ROOT / "tests" / "data" / "captures").glob("*.pcap*")
              if p.suffix != ".tsv" and p.name != "two_sections.pcapng")      # two link types: tcpdump refuses
OURS += sorted((ROOT / "netstudy" / "data" / "captures").glob("*.pcap"))


@pytest.fixture(scope="module")
def mixed(mixed_capture) -> Path:
    return mixed_capture(5000)


def key(record: pcap.Record) -> tuple[int, bytes]:
    return record.timestamp_ns // 1000, bytes(record.data)     # tcpdump -w writes microseconds


def tcpdump_accepts(tcpdump: str, capture: Path, expression: str) -> collections.Counter | str:
    """The frames tcpdump writes for the expression, or its error message."""
    done = subprocess.run([tcpdump, "-r", str(capture), "-w", "-", expression], capture_output=True)
    if done.returncode:
        return done.stderr.decode().strip().splitlines()[-1]
    return collections.Counter(key(r) for r in pcap.read(io.BytesIO(done.stdout)))


def differences(capture: Path) -> list[str]:
    tcpdump = tool("tcpdump")
    records = list(pcap.read(capture))
    assert records, capture
    found = []
    with ThreadPoolExecutor(4) as pool:                 # tcpdump runs a few at a time: most of each is its start
        verdicts = pool.map(lambda expression: tcpdump_accepts(tcpdump, capture, expression), EXPRESSIONS)
    for expression, theirs in zip(EXPRESSIONS, verdicts, strict=True):
        try:
            program = compile_filter(expression, linktype=records[0].linktype)
        except FilterError as exc:
            if not isinstance(theirs, str):
                found.append(f"{expression!r}: we refuse ({exc}), tcpdump accepts {sum(theirs.values())} frames")
            continue
        ours = collections.Counter(key(r) for r in records if program.accepts(r.data, r.length))
        if isinstance(theirs, str):
            if "rejects all packets" not in theirs:
                found.append(f"{expression!r}: tcpdump refuses ({theirs}), we compile it")
            elif ours:
                found.append(f"{expression!r}: tcpdump says it rejects all packets, we accept {sum(ours.values())}")
        elif ours != theirs:
            found.append(f"{expression!r}: tcpdump accepts {sum(theirs.values())} frames, we accept "
                         f"{sum(ours.values())}; only tcpdump: {sum((theirs - ours).values())}, "
                         f"only ours: {sum((ours - theirs).values())}")
    return found


def test_enough_expressions() -> None:
    assert len(set(EXPRESSIONS)) == len(EXPRESSIONS) >= 40


def test_mixed_capture(mixed: Path) -> None:
    """The benchmark's mixed traffic: most expressions accept a real share of it (the comparison bites)."""
    assert differences(mixed) == []
    records = list(pcap.read(mixed))
    programs = [compile_filter(e) for e in EXPRESSIONS]
    selective = [p.expression for p in programs if 0 < sum(p.accepts(r.data, r.length) for r in records) < len(records)]
    assert len(selective) >= 60, selective


@pytest.mark.parametrize("capture", OURS, ids=lambda p: p.name)
def test_project_captures(capture: Path) -> None:
    assert differences(capture) == []


@pytest.mark.parametrize("name", PEER_CAPTURES)
def test_tcpdump_test_captures(name: str) -> None:
    capture = PEERS / name
    if not capture.exists():
        pytest.skip(f"{capture} is not on this machine (tcpdump's test captures, shared as peer captures)")
    assert differences(capture) == []


def test_filtered_read_is_tcpdump_r(mixed: Path) -> None:
    """pcap.read(FILE, filter=EXPR) yields what `tcpdump -r FILE EXPR` prints, in the same order."""
    tcpdump = tool("tcpdump")
    for expression in ("udp port 53", "vlan and ip", "tcp[tcpflags] & tcp-syn != 0", "arp or icmp6"):
        done = subprocess.run([tcpdump, "-r", str(mixed), "-w", "-", expression], capture_output=True, check=True)
        theirs = [key(r) for r in pcap.read(io.BytesIO(done.stdout))]
        assert [key(r) for r in pcap.read(mixed, filter=expression)] == theirs
