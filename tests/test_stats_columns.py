"""The columnar reader (``netstudy.stats.columns``) against ``netstudy.pcap.to_frame``, and Parquet export.

The shared columns must be equal — values and dtypes — on every fixture capture, on a capture made by
the benchmark's generator, and on tcpdump's own test captures (crafted, truncated, fuzzed: the weird
cases take the per-record path), read in one chunk and in chunks of a few packets; a difference names
the capture, the row and the column. The extra columns are checked on frames built here, and the
vectorised path against the per-record path for every column.
"""
from __future__ import annotations

import builtins
import struct
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netstudy import pcap
from netstudy.errors import DecodeError, InputError
from netstudy.stats import capture_to_parquet, iter_columns, read_columns, to_parquet
from netstudy.stats.columns import COLUMNS, EXTRA_COLUMNS, SHARED_COLUMNS
from netstudy.stats.columns import decode as columns_decode
from netstudy.stats.parquet import ParquetMissing
from netstudy.wire import TCP, UDP, Ethernet, ICMPEcho, IPv4, IPv6

ROOT = Path(__file__).parents[1]
FIXTURES = sorted((ROOT / "tests" / "data" / "captures").glob("*.pcap*"))
FIXTURES = [p for p in FIXTURES if p.suffix in (".pcap", ".pcapng")]
PEER = ROOT.parent / "shared" / "peer-captures" / "tcpdump"
PEERS = sorted(p for p in PEER.glob("*.pcap*") if p.suffix in (".pcap", ".pcapng")) if PEER.is_dir() else []


def assert_same(ours: pd.DataFrame, reference: pd.DataFrame, where: str) -> None:
    """Fail naming the first row and column where the shared columns differ (value or dtype)."""
    assert len(ours) == len(reference), f"{where}: {len(ours)} rows, to_frame has {len(reference)}"
    first: tuple[int, str] | None = None
    for name in SHARED_COLUMNS:
        a, b = ours[name], reference[name]
        assert a.dtype == b.dtype, f"{where}: column {name!r} is {a.dtype}, to_frame's {b.dtype}"
        differ = ~(a.eq(b).fillna(False) | (a.isna() & b.isna())).to_numpy(dtype=bool)
        if differ.any() and (first is None or differ.argmax() < first[0]):
            first = int(differ.argmax()), name
    if first is not None:
        row, name = first
        raise AssertionError(f"{where}: row {row}, column {name!r}: columns {ours[name].iloc[row]!r}, to_frame "
                             f"{reference[name].iloc[row]!r} ({reference['summary'].iloc[row]})")
    pd.testing.assert_frame_equal(ours[list(SHARED_COLUMNS)], reference[list(SHARED_COLUMNS)])


def compare(path: Path) -> None:
    """read_columns equals to_frame on ``path``, in one chunk and in chunks of 3 packets; a capture
    to_frame refuses is refused with the same error."""
    try:
        reference = pcap.to_frame(path)
    except (DecodeError, InputError) as exc:
        with pytest.raises(type(exc)) as caught:
            read_columns(path)
        assert str(caught.value) == str(exc)
        return
    assert_same(read_columns(path), reference, path.name)
    assert_same(read_columns(path, chunk_packets=3), reference, f"{path.name} in chunks of 3")


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_captures_equal_to_frame(path: Path) -> None:
    compare(path)


@pytest.mark.skipif(not PEERS, reason=f"tcpdump's test captures are not in {PEER}")
@pytest.mark.parametrize("path", PEERS, ids=lambda p: p.name)
def test_tcpdump_test_captures_equal_to_frame(path: Path) -> None:
    compare(path)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 packets from the benchmark's generator (TCP, DNS, UDP, ICMP, ICMPv6, ARP, 802.1Q)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import make_mixed_pcap
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    path = tmp_path_factory.mktemp("mixed") / "mixed.pcap"
    make_mixed_pcap.generate(path, 20_000)
    return path


def test_mixed_capture_equals_to_frame(mixed: Path) -> None:
    reference = pcap.to_frame(mixed)
    assert set(reference.protocol) >= {"TCP", "UDP", "DNS", "ICMP", "ICMPv6", "ARP"}
    assert reference.vlan.notna().any()
    assert_same(read_columns(mixed, chunk_packets=4096), reference, "mixed")


def test_per_record_path_gives_every_column_the_same(mixed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every record decoded by netstudy.wire (the headers numpy reads refused) makes the same table, the
    extra columns included: the two paths agree on what the extras mean."""
    vectorised = read_columns(mixed, chunk_packets=5000)
    for name in ("_ip", "_arp"):
        reader = getattr(columns_decode, name)

        def refuse(*args, reader=reader):
            return np.zeros_like(reader(*args))

        monkeypatch.setattr(columns_decode, name, refuse)
    per_record = read_columns(mixed, chunk_packets=5000)
    pd.testing.assert_frame_equal(per_record, vectorised)


def test_chunks_number_their_rows_as_the_whole_table() -> None:
    path = ROOT / "tests" / "data" / "captures" / "lo_mixed.pcapng"
    whole = read_columns(path)
    pieces = list(iter_columns(path, chunk_packets=5))
    assert [len(p) for p in pieces[:-1]] == [5] * (len(pieces) - 1)
    assert pieces[1].index[0] == 5
    joined = pd.concat(pieces)
    assert list(joined.columns) == list(COLUMNS)
    pd.testing.assert_frame_equal(joined[["time", "length", "src", "sport", "ttl"]],
                                  whole[["time", "length", "src", "sport", "ttl"]])


def _write(tmp_path: Path, frames: list[bytes], linktype: int = 1, lengths: list[int] | None = None) -> Path:
    path = tmp_path / "built.pcap"
    with pcap.PcapWriter(path, linktype=linktype) as writer:
        for i, frame in enumerate(frames):
            writer.write(frame, 1_700_000_000_000_000_000 + i * 1000, None if lengths is None else lengths[i])
    return path


def test_extra_columns(tmp_path: Path) -> None:
    mac = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}
    frames = [
        (Ethernet(**mac) / IPv4(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=8080, seq=7, ack=9,
                                                                      flags="P.") / (b"x" * 10)).build(),
        (Ethernet(**mac) / IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=5000, dport=6000) / (b"y" * 33)).build(),
        (Ethernet(**mac) / IPv4(src="10.0.0.1", dst="10.0.0.2", mf=True) / ICMPEcho(identifier=1, sequence=2)
         / (b"z" * 40)).build(),
        (Ethernet(**mac) / IPv4(src="10.0.0.1", dst="10.0.0.2", protocol=17, fragment_offset=10)
         / (b"w" * 16)).build(),
    ]
    frame = read_columns(_write(tmp_path, frames))
    assert frame.ethertype.tolist() == [0x0800, 0x86DD, 0x0800, 0x0800]
    assert frame.ip_proto.tolist() == [6, 17, 1, 17]
    assert frame.tcp_seq.tolist()[0] == 7 and frame.tcp_ack.tolist()[0] == 9
    assert frame.tcp_seq.isna().tolist() == [False, True, True, True]
    assert frame.payload_length.tolist()[:2] == [10, 33]
    assert frame.payload_length.isna().tolist()[2:] == [True, True]
    assert frame.fragment.tolist() == [False, False, True, True]
    assert frame.protocol.tolist() == ["TCP", "UDP", "ICMP", "IPv4"]
    assert [str(frame[c].dtype) for c in EXTRA_COLUMNS] == ["int64", "Int64", "Int64", "Int64", "Int64", "bool"]


def test_cut_frames_and_snap_length(tmp_path: Path) -> None:
    """Frames cut by the snap length (in the TCP options, in the IP header, in the Ethernet header) and
    a datagram longer than the frame: the same rows as to_frame, its malformed marks included."""
    whole = (Ethernet() / IPv4(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1, dport=2, options=[])
             / (b"p" * 100)).build()
    frames = [whole[:cut] for cut in (0, 5, 14, 20, 34, 40, 54, 60)] + [whole]
    path = _write(tmp_path, frames, lengths=[len(whole)] * len(frames))
    reference = pcap.to_frame(path)
    assert reference.malformed.any() and reference.truncated.all() is np.False_
    assert_same(read_columns(path), reference, "cut frames")


@pytest.mark.parametrize("linktype", [0, 101, 113, 228, 229, 276])
def test_other_link_types(tmp_path: Path, linktype: int) -> None:
    datagram = (IPv4(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=53, dport=5353) / (b"q" * 12)).build()
    datagram6 = (IPv6(src="fd00::1", dst="fd00::2") / TCP(sport=80, dport=1234)).build()
    heads = {0: (struct.pack("<I", 2), struct.pack(">I", 30)), 101: (b"", b""), 228: (b"", b""), 229: (b"", b""),
             113: (bytes(14) + b"\x08\x00", bytes(14) + b"\x86\xdd"),
             276: (b"\x08\x00" + bytes(18), b"\x86\xdd" + bytes(18))}[linktype]
    path = _write(tmp_path, [heads[0] + datagram, heads[1] + datagram6, heads[0][:2]], linktype)
    assert_same(read_columns(path), pcap.to_frame(path), f"linktype {linktype}")


def test_errors_are_the_readers(tmp_path: Path) -> None:
    not_capture = tmp_path / "notes.txt"
    not_capture.write_bytes(b"hello, this is not a capture")
    with pytest.raises(DecodeError, match="not a pcap or pcapng file"):
        read_columns(not_capture)
    corrupt = tmp_path / "corrupt.pcap"
    corrupt.write_bytes(struct.pack("<IHHiIII", pcap.PCAP_MAGIC_US, 2, 4, 0, 0, 65535, 1)
                        + struct.pack("<IIII", 0, 0, 1 << 30, 60))
    with pytest.raises(DecodeError, match="corrupt record header"):
        read_columns(corrupt)
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((ROOT / "tests" / "data" / "captures" / "lo_ping4.pcap").read_bytes()[:-7])
    assert_same(read_columns(cut), pcap.to_frame(cut), "file cut mid-record")
    with pytest.raises(InputError, match="chunk_packets"):
        read_columns(cut, chunk_packets=0)


def test_empty_capture(tmp_path: Path) -> None:
    path = _write(tmp_path, [])
    ours, reference = read_columns(path), pcap.to_frame(path)
    assert len(ours) == 0 and list(ours.columns) == list(COLUMNS)
    assert ours.time.dtype == reference.time.dtype


# -- Parquet ---------------------------------------------------------------------------------------------

def test_capture_to_parquet_reads_back(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    capture = ROOT / "tests" / "data" / "captures" / "lo_mixed.pcapng"
    out = tmp_path / "packets.parquet"
    assert capture_to_parquet(capture, out, chunk_packets=4) == len(read_columns(capture))
    table = pq.read_table(out)
    assert table.schema.field("time").type == pa.timestamp("ns", tz="UTC")
    assert table.schema.field("sport").type == pa.int64() and table.column("sport").null_count > 0
    assert pq.ParquetFile(out).metadata.num_row_groups > 1            # written chunk by chunk
    expected = read_columns(capture)
    pd.testing.assert_frame_equal(table.to_pandas(), expected)
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected)


def test_a_table_to_parquet(tmp_path: Path) -> None:
    frame = read_columns(ROOT / "tests" / "data" / "captures" / "lo_mixed.pcapng")
    table = frame.groupby(["src", "protocol"]).agg(packets=("length", "size"), bytes=("length", "sum"))
    out = to_parquet(table, tmp_path / "table.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(out), table)


def test_parquet_without_pyarrow_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name.startswith("pyarrow"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(ParquetMissing, match=r"pip install 'netstudy\[parquet\]'") as caught:
        to_parquet(pd.DataFrame({"a": [1]}), tmp_path / "x.parquet")
    assert isinstance(caught.value, InputError) and "\n" not in str(caught.value)


def test_duckdb_reads_the_parquet_file(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed (a check, not a dependency)")
    capture = ROOT / "tests" / "data" / "captures" / "lo_mixed.pcapng"
    out = tmp_path / "packets.parquet"
    capture_to_parquet(capture, out)
    rows = duckdb.sql(f"select src, sum(length) as bytes from '{out}' where src is not null group by src "
                      "order by src").fetchall()
    frame = read_columns(capture)
    expected = frame.dropna(subset=["src"]).groupby("src")["length"].sum().sort_index()
    assert rows == list(zip(expected.index, expected.tolist(), strict=True))


def _block(order: str, kind: int, body: bytes) -> bytes:
    """A pcapng block (draft-ietf-opsawg-pcapng §3.1): type, total length, body padded to 32 bits, length."""
    body += bytes(-len(body) % 4)
    return struct.pack(order + "II", kind, len(body) + 12) + body + struct.pack(order + "I", len(body) + 12)


def _pcapng(order: str, tsresol: int | None, packets: list[tuple[int, bytes]], simple: bytes | None = None) -> bytes:
    """A section (§4.1) in byte order ``order``, one Ethernet interface (§4.2, if_tsresol when given),
    Enhanced Packet Blocks (§4.3) of (ticks, frame), and perhaps a Simple Packet Block (§4.4) in the middle."""
    options = b"" if tsresol is None else struct.pack(order + "HHB3x", 9, 1, tsresol) + bytes(4)
    blocks = [_block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1)),
              _block(order, 1, struct.pack(order + "HHI", 1, 0, 65535) + options)]
    for i, (ticks, frame) in enumerate(packets):
        blocks.append(_block(order, 6, struct.pack(order + "IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame),
                                                   len(frame)) + frame))
        if simple is not None and i == len(packets) // 2:
            blocks.append(_block(order, 3, struct.pack(order + "I", len(simple)) + simple))
    return b"".join(blocks)


@pytest.mark.parametrize(("order", "tsresol", "simple"), [(">", None, False), ("<", 9, False), (">", 6, True),
                                                         ("<", 0x94, False), ("<", 3, False)],
                         ids=["big-endian", "ns", "simple-block", "2^-20", "ms"])
def test_pcapng_sections(tmp_path: Path, order: str, tsresol: int | None, simple: bool) -> None:
    """Enhanced Packet Blocks in both byte orders and timestamp resolutions, a simple packet block, two
    sections: the same table as to_frame (what the fast walk does not read, CaptureReader reads)."""
    frame = (Ethernet() / IPv4(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / b"data").build()
    code = 6 if tsresol is None else tsresol
    per_second = 2 ** (code & 0x7F) if code & 0x80 else 10 ** code
    packets = [(1_700_000_000 * per_second + 12_345 * i, frame) for i in range(10)]
    path = tmp_path / "built.pcapng"
    second = [(1_700_000_001_000_000 + i, frame) for i in range(3)]                  # microseconds
    path.write_bytes(_pcapng(order, tsresol, packets, frame if simple else None) + _pcapng("<", None, second))
    assert_same(read_columns(path, chunk_packets=4), pcap.to_frame(path), path.name)
