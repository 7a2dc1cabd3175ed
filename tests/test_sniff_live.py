"""The sniffer live, judged by tcpdump capturing the same loopback at the same time (and tshark reading
both files): every frame tcpdump saw, we saw, byte for byte, by the ring and by recvfrom; snap
lengths; a capture in the lab on a veth. Each loopback test runs in a namespace of its own
(tests/sniffing.py), so its ``lo`` carries only the traffic the test makes."""
from __future__ import annotations

import re
import signal
import subprocess
import time
from collections import Counter

import pytest
from conftest import need_namespaces, need_root, tool
from sniffing import NETSTUDY, TCPDUMP, Namespace, environment, interrupt, make_traffic, side_by_side, wait_listening

from netstudy import pcap
from netstudy.wire import decode

pytestmark = [pytest.mark.live, pytest.mark.root, pytest.mark.interop]
FIELDS = ["frame.len", "frame.cap_len", "ip.src", "ip.dst", "ip.proto", "ip.ttl", "tcp.srcport", "tcp.dstport",
          "tcp.flags", "udp.srcport", "udp.dstport", "icmp.type"]


@pytest.fixture
def namespace():
    need_root("AF_PACKET capture and a network namespace")
    need_namespaces()
    tool("tcpdump"), tool("dig")
    with Namespace("live") as ns:
        yield ns


def _frames(path) -> Counter[tuple[bytes, int]]:
    return Counter((r.data, r.length) for r in pcap.read(path))


def _same_frames(seen: Counter, expected: Counter, stderr: dict[str, str]) -> None:
    """Every frame tcpdump saw, we saw; and the same frames, unless tcpdump's kernel dropped some (a busy
    machine: tcpdump says so at the end), in which case we may have those few more."""
    dropped = int(re.search(r"(\d+) packets? dropped by kernel", stderr["theirs"]).group(1))
    assert seen & expected == expected, stderr
    assert sum(seen.values()) - sum(expected.values()) <= dropped, stderr
    assert "0 packets dropped by kernel" in stderr["ours"], stderr


def _tshark(path, outer: bool = False) -> list[tuple[str, ...]]:
    """tshark's FIELDS of every frame, sorted; ``outer``: the outermost value of each (an ICMP error's
    quoted datagram left out), as a one-line summary of the frame reads it."""
    argv = [tool("tshark"), "-r", str(path), "-T", "fields", *(a for f in FIELDS for a in ("-e", f))]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    if outer:
        for row in rows:
            quoting = row[FIELDS.index("icmp.type")] in ("3", "11")
            for i, name in enumerate(FIELDS):
                row[i] = "" if quoting and name.split(".")[0] in ("tcp", "udp") else row[i].split(",")[0]
    return sorted(tuple(row) for row in rows)


@pytest.mark.parametrize("mechanism", ["ring", "recvfrom"])
def test_we_see_every_frame_tcpdump_sees(namespace, tmp_path, mechanism):
    ours, theirs = tmp_path / "ours.pcap", tmp_path / "tcpdump.pcap"
    with side_by_side(namespace, [*NETSTUDY, "sniff", "-i", "lo", "--mechanism", mechanism, "-w", ours],
                      [*TCPDUMP, "-i", "lo", "-w", theirs]) as stderr:
        make_traffic(namespace)
    seen, expected = _frames(ours), _frames(theirs)
    assert sum(expected.values()) >= 3 * 2 + 2 + 7 + 10       # pings, DNS + ICMP, TCP (at least 7), UDP
    _same_frames(seen, expected, stderr)
    # the statistics in tcpdump's words, counting what the file holds
    total = sum(seen.values())
    assert f"{total} packets captured" in stderr["ours"]
    assert f"{2 * total} packets received by filter" in stderr["ours"]
    assert "0 packets dropped by kernel" in stderr["ours"]
    assert stderr["listening"].endswith(f"({mechanism})\n")
    # the kernel counted both copies of each loopback frame (out and in), tcpdump too; both kept one
    assert f"{2 * total} packets received by filter" in stderr["theirs"] or seen != expected
    # tshark reads our file as it reads tcpdump's (every frame, when tcpdump dropped none)
    if seen == expected:
        assert _tshark(ours) == _tshark(theirs)
    else:
        assert set(_tshark(theirs)) <= set(_tshark(ours))


@pytest.mark.parametrize("mechanism", ["ring", "recvfrom"])
def test_on_any_the_cooked_v2_frames_are_tcpdumps(namespace, tmp_path, mechanism):
    ours, theirs = tmp_path / "ours.pcap", tmp_path / "tcpdump.pcap"
    with side_by_side(namespace, [*NETSTUDY, "sniff", "-i", "any", "--mechanism", mechanism, "-w", ours, "udp or icmp"],
                      [*TCPDUMP, "-i", "any", "-w", theirs, "udp or icmp"]) as stderr:
        make_traffic(namespace)
    assert pcap.CaptureReader(ours).interfaces[0].linktype == 276
    seen, expected = _frames(ours), _frames(theirs)
    assert sum(expected.values()) >= 8
    _same_frames(seen, expected, stderr)
    assert set(_tshark(theirs)) <= set(_tshark(ours))


@pytest.mark.parametrize("expression", ["udp or icmp", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "not port 40404"])
def test_the_kernel_runs_the_filter_as_tcpdumps(namespace, tmp_path, expression):
    ours, theirs = tmp_path / "ours.pcap", tmp_path / "tcpdump.pcap"
    with side_by_side(namespace, [*NETSTUDY, "sniff", "-i", "lo", "-w", ours, expression],
                      [*TCPDUMP, "-i", "lo", "-w", theirs, expression]) as stderr:
        make_traffic(namespace)
    seen, expected = _frames(ours), _frames(theirs)
    assert sum(expected.values()) >= 4
    _same_frames(seen, expected, stderr)
    # the kernel counted only what the filter passed (both copies of each loopback frame), as tcpdump's
    total = sum(seen.values())
    assert f"{2 * total} packets received by filter" in stderr["ours"]
    assert f"{2 * total} packets received by filter" in stderr["theirs"]


def test_a_snap_length_cut_keeps_the_fixed_headers(namespace, tmp_path):
    ours, theirs = tmp_path / "ours.pcap", tmp_path / "tcpdump.pcap"
    with side_by_side(namespace, [*NETSTUDY, "sniff", "-i", "lo", "-s", "60", "-w", ours],
                      [*TCPDUMP, "-i", "lo", "-s", "60", "-w", theirs]):
        make_traffic(namespace)
    records = list(pcap.read(ours))
    assert records and all(r.caplen <= 60 for r in records)
    assert any(r.length > 60 for r in records)                 # some were cut
    # tcpdump's file keeps 58 bytes of each where -s 60 asked for 60 (libpcap's ring): the fixed fields
    # compared, every field but the bytes kept
    expected = [row[:1] + row[2:] for row in _tshark(theirs, outer=True)]
    assert all(r.caplen == min(60, r.length) for r in records)
    rows = []
    for r in records:
        row = decode(r.data, 1, wire_length=r.length).row()
        tcp = row["protocol"] == "TCP" or row["tcp_flags"] is not None
        udp = not tcp and row["sport"] is not None
        rows.append(tuple("" if v is None else str(v) for v in (
            r.length, row["src"], row["dst"], _number(r.data), row["ttl"],
            row["sport"] if tcp else None, row["dport"] if tcp else None,
            f"0x{_flags(r.data):04x}" if tcp else None,
            row["sport"] if udp else None, row["dport"] if udp else None, row["icmp_type"])))
    assert sorted(rows) == expected


def _number(frame: bytes) -> int:
    """The IP protocol number of an Ethernet + IPv4 frame (tshark's ip.proto)."""
    return frame[23]


def _flags(frame: bytes) -> int:
    """The TCP flags word as tshark shows tcp.flags (12 bits), after an IPv4 header of any length."""
    start = 14 + (frame[14] & 0x0F) * 4
    return int.from_bytes(frame[start + 12:start + 14], "big") & 0x0FFF


@pytest.mark.lab
def test_a_capture_in_the_lab_on_a_veth(tmp_path):
    need_root("the lab")
    need_namespaces()
    tool("tcpdump")
    from netstudy.lab import Lab
    ours, theirs = tmp_path / "ours.pcap", tmp_path / "tcpdump.pcap"
    with Lab("lan", hosts=2) as lab:
        target = lab.addresses["h1"].ipv4
        route = lab.run("scanner", ["ip", "-o", "-4", "route", "get", target], check=True).stdout
        device = route.split(" dev ")[1].split()[0]
        tcpdump = lab.popen("scanner", [*TCPDUMP, "-i", device, "-w", theirs],
                            stderr=subprocess.PIPE, text=True)
        wait_listening(tcpdump)
        sniffer = lab.popen("scanner", [*NETSTUDY, "sniff", "-i", device, "-w", ours], stderr=subprocess.PIPE,
                            text=True, env=environment())
        wait_listening(sniffer)
        time.sleep(0.3)
        lab.run("scanner", ["ping", "-c", "3", "-i", "0.2", target], check=True)
        time.sleep(0.5)
        err = interrupt(sniffer)[1]
        interrupt(tcpdump)
    seen, expected = _frames(ours), _frames(theirs)
    pings = Counter({k: v for k, v in expected.items() if _icmp_or_arp(k[0])})
    assert sum(pings.values()) >= 6                             # 3 requests, 3 replies (and ARP)
    assert seen & pings == pings                                # every ping and ARP frame tcpdump saw
    assert seen & expected == seen                              # and nothing tcpdump did not see
    assert f"{sum(seen.values())} packets captured" in err


def _icmp_or_arp(frame: bytes) -> bool:
    ethertype = int.from_bytes(frame[12:14], "big")
    return ethertype == 0x0806 or (ethertype == 0x0800 and frame[23] == 1)


def test_a_background_capture_stops_at_once_and_keeps_what_the_filter_passed():
    need_root("AF_PACKET capture")
    import socket

    from netstudy.sniff import Sniffer
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        port = rx.getsockname()[1]
        for mechanism in ("ring", "recvfrom"):
            with Sniffer("lo", f"udp dst port {port}", mechanism=mechanism) as sniffer:
                sniffer.start()
                for i in range(5):
                    tx.sendto(b"datagram %d" % i, ("127.0.0.1", port))
                time.sleep(0.3)
                started = time.monotonic()
                result = sniffer.stop()
                assert time.monotonic() - started < 0.5 and not sniffer.running
            assert [f.decode().remainder for f in result.frames] == [b"datagram %d" % i for i in range(5)]
            assert result.stats.captured == 5 and result.stats.by_direction == {"in": 5}
            assert result.stats.received == 10 and result.stats.dropped == 0 and result.mechanism == mechanism
            table = result.to_frame()
            assert list(table["dport"]) == [port] * 5 and set(table["direction"]) == {"in"}


def test_a_flood_of_alike_frames_is_cut_in_c_as_the_kernel_laid_it_out():
    """A ring block of frames all alike (a flood) is cut by one ``struct.iter_unpack``; on blocks the
    kernel filled, that gives the records, directions and bytes that walking it frame by frame gives."""
    need_root("AF_PACKET capture")
    import socket

    from netstudy.net.packet import BLOCK_HEADER, RingCapture
    from netstudy.wire.bpf import compile_filter
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        port = rx.getsockname()[1]
        with RingCapture("lo", program=compile_filter(f"udp dst port {port}", live=True)) as ring:
            for i in range(4000):
                tx.sendto(b"%018d" % i, ("127.0.0.1", port))
            alike, walked = [], 0
            while (base := ring.next_block(0.5)) is not None:
                _, _, _, count, first, length = BLOCK_HEADER.unpack_from(ring.buffer, base)
                one_by_one = ring._stamped_one_by_one(base + first, count)
                cut = ring._alike_stamped(base + first, count, base + length)
                if cut is not None:
                    assert (cut.records, cut.pkttypes, cut.wire_bytes) == (
                        one_by_one.records, one_by_one.pkttypes, one_by_one.wire_bytes)
                    alike.append(cut)
                walked += len(one_by_one)
                ring.release(base)
    assert walked == 4000 and alike                          # lo's outgoing copies skipped; the C path taken
    assert all(set(cut.pkttypes) == {0} and cut.wire_bytes == 60 * len(cut) for cut in alike)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_the_capture_with_tcpdumps_statistics(namespace, signum):
    proc = namespace.popen([*NETSTUDY, "sniff", "-i", "lo", "icmp"])
    wait_listening(proc)
    namespace.run(["ping", "-c", "2", "-i", "0.2", "127.0.0.1"], check=True)
    time.sleep(0.5)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in err
    assert len(out.splitlines()) == 4 and all(": ICMP echo" in line for line in out.splitlines())
    assert err.splitlines()[-3:] == ["4 packets captured", "8 packets received by filter",
                                     "0 packets dropped by kernel"]
