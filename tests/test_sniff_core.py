"""The sniffer without a network: the capture's bookkeeping (limits, directions, states), tcpdump's
lines and statistics, a file read through a filter as ``tcpdump -r FILE EXPR`` reads it, the CLI's
one-line errors, and the CLI as an unprivileged user."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import need_user_namespaces, tool

from netstudy import pcap
from netstudy.cli import main
from netstudy.errors import InputError
from netstudy.sniff import TABLE, Capture, Captured, CaptureStats, Limits, State, end_lines, packet_line, replay
from netstudy.sniff.output import timestamp

ROOT = Path(__file__).resolve().parents[1]
CAPTURE = ROOT / "netstudy" / "data" / "captures" / "loopback_sniff.pcap"
NETSTUDY = [sys.executable, "-m", "netstudy.cli"]


def frame(n: int, length: int = 60, pkttype: int | None = 0) -> Captured:
    return Captured(1_700_000_000_000_000_000 + n, bytes(length), length, pkttype, 1)


def test_a_count_limit_stops_the_capture_at_that_frame():
    capture = Capture(Limits(count=3))
    capture.start(0)
    kept = [capture.receive(frame(i, pkttype=4 if i % 2 else 0), i) for i in range(5)]
    assert [k is not None for k in kept] == [True, True, True, False, False]
    assert capture.state is State.STOPPED and capture.stats.captured == 3
    assert capture.stats.by_direction == {"in": 2, "out": 1}
    assert capture.stats.bytes == 180


def test_a_byte_limit_and_a_duration_stop_it_too():
    capture = Capture(Limits(max_bytes=100))
    capture.start(0)
    capture.receive(frame(0), 0)
    assert not capture.done
    capture.receive(frame(1), 1)
    assert capture.done
    timed = Capture(Limits(duration=2.0), keep=False)
    timed.start(1_000)
    assert not timed.expire(1_000 + 1_999_999_999) and timed.seconds_left(1_000 + 500_000_000) == 1.5
    assert timed.expire(1_000 + 2_000_000_000) and timed.frames == []


def test_stop_is_a_move_of_the_table_and_frames_after_it_are_not_kept():
    capture = Capture()
    capture.stop()
    assert capture.state is State.STOPPED
    assert ("READY", "start", "CAPTURING") in TABLE.rows()
    assert capture.receive(frame(0), 0) is None and capture.stats.captured == 0


@pytest.mark.parametrize("limits", [dict(count=0), dict(duration=0), dict(duration=float("nan")), dict(max_bytes=-1)])
def test_limits_out_of_range_are_refused(limits):
    with pytest.raises(InputError):
        Limits(**limits)


def test_the_end_lines_are_tcpdumps_words():
    stats = CaptureStats(captured=1, received=2, dropped=0)
    assert end_lines(stats) == ["1 packet captured", "2 packets received by filter", "0 packets dropped by kernel"]
    assert end_lines(CaptureStats(captured=3)) == ["3 packets captured"]


def test_lines_read_as_tcpdumps_for_the_recorded_capture():
    tcpdump = tool("tcpdump")
    theirs = subprocess.run([tcpdump, "-n", "-r", str(CAPTURE)], capture_output=True, text=True,
                            env={"TZ": "UTC"}, check=True).stdout.splitlines()
    result = replay(CAPTURE)
    ours = [packet_line(f) for f in result.frames]
    assert len(ours) == len(theirs) == result.stats.captured
    # tcpdump's default timestamp, to the microsecond; then the summary (ICMP, DNS and TCP handshakes
    # agree word for word; tcpdump numbers TCP sequence numbers relative after the SYN)
    import time
    if time.localtime().tm_gmtoff == 0:
        assert [line.split()[0] for line in ours] == [line.split()[0] for line in theirs]
    def absolute(line: str) -> bool:
        return "Flags [" not in line or "Flags [S" in line
    same = [o.split(" ", 1)[1] for o, t in zip(ours, theirs, strict=True) if absolute(t)]
    expected = [t.split(" ", 1)[1] for t in theirs if absolute(t)]
    assert same == expected and len(same) >= 8
    assert timestamp(1_700_000_000_123_456_789, nano=True).endswith(".123456789")


@pytest.mark.parametrize("expression", ["icmp", "udp port 53", "tcp", "tcp[tcpflags] & tcp-syn != 0",
                                        "not tcp", "port 8080 and greater 100", "icmp[0] = 8 or udp"])
def test_a_file_read_through_a_filter_keeps_what_tcpdump_keeps(expression):
    tcpdump = tool("tcpdump")
    theirs = subprocess.run([tcpdump, "-n", "-r", str(CAPTURE), "-w", "-", expression], capture_output=True,
                            check=True).stdout
    expected = [r.data for r in pcap.read(__import__("io").BytesIO(theirs))]
    result = replay(CAPTURE, expression)
    assert [f.data for f in result.frames] == expected
    assert result.stats.filtered_out == sum(1 for _ in pcap.read(CAPTURE)) - len(expected)


def test_the_cli_reads_a_file_prints_lines_and_no_kernel_statistics(capsys):
    assert main(["sniff", "-r", str(CAPTURE), "-c", "2", "-v", "-X", "icmp"]) == 0
    out, err = capsys.readouterr()
    assert sum(": ICMP echo" in line for line in out.splitlines()) == 2
    assert "ttl                64" in out and "0x0000:  0000 0000" in out
    assert err.startswith("reading from file") and "captured" not in err


def test_the_cli_writes_what_it_reads(tmp_path, capsys):
    out = tmp_path / "out.pcap"
    assert main(["sniff", "-r", str(CAPTURE), "-w", str(out), "tcp"]) == 0
    assert capsys.readouterr().out == ""
    written = list(pcap.read(out))
    assert [r.data for r in written] == [f.data for f in replay(CAPTURE, "tcp").frames]
    assert pcap.CaptureReader(out).nanosecond


def test_dash_d_prints_the_program_as_tcpdump_does(capsys):
    tcpdump = tool("tcpdump")
    assert main(["sniff", "-d", "udp", "port", "53"]) == 0
    ours = capsys.readouterr().out
    theirs = subprocess.run([tcpdump, "-d", "-y", "EN10MB", "udp port 53"], capture_output=True, text=True,
                            check=True).stdout
    assert ours.splitlines()[0] == theirs.splitlines()[0] and ours.rstrip().endswith("ret      #0")


@pytest.mark.parametrize("argv, words", [
    (["tcp", "port", "80", "and"], "column 16"),
    (["-i", "nosuch0", "tcp"], "nosuch0: no such interface (this host has: lo"),
    (["-r", "/nonexistent.pcap"], "/nonexistent.pcap"),
    (["-s", "0"], "snaplen must be"),
    (["-c", "-1"], "count must be"),
])
def test_bad_input_is_one_line_and_status_2(argv, words, capsys):
    try:
        status = main(["sniff", *argv])
    except SystemExit as exc:            # argparse's refusal (commands/common.one_line_errors)
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("netstudy sniff: ") and words in err, err


def _unprivileged(*argv: str) -> subprocess.CompletedProcess:
    need_user_namespaces()
    return subprocess.run(["unshare", "--user", "--map-user=65534", "--map-group=65534", *NETSTUDY, *argv],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_unprivileged_live_capture_says_what_is_missing():
    out = _unprivileged("sniff", "-i", "lo", "-c", "1")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith("netstudy sniff: ") and "CAP_NET_RAW" in out.stderr and "-r FILE" in out.stderr


def test_unprivileged_reading_a_file_works():
    out = _unprivileged("sniff", "-r", str(CAPTURE), "udp")
    assert out.returncode == 0, out.stderr
    assert "A? www.netstudy.test." in out.stdout and out.stdout.count("\n") == 2


def test_a_block_written_as_stamped_is_counted_as_its_frames_would_be():
    frames = [(1_700_000_000_000_000_000 + n, bytes(60 + n), 60 + n, 4 if n % 3 == 0 else 0) for n in range(7)]
    batched, counted = Capture(keep=False), Capture(keep=False)
    batched.start(0)
    counted.start(0)
    batched.receive_batch(frames, 1, 0)
    assert counted.receive_counted(len(frames), sum(f[2] for f in frames), [f[3] for f in frames])
    assert counted.stats == batched.stats and counted.stats.by_direction == {"out": 3, "in": 4}
    counted.stop()
    assert not counted.receive_counted(1, 60, [0]) and counted.stats.captured == 7
    for refused in (Capture(), Capture(Limits(count=5), keep=False), Capture(Limits(max_bytes=500), keep=False)):
        refused.start(0)
        with pytest.raises(ValueError, match="keep nothing"):
            refused.receive_counted(1, 60, [0])


LO = 1


def ring_block(frames: list[tuple[int, int, bytes, int]], size: int = 4096) -> bytearray:
    """A TPACKET_V3 block laid out as the kernel lays it (if_packet.h): the block descriptor, then for
    each ``(ifindex, pkttype, data, wire_length)`` a tpacket3_hdr, its sockaddr_ll and the frame at tp_mac,
    each 16-byte aligned; the last frame's tp_next_offset 0."""
    from netstudy.net import packet
    block = bytearray(size)
    at = first = 48
    for n, (ifindex, pkttype, data, length) in enumerate(frames):
        mac = 80
        following = (mac + len(data) + 15) // 16 * 16 if n < len(frames) - 1 else 0
        packet.FRAME_HEADER.pack_into(block, at, following, 1_700_000_000 + n, 1000 * n + 7, len(data), length,
                                      packet.TP_STATUS_USER, mac, mac + 14)
        packet.SOCKADDR_LL.pack_into(block, at + packet.SOCKADDR_LL_OFFSET, 17, 0x0008, ifindex, 772, pkttype, 6, b"")
        block[at + mac:at + mac + len(data)] = data
        at += following
    packet.BLOCK_HEADER.pack_into(block, 0, 1, 0, packet.TP_STATUS_USER, len(frames), first, size)
    return block


def ring_over(block: bytearray, snaplen: int = 262144):
    """A RingCapture reading a hand-made block, with no socket: only its parsing is under test."""
    from netstudy.net.packet import RingCapture
    ring = RingCapture.__new__(RingCapture)
    ring._ring, ring.snaplen, ring.cooked, ring.loopback_index, ring.ifindex = block, snaplen, False, LO, LO
    return ring


def test_a_ring_block_read_as_frames_and_as_stamped_records_writes_the_same_pcap(tmp_path):
    frames = [(LO, 4, b"\x01" * 60, 60), (LO, 0, b"\x01" * 60, 60), (2, 4, b"\x02" * 98, 98),
              (LO, 3, b"\x03" * 42, 1500)]
    ring = ring_over(ring_block(frames))
    read = ring.frames_of(0)
    assert [(data, length, pkttype) for _, data, length, pkttype in read] == [
        (b"\x01" * 60, 60, 0), (b"\x02" * 98, 98, 4), (b"\x03" * 42, 1500, 3)]      # lo's outgoing copy skipped
    assert [stamp for stamp, *_ in read] == [1_700_000_001_000_001_007, 1_700_000_002_000_002_007,
                                            1_700_000_003_000_003_007]
    stamped = ring.stamped_of(0)
    assert len(stamped) == 3 and list(stamped.pkttypes) == [0, 4, 3] and stamped.wire_bytes == 60 + 98 + 1500
    with pcap.PcapWriter(tmp_path / "frames.pcap", 1, nanosecond=True) as writer:
        writer.write_batch(read)
    with pcap.PcapWriter(tmp_path / "stamped.pcap", 1, nanosecond=True) as writer:
        writer.write_records(stamped.records, len(stamped))
        assert writer.count == 3
    assert (tmp_path / "frames.pcap").read_bytes() == (tmp_path / "stamped.pcap").read_bytes()
    records = list(pcap.CaptureReader(tmp_path / "stamped.pcap"))
    assert [(r.timestamp_ns, r.length, r.data) for r in records] == [(s, length, d) for s, d, length, _ in read]
    ring.loopback_index = -1                                                        # loopback_twice=True
    assert len(ring.frames_of(0)) == len(ring.stamped_of(0)) == 4


def _stamped_pcap(stamped, path) -> bytes:
    with pcap.PcapWriter(path, 1, nanosecond=True) as writer:
        writer.write_records(stamped.records, len(stamped))
    return path.read_bytes()


@pytest.mark.parametrize(("loopback", "outgoing"), [(LO, lambda n: n % 2 == 0), (LO, lambda n: n % 2 == 1),
                                                   (LO, lambda n: n % 3 > 0), (LO, lambda n: n > 20), (-1, bool)],
                         ids=["out-in", "in-out", "irregular", "none-out", "loopback-twice"])
def test_a_block_of_alike_frames_is_cut_in_c_as_frame_by_frame(tmp_path, loopback, outgoing):
    frames = [(LO, 4 if outgoing(n) else 0, bytes([n]) * 60, 60 + n) for n in range(13)]   # tp_len may differ
    ring = ring_over(ring_block(frames))
    ring.loopback_index = loopback
    _, _, _, count, first, length = packet_block_header(ring)
    alike = ring._alike_stamped(first, count, length)
    assert alike is not None                                     # the frames are alike: the C path takes them
    walked = ring._stamped_one_by_one(first, count)
    assert (alike.records, alike.pkttypes, alike.wire_bytes) == (walked.records, walked.pkttypes, walked.wire_bytes)
    kept = [f for f in frames if f[1] != 4 or loopback != LO]
    assert len(alike) == len(kept) and alike.wire_bytes == sum(f[3] for f in kept)
    frames_pcap = tmp_path / "frames.pcap"
    with pcap.PcapWriter(frames_pcap, 1, nanosecond=True) as writer:
        writer.write_batch(ring.frames_of(0))
    assert _stamped_pcap(ring.stamped_of(0), tmp_path / "stamped.pcap") == frames_pcap.read_bytes()


def packet_block_header(ring):
    from netstudy.net.packet import BLOCK_HEADER
    return BLOCK_HEADER.unpack_from(ring._ring, 0)


@pytest.mark.parametrize("unlike", ["size", "vlan", "few", "mac"])
def test_a_block_of_unlike_frames_is_walked_frame_by_frame(tmp_path, unlike):
    from netstudy.net import packet
    frames = [(LO, 0, bytes([n]) * 60, 60) for n in range(4 if unlike == "few" else 12)]
    if unlike == "size":
        frames[7] = (LO, 0, b"\x07" * 62, 62)
    block = ring_block(frames)
    if unlike in ("vlan", "mac"):
        stride = packet.FRAME_HEADER.unpack_from(block, 48)[0]
        at = 48 + 5 * stride                                      # the sixth frame's tpacket3_hdr
        if unlike == "vlan":
            packet.FRAME_HEADER.pack_into(block, at, stride, 1_700_000_005, 5007, 60, 60,
                                          packet.TP_STATUS_USER | packet.TP_STATUS_VLAN_VALID, 80, 94)
            packet.VLAN_FIELDS.pack_into(block, at + packet.VLAN_FIELDS_OFFSET, 42, 0)
        else:                                                     # its frame two bytes earlier in the same stride
            packet.FRAME_HEADER.pack_into(block, at, stride, 1_700_000_005, 5007, 60, 60, packet.TP_STATUS_USER,
                                          78, 92)
    ring = ring_over(block)
    _, _, _, count, first, length = packet_block_header(ring)
    assert ring._alike_stamped(first, count, length) is None
    frames_pcap = tmp_path / "frames.pcap"
    with pcap.PcapWriter(frames_pcap, 1, nanosecond=True) as writer:
        writer.write_batch(ring.frames_of(0))
    assert _stamped_pcap(ring.stamped_of(0), tmp_path / "stamped.pcap") == frames_pcap.read_bytes()
