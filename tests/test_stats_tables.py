"""The capture-statistics tables against tshark's own ``-z`` statistics, on the same captures.

tshark (4.x) reads each capture once with ``-z io,phs -z conv,eth ... -z io,stat,1 -z io,stat,0.01`` and the
per-frame preferences of tests/tshark.py (no IP reassembly, no TCP desegmentation: netstudy's tables
count frames one at a time) and without its DNS-over-UDP heuristic (netstudy, like tcpdump, reads
DNS on port 53 only; tshark would also call a DNS query sent to port 9 DNS), without its TCP
sequence analysis (which keeps a retransmission's payload from its dissector: a frame's payload is
that frame's) and without its PostgreSQL and HTTP dissectors (which, per frame, take a segment that
continues a message for a continuation and put nothing in the tree for it); its text is parsed
here and compared with our DataFrames:

- protocol hierarchy: every node tshark prints, frames and bytes, with two mappings, both because
  netstudy.wire decodes no application protocol but DNS over UDP: a protocol tshark names under
  ip, ipv6, tcp or udp that we do not decode (http, ssh, ntp, gre, esp, DNS over TCP, ...) is our
  ``data`` (siblings so mapped are summed, their subtrees dropped), and the subtree of a protocol we
  do not decode anywhere else (llc/stp under eth, the payload inside ICMP) is not compared, nor are
  tshark's own marks (``_ws.short``: cut by the snap length, ``_ws.malformed``). Every node
  of ours must be one of tshark's.
- conversations (eth, ip, ipv6, tcp, udp): per pair, frames and bytes each way and in total (bytes as
  tshark prints them: ``21 kB`` above 10,000), relative start and duration; a TCP pair reused after a
  FIN or RST is a new conversation, as in tshark. IPv6 fragments after the first are left out of the
  ipv6 comparison (tshark's IPv6 tap never sees them: :func:`as_tshark_taps`).
- endpoints (eth, ip, ipv6, tcp, udp): frames and bytes in all, sent and received.
- I/O graph: frames and bytes per interval, at 1 s and at 10 ms; tshark is asked only for the graphs
  ``io_graph`` makes (a capture spanning a million intervals or more is refused with an InputError).
- handshake times against ``tcp.analysis.initial_rtt`` and the SYN and SYN/ACK frames' times; DNS
  response times against ``dns.time`` with the rcode.
"""
from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

import pytest
from tshark import CAPTURES, PREFS, run_fields, tshark_path

from netstudy import pcap, stats
from netstudy.errors import InputError

ROOT = Path(__file__).parent.parent
PEERS = Path("/work/shared/peer-captures/tcpdump")
PEER_NAMES = ["dns_udp.pcap", "dns_tcp.pcap", "ssh.pcap", "ipv4_tcp_http_xml.pcap", "tcp-handshake-nano.pcap",
              "802.1ad_QinQ.pcap", "icmpv6.pcap", "ntp.pcap", "tftp.pcap", "whois.pcap", "dnssec.pcap",
              "LINKTYPE_IPV4.pcap", "LINKTYPE_RAW_ipv6.pcap", "mptcp-v1.pcap"]


def _captures() -> list[Path]:
    found = sorted(p for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng"))
    found += sorted((ROOT / "netstudy" / "data" / "captures").glob("*.pcap"))
    found += [PEERS / name for name in PEER_NAMES if (PEERS / name).exists()]
    return found


@pytest.fixture(scope="session")
def mixed_pcap(mixed_capture) -> Path:
    """benchmarks/make_mixed_pcap.py's reproducible mix (TCP, UDP, DNS, ICMP, ARP, VLAN), 3000 frames."""
    return mixed_capture(3000)


CAPTURE_PARAMS = [pytest.param(p, id=p.name) for p in _captures()] + [pytest.param("mixed", id="mixed3000")]


@pytest.fixture(params=CAPTURE_PARAMS)
def capture(request: pytest.FixtureRequest, mixed_pcap: Path) -> Path:
    return mixed_pcap if request.param == "mixed" else request.param


# ---- tshark's -z text, parsed

PROTOS = ("eth", "ip", "ipv6", "tcp", "udp")
TITLES = {"Protocol Hierarchy Statistics": "phs", "Ethernet Conversations": "conv,eth",
          "IPv4 Conversations": "conv,ip", "IPv6 Conversations": "conv,ipv6", "TCP Conversations": "conv,tcp",
          "UDP Conversations": "conv,udp", "Ethernet Endpoints": "endpoints,eth", "IPv4 Endpoints": "endpoints,ip",
          "IPv6 Endpoints": "endpoints,ipv6", "TCP Endpoints": "endpoints,tcp", "UDP Endpoints": "endpoints,udp",
          }


INTERVALS = ("1", "0.01")      # the I/O graph's, in seconds


def _span_s(capture: Path) -> float:
    frame = packets(capture)
    return (frame["time"].max() - frame["time"].iloc[0]).total_seconds() if len(frame) else 0.0


def has_io_graph(capture: Path, interval: str) -> bool:
    """Whether ``io_graph`` makes a table of ``capture`` at ``interval`` (it refuses a million
    intervals and more: icmpv6.pcap spans 280 days), the intervals tshark is asked for."""
    return _span_s(capture) / float(interval) < stats.core.MAX_INTERVALS


@functools.cache
def tshark_sections(capture: Path) -> dict[str, list[str]]:
    """tshark's -z output for ``capture``, from one run, split into its sections by title (``io,1``,
    ``io,0.01``: the I/O graph at each interval)."""
    cmd = [tshark_path(), "-n", "-q", "-r", str(capture), "--disable-heuristic", "dns_udp",
           "--disable-protocol", "pgsql", "--disable-protocol", "http", "-o", "tcp.analyze_sequence_numbers:FALSE"]
    for pref in PREFS:
        cmd += ["-o", pref]
    cmd += ["-z", "io,phs"] + [arg for proto in PROTOS for arg in ("-z", f"conv,{proto}", "-z", f"endpoints,{proto}")]
    intervals = [interval for interval in INTERVALS if has_io_graph(capture, interval)]
    for interval in intervals:
        cmd += ["-z", f"io,stat,{interval}"]
    text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    sections: dict[str, list[str]] = {}
    graphs: list[list[str]] = []
    current: list[str] = []
    for line in text.splitlines():
        title = line.strip("| ").strip()
        if title == "IO Statistics":
            current = []
            graphs.append(current)
        elif title in TITLES:
            current = sections.setdefault(TITLES[title], [])
        else:
            current.append(line)
    # each graph says "Interval: I secs", or "D secs" when the capture lasts D < I: the finer graph's
    # is the smaller (equal, both graphs are the one interval of a capture under 10 ms)
    assert len(graphs) == len(intervals)
    heads = [float(re.search(r"Interval: *([\d.]+) secs", "\n".join(lines))[1]) for lines in graphs]
    for interval, (_, lines) in zip(sorted(intervals, key=float), sorted(zip(heads, graphs, strict=True),
                                                                         key=lambda graph: graph[0]), strict=True):
        sections["io," + interval] = lines
    return sections


def tshark_phs(capture: Path) -> dict[str, tuple[int, int]]:
    """path -> (frames, bytes), mapped to what netstudy decodes (see the module's docstring)."""
    ours = {"eth", "sll", "null", "raw", "vlan", "ieee8021ad", "arp", "ip", "ipv6", "icmp", "icmpv6", "tcp",
            "udp", "dns", "data"}
    out: dict[str, tuple[int, int]] = {}
    stack: list[str | None] = []
    for line in tshark_sections(capture)["phs"]:
        match = re.match(r"^( *)(\S+)\s+frames:(\d+) bytes:(\d+)$", line)
        if not match:
            continue
        depth = len(match[1]) // 2
        name, frames, size = match[2], int(match[3]), int(match[4])
        del stack[depth:]
        parent = stack[-1] if stack else ""
        parent_name = parent.rsplit(":", 1)[-1] if parent else ""
        if parent is None or parent_name == "data" or name.startswith("_ws."):
            stack.append(None)                       # inside a subtree not compared
            continue
        if name == "dns" and parent_name == "tcp" or name not in ours and parent_name in ("ip", "ipv6", "tcp", "udp"):
            name = "data"
        elif name not in ours:
            stack.append(None)
            continue
        path = f"{parent}:{name}" if parent else name
        before = out.get(path, (0, 0))
        out[path] = (before[0] + frames, before[1] + size)
        stack.append(path)
    return out


def size_text(n: int) -> str:
    """A byte count as tshark 4's conversation table prints it (format_size, SI prefixes)."""
    for power, unit in ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB")):
        if n // power >= 10:
            return f"{n // power} {unit}"
    return f"{n} bytes"


def tshark_conv(capture: Path, proto: str) -> dict[tuple[str, str, float], tuple]:
    """(A, B, start to the µs) -> (frames B->A, bytes B->A, frames A->B, bytes A->B, frames, bytes, start,
    duration); A and B are ``address`` or ``address:port`` (the start tells apart a TCP pair reused)."""
    size = r"(\d+ (?:bytes|kB|MB|GB|TB))"
    counts = rf"(\d+) {size}\s+" * 3
    pattern = re.compile(rf"^(\S+)\s+<->\s+(\S+)\s+{counts}(-?[\d.]+)\s+([\d.]+)\s*$")
    out = {}
    for line in tshark_sections(capture)["conv," + proto]:
        match = pattern.match(line)
        if match:
            g = match.groups()
            start = float(g[8])
            out[g[0], g[1], round(start, 6)] = (int(g[2]), g[3], int(g[4]), g[5], int(g[6]), g[7], start, float(g[9]))
    return out


def tshark_endpoints(capture: Path, proto: str) -> dict[str, tuple[int, ...]]:
    """endpoint -> (frames, bytes, tx frames, tx bytes, rx frames, rx bytes)."""
    ported = proto in ("tcp", "udp")
    pattern = re.compile(r"^(\S+)\s+" + (r"(\d+)\s+" if ported else "") + r"(\d+)\s+" * 5 + r"(\d+)\s*$")
    out = {}
    for line in tshark_sections(capture)["endpoints," + proto]:
        match = pattern.match(line)
        if match:
            g = match.groups()
            name = f"{g[0]}:{g[1]}" if ported else g[0]
            out[name] = tuple(int(v) for v in g[2 if ported else 1:])
    return out


def tshark_io(capture: Path, interval: str) -> list[tuple[int, int]]:
    rows = []
    for line in tshark_sections(capture)["io," + interval]:
        match = re.match(r"^\|\s*[\d.]+\s*<>\s*(?:[\d.]+|Dur)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|$", line)
        if match:
            rows.append((int(match[1]), int(match[2])))
    return rows


# ---- the comparisons

@functools.cache
def packets(capture: Path):
    """``pcap.to_frame`` of a capture, read once for every table that takes the per-packet table."""
    return pcap.to_frame(capture)


def as_tshark_taps(capture: Path, proto: str):
    """The per-packet table, less what tshark's tap for ``proto`` never sees: tshark 4.0 calls its
    IPv6 tap for no IPv6 fragment after the first (offset > 0), with or without reassembly, so its
    ipv6 conversations and endpoints leave them out; ours count every frame, and are compared on the
    frames tshark counts."""
    frame = packets(capture)
    if proto != "ipv6" or not stats.core.select(frame, "ipv6").size:     # no IPv6 frame: nothing to leave out
        return frame
    return frame.drop(index=later_ipv6_fragments(capture))


@functools.cache
def later_ipv6_fragments(capture: Path) -> list[int]:
    """The rows of the IPv6 fragments after the first, by tshark's reading (one run per capture)."""
    rows = run_fields(capture, ["frame.number", "ipv6.fraghdr.offset"])
    return [int(r["frame.number"]) - 1 for r in rows if r["ipv6.fraghdr.offset"] not in ("", "0")]


def _end(address: object, port: object = None) -> str:
    return str(address) if port is None else f"{address}:{port}"


def test_protocol_hierarchy_equals_tshark(capture: Path) -> None:
    table = stats.protocol_hierarchy(capture)
    ours = {row.path: (row.frames, row.bytes) for row in table.itertuples()}
    assert ours == tshark_phs(capture)


@pytest.mark.parametrize("proto", PROTOS)
def test_conversations_equal_tshark(capture: Path, proto: str) -> None:
    table = stats.conversations(as_tshark_taps(capture, proto), proto)
    ported = proto in ("tcp", "udp")
    theirs = tshark_conv(capture, proto)
    ours = {}
    for row in table.itertuples():
        a = _end(row.address_a, row.port_a if ported else None)
        b = _end(row.address_b, row.port_b if ported else None)
        ours[a, b, round(row.start_s, 6)] = (row.frames_b_to_a, size_text(row.bytes_b_to_a), row.frames_a_to_b,
                                             size_text(row.bytes_a_to_b), row.frames, size_text(row.bytes),
                                             round(row.start_s, 9), round(row.duration_s, 4))
    assert sorted(ours) == sorted(theirs)
    for pair, counts in theirs.items():
        assert ours[pair][:6] == counts[:6], pair
        assert ours[pair][6] == pytest.approx(counts[6], abs=2e-9), pair
        assert ours[pair][7] == pytest.approx(counts[7], abs=1.5e-4), pair


@pytest.mark.parametrize("proto", PROTOS)
def test_endpoints_equal_tshark(capture: Path, proto: str) -> None:
    table = stats.endpoints(as_tshark_taps(capture, proto), proto)
    ported = proto in ("tcp", "udp")
    ours = {_end(row.address, row.port if ported else None):
            (row.frames, row.bytes, row.tx_frames, row.tx_bytes, row.rx_frames, row.rx_bytes)
            for row in table.itertuples()}
    assert ours == tshark_endpoints(capture, proto)


@pytest.mark.parametrize("interval", INTERVALS)
def test_io_graph_equals_tshark(capture: Path, interval: str) -> None:
    frame = packets(capture)
    if not has_io_graph(capture, interval):     # icmpv6.pcap spans 280 days
        with pytest.raises(InputError, match="choose a longer interval"):
            stats.io_graph(frame, float(interval))
        return
    table = stats.io_graph(frame, float(interval))
    theirs = tshark_io(capture, interval)
    ours = list(zip(table["frames"], table["bytes"], strict=True))
    if not theirs and len(frame):        # every frame at one instant: tshark prints no interval, ours is one
        assert frame["time"].nunique() == 1 and ours == [(len(frame), int(frame["length"].sum()))]
        return
    # tshark prints no interval after the last frame's; an empty capture has none
    assert ours == theirs[:len(ours)] and all(row == (0, 0) for row in theirs[len(ours):])


def _tshark_handshakes(capture: Path) -> dict[tuple[str, int, str, int], tuple[float, float]]:
    """(client, client port, server, server port) -> (SYN->SYN/ACK s, initial RTT s) from tshark's
    per-frame fields: a stream's last SYN and its SYN/ACK, and ``tcp.analysis.initial_rtt``."""
    rows = run_fields(capture, ["frame.time_epoch", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport",
                                "tcp.dstport", "tcp.stream", "tcp.flags", "tcp.analysis.initial_rtt"])
    syn: dict[str, tuple[float, tuple[str, int, str, int]]] = {}
    out: dict[tuple[str, int, str, int], tuple[float, float]] = {}
    for row in rows:
        if not row["tcp.flags"]:
            continue
        flags, stream, when = int(row["tcp.flags"], 16), row["tcp.stream"], float(row["frame.time_epoch"])
        ends = (row["ip.src"] or row["ipv6.src"], int(row["tcp.srcport"]), row["ip.dst"] or row["ipv6.dst"],
                int(row["tcp.dstport"]))
        if flags & 0x12 == 0x02:
            syn[stream] = (when, ends)
        elif flags & 0x12 == 0x12 and stream in syn:
            start, key = syn[stream]
            out[key] = (when - start, float("nan"))
        if row["tcp.analysis.initial_rtt"] and stream in syn:
            start, key = syn[stream]
            if key in out:
                out[key] = (out[key][0], float(row["tcp.analysis.initial_rtt"]))
    return out


HANDSHAKE_CAPTURES = [CAPTURES / "lo_dns.pcap", CAPTURES / "lo_http.pcap", CAPTURES / "lo_nmap_sT.pcap",
                      CAPTURES / "lo_nmap_sS.pcap", ROOT / "netstudy/data/captures/loopback_handshake.pcap",
                      PEERS / "tcp-handshake-nano.pcap", PEERS / "ssh.pcap"]


@pytest.mark.parametrize("path", [pytest.param(p, id=p.name) for p in HANDSHAKE_CAPTURES if p.exists()])
def test_handshake_rtts_equal_tshark(path: Path) -> None:
    table = stats.handshake_rtts(path)
    theirs = _tshark_handshakes(path)
    answered = table[table["answer"] == "SYN/ACK"]
    assert len(answered) == len(theirs) > 0
    for row in answered.itertuples():
        syn_synack, initial = theirs[row.client, row.client_port, row.server, row.server_port]
        assert row.syn_to_synack_ms == pytest.approx(syn_synack * 1e3, abs=2e-3)
        if initial == initial:          # tshark gives it once the handshake's ACK is seen
            assert row.initial_rtt_ms == pytest.approx(initial * 1e3, abs=2e-3)
        else:
            assert row.initial_rtt_ms != row.initial_rtt_ms
        assert row.syn_to_synack_ms + row.synack_to_ack_ms == pytest.approx(row.initial_rtt_ms, abs=1e-6) \
            or row.initial_rtt_ms != row.initial_rtt_ms


def test_scanned_closed_ports_are_answered_by_rst() -> None:
    table = stats.handshake_rtts(CAPTURES / "lo_nmap_sS.pcap")
    closed = table[table["answer"] == "RST"]
    assert len(closed) > 0 and closed["syn_to_synack_ms"].isna().all()


DNS_CAPTURES = [CAPTURES / "lo_dns.pcap", CAPTURES / "lo_any_sll.pcap", PEERS / "dns_udp.pcap",
                PEERS / "dnssec.pcap", PEERS / "dns-badcookie.pcap", "mixed"]


@pytest.mark.parametrize("path", [pytest.param(p, id=getattr(p, "name", p)) for p in DNS_CAPTURES])
def test_dns_times_equal_tshark(path: Path | str, mixed_pcap: Path) -> None:
    path = mixed_pcap if path == "mixed" else Path(path)
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    rows = run_fields(path, ["dns.flags.response", "dns.time", "dns.flags.rcode", "dns.id", "udp.srcport"])
    theirs = [(int(r["dns.id"], 16), float(r["dns.time"]), int(r["dns.flags.rcode"]))
              for r in rows if r["udp.srcport"] and r["dns.flags.response"] in ("1", "True") and r["dns.time"]]
    table = stats.dns_times(path)
    answered = table[table["response_ms"].notna()].sort_values("start_s", kind="stable")
    codes = {name: code for code, name in stats.core.RCODES.items()}
    ours = sorted((int(r.id), round(r.response_ms / 1e3, 6), codes[r.rcode]) for r in answered.itertuples())
    assert len(ours) == len(theirs) > 0
    for mine, tshark in zip(ours, sorted(theirs), strict=True):
        assert mine[0] == tshark[0] and mine[2] == tshark[2]
        assert mine[1] == pytest.approx(tshark[1], abs=2e-6)


def test_tcp_flags_per_flow() -> None:
    table = stats.tcp_flags(CAPTURES / "lo_dns.pcap")
    assert table.to_dict("records") == [{
        "address_a": "127.0.0.1", "port_a": 33411, "address_b": "127.0.0.1", "port_b": 53,
        "flags_a_to_b": "FSP.", "flags_b_to_a": "FSP.", "syn_frames": 2, "fin_frames": 2, "rst_frames": 0}]
    scan = stats.tcp_flags(CAPTURES / "lo_nmap_sS.pcap")
    assert (scan["rst_frames"] > 0).any() and set(scan["flags_a_to_b"]) <= {"S", "SR", "R"}


def test_flags_union_in_bit_order() -> None:
    assert stats.flags_union(["S", "S.", "P.", "F."]) == "FSP."
    assert stats.flags_union([]) == ""


def test_tables_take_a_frame_or_records() -> None:
    path = CAPTURES / "lo_dns.pcap"
    frame = pcap.to_frame(path)
    assert stats.conversations(frame, "udp").equals(stats.conversations(path, "udp"))
    assert stats.protocol_hierarchy(pcap.read(path)).equals(stats.protocol_hierarchy(path))
    with pytest.raises(InputError, match="not a per-packet table"):
        stats.protocol_hierarchy(frame)


def test_bad_options_are_input_errors() -> None:
    path = CAPTURES / "lo_dns.pcap"
    with pytest.raises(InputError, match="unknown conversation type 'sctp'"):
        stats.conversations(path, "sctp")
    with pytest.raises(InputError, match="must be above 0"):
        stats.io_graph(path, 0)


def test_empty_capture(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pcap"
    pcap.write(empty, [])
    assert stats.conversations(empty, "tcp").empty and stats.io_graph(empty).empty
    assert stats.protocol_hierarchy(empty).empty and stats.endpoints(empty, "ip").empty
    assert stats.handshake_rtts(empty).empty and stats.dns_times(empty).empty
