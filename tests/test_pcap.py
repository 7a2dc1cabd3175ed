"""netstudy.pcap against tshark: the capture fixtures, hand-built pcapng, cut and corrupt files, the writer."""
from __future__ import annotations

import io
import itertools
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import tool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tshark import CAPTURES, captures, load, run_fields

from netstudy import pcap
from netstudy.errors import BuildError, DecodeError
from netstudy.pcap import LinkType, PcapWriter

FIXTURES = captures()
# Link types of the fixtures that are not Ethernet (what capinfos -E says of them).
LINKTYPES = {
    "lo_any_sll.pcap": LinkType.LINUX_SLL, "lo_any_sll2.pcap": LinkType.LINUX_SLL2,
    "lo_any_sll2.pcapng": LinkType.LINUX_SLL2, "tun_raw.pcap": LinkType.RAW, "tun_ipv4.pcap": LinkType.IPV4,
    "tun_ipv6.pcap": LinkType.IPV6, "null_loopback.pcap": LinkType.NULL,
}


def epoch_ns(text: str) -> int:
    """tshark's frame.time_epoch ("1795624147.006585000") as integer nanoseconds; no time is 0."""
    if not text:
        return 0
    sec, _, frac = text.partition(".")
    return int(sec) * 1_000_000_000 + int(frac.ljust(9, "0")[:9])


def tshark_text(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool("tshark"), *args], capture_output=True, text=True)


def warnings_of(done: subprocess.CompletedProcess) -> list[str]:
    """What tshark or capinfos said on stderr, apart from its standing note about running as root."""
    return [line for line in done.stderr.splitlines() if line.strip() and "Running as user" not in line]


# ---------------------------------------------------------------- the fixtures, frame by frame

def test_fixtures_present() -> None:
    names = {p.name for p in FIXTURES}
    assert len(FIXTURES) >= 30
    assert {"lo_ping4.pcap", "lo_mixed.pcapng", "veth_multi_iface.pcapng", "two_sections.pcapng",
            "veth_vlan.pcap", "lo_ping4_nano_be.pcap"} <= names
    # small enough to read in a diff; the largest are the lab's TCP transfers with real loss (55 kB of data)
    assert all(p.stat().st_size < 100_000 for p in FIXTURES)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_reader_agrees_with_tshark(path: Path) -> None:
    """Frame count, timestamp to the nanosecond, wire and captured length, interface: as tshark reads them."""
    rows = load(path)
    records = list(pcap.read(path))
    assert len(records) == len(rows) > 0
    for rec, row in zip(records, rows, strict=True):
        assert rec.timestamp_ns == epoch_ns(row["frame.time_epoch"]), row["frame.number"]
        assert (rec.length, rec.caplen) == (int(row["frame.len"]), int(row["frame.cap_len"]))
        assert rec.caplen == len(rec.data)
        assert rec.truncated == (rec.caplen < rec.length)
        assert rec.interface == int(row["frame.interface_id"] or 0)
        if path.name != "two_sections.pcapng":
            assert rec.linktype == LINKTYPES.get(path.name, LinkType.ETHERNET)


def test_byte_orders_and_precisions_read_alike() -> None:
    little = list(pcap.read(CAPTURES / "lo_ping4.pcap"))
    with pcap.open_capture(CAPTURES / "lo_ping4_be.pcap") as reader:
        big = list(reader)
        assert (reader.format, reader.byte_order, reader.nanosecond) == ("pcap", ">", False)
    assert big == little
    with pcap.open_capture(CAPTURES / "lo_ping4_nano_be.pcap") as reader:
        nano = list(reader)
        assert (reader.byte_order, reader.nanosecond) == (">", True)
    assert nano == list(pcap.read(CAPTURES / "lo_ping4_nano.pcap"))
    assert any(r.timestamp_ns % 1000 for r in nano)      # real nanoseconds, not microseconds * 1000
    assert all(r.timestamp_ns % 1000 == 0 for r in little)


def test_multi_interface_and_sections() -> None:
    with pcap.open_capture(CAPTURES / "veth_multi_iface.pcapng") as reader:
        records = list(reader)
        assert [i.name for i in reader.interfaces] == ["fxr1", "fxr2"]
        assert {i.tsresol for i in reader.interfaces} == {1_000_000_000}
    assert {r.interface for r in records} == {0, 1}
    with pcap.open_capture(CAPTURES / "two_sections.pcapng") as reader:
        both = list(reader)
        assert [i.linktype for i in reader.interfaces] == [LinkType.LINUX_SLL2]   # the second section's
    assert both[:len(records)] == records
    assert {r.linktype for r in both[len(records):]} == {LinkType.LINUX_SLL2}


def test_snaplen_truncation_flagged() -> None:
    records = list(pcap.read(CAPTURES / "lo_http_snap64.pcap"))
    assert all(r.caplen == min(64, r.length) for r in records)
    assert [r.truncated for r in records] == [r.length > 64 for r in records]
    assert any(r.truncated for r in records)


# ---------------------------------------------------------------- hand-built pcapng, read by us and by tshark

def _option(code: int, value: bytes, order: str) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _options(items: list[tuple[int, bytes]], order: str) -> bytes:
    if not items:
        return b""
    return b"".join(_option(code, value, order) for code, value in items) + struct.pack(order + "HH", 0, 0)


def block(btype: int, body: bytes, order: str) -> bytes:
    body += b"\0" * (-len(body) % 4)
    total = len(body) + 12
    return struct.pack(order + "II", btype, total) + body + struct.pack(order + "I", total)


def shb(order: str, comment: str = "") -> bytes:
    items = [(1, comment.encode())] if comment else []
    return block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1) + _options(items, order), order)


def idb(order: str, linktype: int, snaplen: int, tsresol: int | None = None, name: str = "") -> bytes:
    items = ([(9, bytes([tsresol]))] if tsresol is not None else []) + ([(2, name.encode())] if name else [])
    return block(1, struct.pack(order + "HHI", linktype, 0, snaplen) + _options(items, order), order)


def epb(order: str, iface: int, ticks: int, data: bytes, length: int | None = None, comment: str = "") -> bytes:
    head = struct.pack(order + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data),
                       len(data) if length is None else length)
    items = [(1, comment.encode())] if comment else []
    return block(6, head + data + b"\0" * (-len(data) % 4) + _options(items, order), order)


def spb(order: str, data: bytes, length: int | None = None) -> bytes:
    return block(3, struct.pack(order + "I", len(data) if length is None else length) + data, order)


ARP = bytes.fromhex("ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000002")
SECOND = 1_795_624_147


def hand_built_pcapng() -> bytes:
    """Two sections of opposite byte order; several interfaces and resolutions; SPB; unknown blocks."""
    le, be = "<", ">"
    return b"".join([
        shb(le, comment="first section"),
        idb(le, LinkType.ETHERNET, 0, name="eth-us"),                       # default: microseconds
        idb(le, LinkType.ETHERNET, 0, tsresol=0x80 | 20, name="eth-2^-20"),  # binary fractions
        epb(le, 0, SECOND * 10**6 + 123456, ARP, comment="hello"),
        block(0x0000ABCD, b"a block type nobody knows", le),                # unknown: skipped
        block(5, struct.pack(le + "IIIII", 0, 0, 0, 0, 0), le),              # statistics: skipped
        epb(le, 1, SECOND * 2**20 + 123457, ARP[:30], length=len(ARP)),
        spb(le, ARP),                                                        # interface 0, no time
        shb(be),
        idb(be, LinkType.RAW, 40, tsresol=9),
        idb(be, LinkType.ETHERNET, 0, tsresol=10),                           # finer than ns
        epb(be, 0, SECOND * 10**9 + 987654321, ARP[14:]),
        spb(be, ARP[14:]),                                                   # cut to IDB 0's snaplen 40
        epb(be, 1, SECOND * 10**10 + 1234567891, ARP),
    ])


@pytest.mark.interop
def test_hand_built_pcapng_as_tshark_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "hand.pcapng"
    path.write_bytes(hand_built_pcapng())
    done = tshark_text("-r", str(path), "-T", "fields", "-E", "separator=/t", "-e", "frame.time_epoch",
                       "-e", "frame.len", "-e", "frame.cap_len", "-e", "frame.interface_id", "-e", "frame.comment")
    assert done.returncode == 0 and not warnings_of(done), done.stderr
    theirs = [line.split("\t") for line in done.stdout.splitlines()]
    with pcap.open_capture(path) as reader:
        ours = list(reader)
        assert reader.warnings == []
        assert [i.linktype for i in reader.interfaces] == [LinkType.RAW, LinkType.ETHERNET]
    assert len(ours) == len(theirs) == 6
    for rec, (ts, length, caplen, iface, comment) in zip(ours, theirs, strict=True):
        assert (rec.timestamp_ns, rec.length, rec.caplen) == (epoch_ns(ts), int(length), int(caplen))
        assert (rec.interface, rec.comment or "") == (int(iface), comment)
    assert [r.timestamp_ns for r in ours] == [SECOND * 10**9 + 123456000, SECOND * 10**9 + 117737770, 0,
                                              SECOND * 10**9 + 987654321, 0, SECOND * 10**9 + 123456789]
    assert [r.linktype for r in ours] == [1, 1, 1, 101, 101, 1]
    assert ours[1].truncated and ours[4].caplen == 28 and not ours[4].truncated
    assert ours[0].comment == "hello"


def test_section_options_parsed() -> None:
    reader = pcap.open_capture(io.BytesIO(hand_built_pcapng()))
    next(reader)
    assert reader.section_comments == ["first section"]
    assert [i.name for i in reader.interfaces] == ["eth-us", "eth-2^-20"]
    assert [i.tsresol for i in reader.interfaces] == [10**6, 2**20]


# ---------------------------------------------------------------- cut and corrupt files

@pytest.mark.interop
@pytest.mark.parametrize("name, record, into", [("lo_dns.pcap", 3, 40), ("lo_dns.pcap", 3, 7),
                                                ("lo_ping4.pcap", 6, 16 + 97), ("veth_frag4.pcap", 2, 1)])
def test_file_cut_mid_record(tmp_path: Path, name: str, record: int, into: int) -> None:
    """Cut `into` bytes into record number `record`: the records before it, and a warning saying so."""
    caplens = [int(row["frame.cap_len"]) for row in load(CAPTURES / name)]
    cut = 24 + sum(16 + n for n in caplens[:record - 1]) + into
    path = tmp_path / name
    path.write_bytes((CAPTURES / name).read_bytes()[:cut])
    reader = pcap.open_capture(path)
    records = list(reader)
    assert records == list(pcap.read(CAPTURES / name))[:record - 1]
    needs = 16 + caplens[record - 1] if into >= 16 else 16
    assert reader.warnings == [f"file ends {into} bytes into record {record} (needs {needs})"]
    # tshark reads the same complete frames, and says the file was cut short.
    done = tshark_text("-r", str(path), "-T", "fields", "-e", "frame.number")
    assert len(done.stdout.split()) == record - 1
    assert "cut short" in done.stderr


def test_pcapng_cut_mid_block() -> None:
    data = (CAPTURES / "lo_mixed.pcapng").read_bytes()
    whole = list(pcap.read(CAPTURES / "lo_mixed.pcapng"))
    last_epb = pos = blocks = 0
    while pos < len(data):                                  # dumpcap writes little-endian blocks here
        btype, total = struct.unpack_from("<II", data, pos)
        if btype == 6:
            last_epb, last_block = pos, blocks + 1
        pos, blocks = pos + total, blocks + 1
    reader = pcap.open_capture(io.BytesIO(data[:last_epb + 30]))
    assert list(reader) == whole[:-1]
    total = struct.unpack_from("<I", data, last_epb + 4)[0]
    assert reader.warnings == [f"file ends 30 bytes into block {last_block}, record {len(whole)} (needs {total})"]


def test_corrupt_pcapng_block_length() -> None:
    data = bytearray(hand_built_pcapng())
    first_epb = data.index(struct.pack("<I", 6))            # the first EPB's type field
    data[first_epb + 4:first_epb + 8] = struct.pack("<I", 13)  # not a multiple of 4
    with pytest.raises(DecodeError) as err:
        list(pcap.read(io.BytesIO(bytes(data))))
    assert (err.value.layer, err.value.field, err.value.offset) == ("pcapng", "block_total_length", first_epb + 4)


def test_pcapng_trailing_length_mismatch() -> None:
    data = bytearray(hand_built_pcapng())
    shb_len = struct.unpack_from("<I", data, 4)[0]
    data[shb_len - 4:shb_len] = struct.pack("<I", shb_len + 4)
    with pytest.raises(DecodeError, match="ends with length"):
        list(pcap.read(io.BytesIO(bytes(data))))


def test_corrupt_pcap_record_length() -> None:
    data = bytearray((CAPTURES / "lo_ping4.pcap").read_bytes())
    data[24 + 8:24 + 12] = struct.pack("<I", 0x7FFFFFFF)
    with pytest.raises(DecodeError) as err:
        list(pcap.read(io.BytesIO(bytes(data))))
    assert (err.value.layer, err.value.field, err.value.offset) == ("pcap", "incl_len", 32)


def test_unknown_interface_and_bad_magic() -> None:
    bad = shb("<") + idb("<", 1, 0) + epb("<", 3, 0, ARP)
    with pytest.raises(DecodeError, match="interface 3, section has 1"):
        list(pcap.read(io.BytesIO(bad)))
    with pytest.raises(DecodeError) as err:
        pcap.open_capture(io.BytesIO(b"GIF89a not a capture at all"))
    assert (err.value.field, err.value.offset) == ("magic", 0)


# ---------------------------------------------------------------- streaming

class EndlessPcap(io.RawIOBase):
    """A classic pcap of endless 1,000-byte records, produced as it is read (like a live pipe)."""

    def __init__(self) -> None:
        self.pending = struct.pack("<IHHiIII", pcap.PCAP_MAGIC_US, 2, 4, 0, 0, 65535, 1)
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[override]
        while len(self.pending) < len(buf):
            n = self.produced
            self.pending += struct.pack("<IIII", n, 0, 1000, 1000) + n.to_bytes(4, "big") * 250
            self.produced += 1
        size = len(buf)
        buf[:size], self.pending = self.pending[:size], self.pending[size:]
        return size


def test_streams_without_reading_ahead() -> None:
    """Records come out while the source is still producing: the reader never waits for the end."""
    source = EndlessPcap()
    records = list(itertools.islice(pcap.read(source), 5000))
    assert [r.timestamp_ns for r in records[:3]] == [0, 10**9, 2 * 10**9]
    assert records[4999].data[:4] == (4999).to_bytes(4, "big")
    assert source.produced < 5000 + 3 * 1100        # it read about one megabyte ahead, no more


# ---------------------------------------------------------------- the writer, read back by tshark

def test_writer_round_trip_is_byte_identical() -> None:
    """tcpdump's little-endian microsecond pcap, read and written again, is the same file byte for byte."""
    for name in ("lo_dns.pcap", "veth_vlan.pcap", "lo_any_sll.pcap", "lo_http_snap64.pcap", "null_loopback.pcap"):
        original = (CAPTURES / name).read_bytes()
        reader = pcap.open_capture(CAPTURES / name)
        out = io.BytesIO()
        with PcapWriter(out, reader.interfaces[0].linktype, reader.interfaces[0].snaplen) as writer:
            for rec in reader:
                writer.write(rec.data, rec.timestamp_ns, rec.length)
        assert out.getvalue()[24:] == original[24:], name
        assert out.getvalue()[20:24] == original[20:24]          # link type
        assert writer.count == len(load(CAPTURES / name))


@pytest.mark.interop
@pytest.mark.parametrize("name, nanosecond", [("veth_frag6.pcap", False), ("lo_ping4_nano.pcap", True),
                                              ("tun_raw.pcap", False), ("lo_any_sll2.pcap", True)])
def test_tshark_reads_written_pcap_identically(tmp_path: Path, name: str, nanosecond: bool) -> None:
    """tshark's full dissection and hex dump of what we wrote equals that of the original, warning-free."""
    out = tmp_path / name
    assert pcap.write(out, pcap.read(CAPTURES / name), nanosecond=nanosecond) == len(load(CAPTURES / name))
    args = ("-n", "-V", "-x", "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE")
    ours, theirs = tshark_text("-r", str(out), *args), tshark_text("-r", str(CAPTURES / name), *args)
    assert ours.returncode == 0 and not warnings_of(ours), ours.stderr
    assert ours.stdout == theirs.stdout
    capinfos = subprocess.run([tool("capinfos"), "-c", "-E", "-M", str(out)], capture_output=True, text=True)
    assert capinfos.returncode == 0 and not warnings_of(capinfos), capinfos.stderr


@pytest.mark.interop
def test_pcapng_to_pcap_keeps_every_field(tmp_path: Path) -> None:
    """lo_mixed.pcapng (nanosecond pcapng from dumpcap) written as nanosecond pcap: tshark sees the same."""
    tool("tshark")
    out = tmp_path / "mixed.pcap"
    pcap.write(out, pcap.read(CAPTURES / "lo_mixed.pcapng"), nanosecond=True)
    expected = load(CAPTURES / "lo_mixed.pcapng")
    got = run_fields(out)
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        a.pop("frame.interface_id"), b.pop("frame.interface_id")
        assert a == b


def test_writer_snaplen_timestamps_and_checks(tmp_path: Path) -> None:
    path = tmp_path / "w.pcap"
    with PcapWriter(path, LinkType.RAW, snaplen=20, nanosecond=True) as writer:
        writer.write(bytes(range(40)), timestamp_ns=1_700_000_000_123_456_789)
        writer.write(b"\x45" + bytes(19), timestamp_ns=5, length=1500)
        with pytest.raises(BuildError, match="smaller than"):
            writer.write(b"abc", length=2)
        with pytest.raises(BuildError, match="does not fit"):
            writer.write(b"abc", timestamp_ns=-1)
    first, second = pcap.read(path)
    assert (first.timestamp_ns, first.caplen, first.length) == (1_700_000_000_123_456_789, 20, 40)
    assert first.truncated and second.truncated
    assert first.data == bytes(range(20)) and first.linktype == LinkType.RAW
    assert (second.timestamp_ns, second.length) == (5, 1500)
    micro = io.BytesIO()
    pcap.write(micro, [first])
    assert next(pcap.read(io.BytesIO(micro.getvalue()))).timestamp_ns == 1_700_000_000_123_456_000
    mixed = [first, pcap.Record(0, 1, 1, LinkType.ETHERNET, b"x")]
    with pytest.raises(BuildError, match="link type 1"):
        pcap.write(io.BytesIO(), mixed)


def test_writer_now_by_default() -> None:
    import time
    out = io.BytesIO()
    before = time.time_ns()
    with PcapWriter(out) as writer:
        writer.write(ARP)
    rec = next(pcap.read(io.BytesIO(out.getvalue())))
    assert before // 1000 * 1000 <= rec.timestamp_ns <= time.time_ns()
    assert not out.closed                          # a caller's file object stays open


# ---------------------------------------------------------------- property: anything but DecodeError is a bug

SEEDS = [(CAPTURES / n).read_bytes() for n in ("lo_dns.pcap", "veth_vlan.pcap")] + [hand_built_pcapng()]


def read_all(data: bytes) -> None:
    try:
        for _ in pcap.read(io.BytesIO(data)):
            pass
    except DecodeError:
        pass


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes_only_decode_error(data: bytes) -> None:
    read_all(data)
    read_all(b"\xd4\xc3\xb2\xa1" + data)
    read_all(shb("<") + data)


@settings(max_examples=400, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                                        max_size=8), st.integers(0, 10**6))
def test_mutated_captures_only_decode_error(seed: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seed)
    for pos, value in flips:
        data[pos % len(data)] = value
    read_all(bytes(data[:cut % (len(data) + 1)]))


def test_tuples_are_the_records_fields_and_share_the_position() -> None:
    """CaptureReader.tuples() gives each record's fields in Record's order; records and tuples are two
    views of one stream (pcapng with comments and several interfaces)."""
    with pcap.open_capture(CAPTURES / "veth_multi_iface.pcapng") as reader:
        records = list(reader)
    with pcap.open_capture(CAPTURES / "veth_multi_iface.pcapng") as reader:
        first = next(reader)
        rest = list(reader.tuples())
    assert [first] + [pcap.Record(*t) for t in rest] == records
    assert len(records) > 2


# ---------------------------------------------------------------- to_frame: one row per packet

@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_to_frame_agrees_with_tshark(path: Path) -> None:
    """Times, lengths, interface, outer addresses, TTL and (outside ICMP errors) ports, as tshark reads them."""
    frame = pcap.to_frame(path)
    rows = load(path)
    assert len(frame) == len(rows)
    assert list(frame.columns[:5]) == ["time", "length", "caplen", "truncated", "interface"]
    for (_, got), row in zip(frame.iterrows(), rows, strict=True):
        assert got["time"].value == epoch_ns(row["frame.time_epoch"])
        assert (got["length"], got["caplen"]) == (int(row["frame.len"]), int(row["frame.cap_len"]))
        assert got["interface"] == int(row["frame.interface_id"] or 0)
        src = row["ip.src"] or row["ipv6.src"] or row["arp.src.proto_ipv4"]
        dst = row["ip.dst"] or row["ipv6.dst"] or row["arp.dst.proto_ipv4"]
        assert (text(got["src"]), text(got["dst"])) == (src, dst), row["frame.number"]
        assert text(got["src_mac"]) == row["eth.src"]
        assert text(got["ttl"]) == (row["ip.ttl"] or row["ipv6.hlim"])
        port = row["tcp.srcport"] or row["udp.srcport"]
        if not (row["icmp.type"] or row["icmpv6.type"] or got["malformed"]):   # not a quoted datagram's port
            assert text(got["sport"]) == port, row["frame.number"]


def text(value: object) -> str:
    """A DataFrame cell as tshark writes it: "" where there is no value."""
    import pandas as pd
    return "" if value is None or pd.isna(value) else str(value)
