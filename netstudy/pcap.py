"""Capture files: read classic pcap and pcapng, write classic pcap (standard library only).

Formats: classic pcap is documented in draft-ietf-opsawg-pcap; pcapng in draft-ietf-opsawg-pcapng
(section and block numbers below refer to those drafts). Reading streams: the file is read in chunks
and records are yielded one at a time, so a multi-gigabyte capture never sits in memory.

    >>> for rec in read("tests/data/captures/lo_ping4.pcap"):
    ...     print(rec.timestamp_ns, rec.length, rec.data[:14].hex())
"""
from __future__ import annotations

import gc
import itertools
import os
import struct
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, BinaryIO, TypeGuard, Union, cast

from netstudy.errors import BuildError, DecodeError, InputError
from netstudy.wire.bpf import BpfProgram, compile_filter

PathOrFile = Union[str, "os.PathLike[str]", BinaryIO]

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D

DEFAULT_SNAPLEN = 262144
# A record or block longer than this is taken as a corrupt length field rather than read into memory.
MAX_RECORD_SIZE = 64 * 1024 * 1024
_CHUNK = 1 << 20


class LinkType(IntEnum):
    """LINKTYPE_ values (tcpdump.org/linktypes.html): what the first byte of each record is."""

    NULL = 0  # BSD loopback: 4-byte address family in the host's byte order, then IP
    ETHERNET = 1  # Ethernet II / 802.3 header
    RAW = 101  # raw IP, version from the first nibble
    LINUX_SLL = 113  # Linux "cooked" capture v1 (16-byte header), e.g. tcpdump -i any
    IPV4 = 228  # raw IPv4
    IPV6 = 229  # raw IPv6
    LINUX_SLL2 = 276  # Linux "cooked" capture v2 (20-byte header), e.g. dumpcap -i any


@dataclass(slots=True)
class Record:
    """One captured packet: its bytes and what the capture file says about them."""

    timestamp_ns: int  # nanoseconds since the Unix epoch, UTC; 0 when the file gives none (pcapng SPB)
    caplen: int  # bytes saved in the file (len(data))
    length: int  # bytes the packet had on the wire
    linktype: int  # a LinkType value: how to decode data
    data: bytes
    interface: int = 0  # pcapng interface index within its section (always 0 in classic pcap)
    comment: str | None = None  # pcapng opt_comment, if any

    @property
    def truncated(self) -> bool:
        """True when the capture kept fewer bytes than the packet had (caplen < length, a snaplen cut)."""
        return self.caplen < self.length


@dataclass(slots=True)
class Interface:
    """A pcapng Interface Description Block (section 4.2); classic pcap has exactly one."""

    linktype: int
    snaplen: int
    name: str | None = None  # if_name
    description: str | None = None  # if_description
    tsresol: int = 1_000_000  # if_tsresol as units per second
    tsoffset: int = 0  # if_tsoffset, seconds added to every timestamp


class _Chunks:
    """A forward-only window over a binary stream, refilled in large reads; knows its file offset."""

    __slots__ = ("_f", "buf", "pos", "base")

    def __init__(self, f: BinaryIO) -> None:
        self._f, self.buf, self.pos, self.base = f, b"", 0, 0

    @property
    def offset(self) -> int:
        """File offset of buf[pos]."""
        return self.base + self.pos

    def available(self) -> int:
        return len(self.buf) - self.pos

    def ensure(self, n: int) -> bool:
        """Make n bytes available at pos; False if the stream ends first (what is there stays)."""
        if len(self.buf) - self.pos >= n:
            return True
        parts = [self.buf[self.pos:]]
        have = len(parts[0])
        self.base += self.pos
        while have < n:
            more = self._f.read(max(_CHUNK, n - have))
            if not more:
                break
            parts.append(more)
            have += len(more)
        self.buf, self.pos = b"".join(parts), 0
        return have >= n

    def take(self, n: int) -> bytes:
        """The next n bytes (already ensured)."""
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out


class CaptureReader:
    """Iterate over the records of a pcap or pcapng file, streaming; see `open_capture`.

    After (or during) iteration, `warnings` lists what was wrong but survivable (a file cut
    mid-record), `interfaces` the interfaces of the current section, `format` is "pcap" or "pcapng".
    A structurally corrupt file (impossible lengths) raises DecodeError naming the file offset.
    """

    def __init__(self, source: PathOrFile) -> None:
        if isinstance(source, (str, os.PathLike)):
            self._file: BinaryIO = open(source, "rb")  # noqa: SIM115  (the reader owns it: close() closes it)
            self._owns = True
        else:
            self._file, self._owns = source, False
        self.format = ""  # "pcap" or "pcapng", set from the magic
        self.warnings: list[str] = []
        self.interfaces: list[Interface] = []
        self.section_comments: list[str] = []
        self.nanosecond = False  # classic pcap: nanosecond magic
        self.byte_order = "<"
        self.records_read = 0
        self._chunks = _Chunks(self._file)
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        self._records: Iterator[Record] = itertools.starmap(Record, self._tuples)

    def _start(self) -> None:
        ch = self._chunks
        ch.ensure(4)
        magic = ch.buf[:4]
        if len(magic) < 4:
            raise DecodeError("pcap", "magic", 0, f"file too short for a capture ({len(magic)} bytes)")
        if struct.unpack("<I", magic)[0] == PCAPNG_SHB:
            self.format = "pcapng"
            self._tuples: Iterator[tuple] = self._pcapng_records()
            return
        for order in "<>":
            (value,) = struct.unpack(order + "I", magic)
            if value in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
                self.format, self.byte_order, self.nanosecond = "pcap", order, value == PCAP_MAGIC_NS
                self._pcap_header()
                self._tuples = self._pcap_records()
                return
        raise DecodeError("pcap", "magic", 0, f"not a pcap or pcapng file (starts {magic.hex()})")

    # ---- classic pcap (draft-ietf-opsawg-pcap section 4 and 5)

    def _pcap_header(self) -> None:
        ch = self._chunks
        if not ch.ensure(24):
            raise DecodeError("pcap", "file header", ch.available(), "file ends inside the 24-byte file header")
        major, _minor, _zone, _sigfigs, snaplen, linktype = struct.unpack(self.byte_order + "4xHHiIII", ch.take(24))
        if major != 2:
            raise DecodeError("pcap", "version_major", 4, f"unsupported version {major} (expected 2)")
        # The top bits of the link type field carry FCS information (section 4); LT_LINKTYPE masks them.
        self.interfaces = [Interface(linktype & 0x03FFFFFF, snaplen,
                                     tsresol=1_000_000_000 if self.nanosecond else 1_000_000)]

    def _pcap_records(self) -> Iterator[tuple]:
        ch = self._chunks
        unpack = struct.Struct(self.byte_order + "IIII").unpack_from
        frac = 1 if self.nanosecond else 1000
        linktype, snaplen = self.interfaces[0].linktype, self.interfaces[0].snaplen
        limit = min(max(snaplen, DEFAULT_SNAPLEN), MAX_RECORD_SIZE)
        number = 0
        buf, pos = ch.buf, ch.pos
        # The hot loop works on local copies of the window (buf, pos) and syncs with ch only to refill.
        while True:
            number += 1
            if len(buf) - pos < 16:
                ch.pos = pos
                if not ch.ensure(16):
                    if ch.available():
                        self._cut(f"record {number}", ch.available(), 16)
                    return
                buf, pos = ch.buf, ch.pos
            sec, sub, caplen, length = unpack(buf, pos)
            if caplen > limit:
                raise DecodeError("pcap", "incl_len", ch.base + pos + 8,
                                  f"record {number} claims {caplen} captured bytes, more than the "
                                  f"snapshot length {limit}: corrupt record header")
            end = pos + 16 + caplen
            if end > len(buf):
                ch.pos = pos
                if not ch.ensure(16 + caplen):
                    self._cut(f"record {number}", ch.available(), 16 + caplen)
                    return
                buf, pos = ch.buf, ch.pos
                end = pos + 16 + caplen
            data = buf[pos + 16:end]
            pos = ch.pos = end
            self.records_read = number
            yield sec * 1_000_000_000 + sub * frac, caplen, length, linktype, data, 0, None

    # ---- pcapng (draft-ietf-opsawg-pcapng section 3 and 4)

    def _pcapng_records(self) -> Iterator[tuple]:
        ch = self._chunks
        order = "<"
        block_number = record_number = 0
        while True:
            block_number += 1
            if not ch.ensure(12):
                if ch.available():
                    self._cut(f"block {block_number}", ch.available(), 12)
                return
            offset = ch.offset
            (btype,) = struct.unpack_from(order + "I", ch.buf, ch.pos)
            if btype == PCAPNG_SHB:
                bom = ch.buf[ch.pos + 8:ch.pos + 12]
                order = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">" if bom == b"\x1a\x2b\x3c\x4d" else ""
                if not order:
                    raise DecodeError("pcapng", "byte_order_magic", offset + 8,
                                      f"section header has byte-order magic {bom.hex()}, not 1a2b3c4d")
            (total,) = struct.unpack_from(order + "I", ch.buf, ch.pos + 4)
            if total < 12 or total % 4 or total > MAX_RECORD_SIZE:
                raise DecodeError("pcapng", "block_total_length", offset + 4,
                                  f"block {block_number} (type 0x{btype:08x}) has impossible length {total}")
            is_packet = btype in (6, 3, 2)
            if not ch.ensure(total):
                what = f"block {block_number}, record {record_number + 1}" if is_packet else f"block {block_number}"
                self._cut(what, ch.available(), total)
                return
            block = ch.take(total)
            (trailer,) = struct.unpack_from(order + "I", block, total - 4)
            if trailer != total:
                raise DecodeError("pcapng", "block_total_length", offset + total - 4,
                                  f"block {block_number} ends with length {trailer}, starts with {total}")
            body = memoryview(block)[8:total - 4]
            if btype == PCAPNG_SHB:
                self._section(body, order, offset)
            elif btype == 1:
                self._interface(body, order, offset)
            elif is_packet:
                record_number += 1
                self.records_read = record_number
                yield self._packet(btype, body, order, offset)
            # Every other block type (name resolution, statistics, secrets, custom...) is skipped.

    def _section(self, body: memoryview, order: str, offset: int) -> None:
        """Section Header Block (4.1): a new section resets the interfaces and may change byte order."""
        if len(body) < 16:
            raise DecodeError("pcapng", "section header", offset, "section header block shorter than 28 bytes")
        major, minor = struct.unpack_from(order + "HH", body, 4)
        if major != 1:
            raise DecodeError("pcapng", "major_version", offset + 12, f"unsupported version {major}.{minor}")
        self.byte_order, self.interfaces = order, []
        self.section_comments = [v.decode("utf-8", "replace") for code, v in _options(body[16:], order, offset + 24)
                                 if code == 1]

    def _interface(self, body: memoryview, order: str, offset: int) -> None:
        """Interface Description Block (4.2) with if_name, if_description, if_tsresol, if_tsoffset."""
        if len(body) < 8:
            raise DecodeError("pcapng", "interface description", offset, "block shorter than 20 bytes")
        linktype, snaplen = struct.unpack_from(order + "H2xI", body)
        iface = Interface(linktype, snaplen)
        for code, value in _options(body[8:], order, offset + 16):
            if code == 2:
                iface.name = value.decode("utf-8", "replace")
            elif code == 3:
                iface.description = value.decode("utf-8", "replace")
            elif code == 9 and len(value) >= 1:
                # MSB clear: 10^-n seconds; MSB set: 2^-n seconds (4.2, if_tsresol).
                iface.tsresol = 2 ** (value[0] & 0x7F) if value[0] & 0x80 else 10 ** value[0]
            elif code == 14 and len(value) >= 8:
                (iface.tsoffset,) = struct.unpack_from(order + "q", value)
        self.interfaces.append(iface)

    def _packet(self, btype: int, body: memoryview, order: str, offset: int) -> tuple:
        """Enhanced (4.3), Simple (4.4) or obsolete Packet Block (Appendix A) to a Record's fields."""
        if btype == 3:  # Simple Packet Block: no interface id (always 0), no timestamp
            if len(body) < 4:
                raise DecodeError("pcapng", "simple packet block", offset, "block shorter than 16 bytes")
            iface_id, ticks, start, options = 0, None, 4, None
            (length,) = struct.unpack_from(order + "I", body)
            iface = self._iface(0, offset)
            caplen = min(length, len(body) - 4, iface.snaplen or length)
        else:
            fmt = order + ("IIIII" if btype == 6 else "HxxIIII")
            if len(body) < 20:
                raise DecodeError("pcapng", "packet block", offset, "block shorter than 32 bytes")
            iface_id, high, low, caplen, length = struct.unpack_from(fmt, body)
            ticks, start = (high << 32) | low, 20
            if caplen > len(body) - 20:
                raise DecodeError("pcapng", "captured_packet_length", offset + 20,
                                  f"packet claims {caplen} bytes, block holds {len(body) - 20}")
            iface = self._iface(iface_id, offset + 8)
            options = body[start + (caplen + 3) // 4 * 4:]
        comment = None
        if options:
            for code, value in _options(options, order, offset):
                if code == 1:
                    comment = value.decode("utf-8", "replace")
                    break
        ts = 0 if ticks is None else _ticks_to_ns(ticks, iface.tsresol) + iface.tsoffset * 1_000_000_000
        return ts, caplen, length, iface.linktype, bytes(body[start:start + caplen]), iface_id, comment

    def _iface(self, index: int, offset: int) -> Interface:
        if index >= len(self.interfaces):
            raise DecodeError("pcapng", "interface_id", offset,
                              f"packet names interface {index}, section has {len(self.interfaces)}")
        return self.interfaces[index]

    # ---- common

    def _cut(self, what: str, have: int, need: int) -> None:
        self.warnings.append(f"file ends {have} bytes into {what} (needs {need})")

    def __iter__(self) -> Iterator[Record]:
        return self._records

    def __next__(self) -> Record:
        return next(self._records)

    def tuples(self) -> Iterator[tuple]:
        """The records as plain tuples in :class:`Record`'s field order (timestamp_ns, caplen, length,
        linktype, data, interface, comment), for loops over millions of packets that need no object
        per packet (``to_frame``). Shares its position with iterating the reader."""
        return self._tuples

    def close(self) -> None:
        if self._owns:
            self._file.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ticks_to_ns(ticks: int, per_second: int) -> int:
    """A timestamp in units of 1/per_second seconds, as integer nanoseconds (floor)."""
    if per_second == 1_000_000:
        return ticks * 1000
    if per_second == 1_000_000_000:
        return ticks
    return ticks * 1_000_000_000 // per_second


def _options(data: memoryview, order: str, offset: int) -> Iterator[tuple[int, bytes]]:
    """pcapng options (3.5): code, length, value padded to 32 bits, until opt_endofopt or the end."""
    pos, end = 0, len(data)
    while pos + 4 <= end:
        code, size = struct.unpack_from(order + "HH", data, pos)
        if code == 0:
            return
        if pos + 4 + size > end:
            raise DecodeError("pcapng", "option_length", offset + pos + 2,
                              f"option {code} claims {size} bytes, {end - pos - 4} left in the block")
        yield code, bytes(data[pos + 4:pos + 4 + size])
        pos += 4 + (size + 3) // 4 * 4


def open_capture(source: PathOrFile) -> CaptureReader:
    """Open a pcap or pcapng file (a path or a binary file object), format detected by its magic."""
    return CaptureReader(source)


def read(source: PathOrFile, filter: str = "") -> Iterator[Record]:
    """Yield the records of a capture file one by one; the file is closed when iteration ends. With a
    ``filter`` (a tcpdump expression, pcap-filter(7)), only the records it accepts, as ``tcpdump -r``."""
    with CaptureReader(source) as reader:
        yield from filtered(reader, filter) if filter else reader


def filtered(records: Iterable[Record], expression: str) -> Iterator[Record]:
    """The records a tcpdump filter expression accepts, judged by its classic BPF program as the kernel
    would (:func:`netstudy.wire.bpf.compile_filter`, compiled once per link type met). A bad expression
    raises its ``FilterError`` here, before any record is read."""
    programs: dict[int, BpfProgram] = {LinkType.ETHERNET: compile_filter(expression, LinkType.ETHERNET)}
    return _accepted(records, expression, programs)


def _accepted(records: Iterable[Record], expression: str, programs: dict[int, BpfProgram]) -> Iterator[Record]:
    for record in records:
        program = programs.get(record.linktype)
        if program is None:
            program = programs[record.linktype] = compile_filter(expression, record.linktype)
        if program.accepts(record.data, record.length):
            yield record


def _is_capture_file(source: PathOrFile | Iterable[Record]) -> TypeGuard[PathOrFile]:
    """True for a path or a binary file object (what :class:`CaptureReader` opens), False for records."""
    return isinstance(source, (str, os.PathLike)) or hasattr(source, "read")


def to_frame(source: PathOrFile | Iterable[Record]) -> Any:
    """A pandas DataFrame, one row per packet: time (UTC), lengths, interface, and what
    `netstudy.wire.decode` finds in it (MACs, VLAN, IPs, protocol, ports, TCP flags, ICMP type/code,
    TTL, malformed, tcpdump-style summary). `source` is a capture file or an iterable of Records."""
    import numpy as np
    import pandas as pd

    from netstudy.wire.decode import ROW_COLUMNS, decode

    reader: CaptureReader | None = None
    if _is_capture_file(source):
        reader = CaptureReader(source)
        records = reader.tuples()
    else:                                     # the records themselves (TypeGuard narrows one way only)
        records = ((r.timestamp_ns, r.caplen, r.length, r.linktype, r.data, r.interface, r.comment)
                   for r in cast("Iterable[Record]", source))
    rows = []          # per packet: what decoding finds (ROW_COLUMNS order), then what the file says
    # Decoding makes many short-lived objects and no reference cycles, so the cycle collector's passes
    # over the growing table are wasted work: pause it (not the reference counting) while reading.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for timestamp_ns, caplen, length, linktype, data, interface, _ in records:
            row = decode(data, linktype, None, length).row_values()
            row += timestamp_ns, length, caplen, interface
            rows.append(row)
    finally:
        if collecting:
            gc.enable()
        if reader is not None:
            reader.close()
    width, count = len(ROW_COLUMNS), len(rows)
    # the rows transposed (zip, in C) into one array per column: fromiter takes each value as it is,
    # where np.array would first look into every value to find the table's shape
    table = ([np.fromiter(column, dtype=object, count=count) for column in zip(*rows, strict=True)]
             or [np.empty(0, dtype=object)] * (width + 4))                     # no rows: no columns to zip
    timestamps, lengths, caplens, interfaces = (column.astype(np.int64) for column in table[width:])
    columns = {"time": pd.to_datetime(timestamps, unit="ns", utc=True), "length": lengths, "caplen": caplens,
               "truncated": caplens < lengths, "interface": interfaces}
    for name, values in zip(ROW_COLUMNS, table, strict=False):    # the file's 4 columns after them: above
        if name in _INTEGER_COLUMNS:        # absent = <NA>: None -> NaN -> pandas' nullable integers
            columns[name] = pd.array(values.astype(np.float64), dtype="Int64")
        elif name == "malformed":
            columns[name] = values.astype(bool)
        elif name != "length":              # text (the decoded length is caplen)
            columns[name] = values
    return pd.DataFrame(columns)


_INTEGER_COLUMNS = frozenset({"vlan", "sport", "dport", "icmp_type", "icmp_code", "ttl"})


def tcp_segments(records: Iterable[Record]) -> Any:
    """One TCP connection's segments as a pandas DataFrame, one row each: time (ms from the first), who sent
    it (the first segment's sender is the ``client``), flags, sequence and acknowledgement numbers relative
    to each side's initial sequence number (as Wireshark shows them, RFC 9293 3.4), payload length and bytes.
    ``records`` hold one connection (e.g. what ``netstudy.net.capture.TcpPortCapture`` saw)."""
    import pandas as pd

    from netstudy.wire import TCP, decode

    rows = []
    isn: dict[int, int] = {}
    client = t0 = None
    for r in records:
        packet = decode(r.data, r.linktype)
        tcp = packet[TCP]
        client = tcp.sport if client is None else client
        t0 = r.timestamp_ns if t0 is None else t0
        isn.setdefault(tcp.sport, tcp.seq)
        rows.append({
            "time_ms": (r.timestamp_ns - t0) / 1e6,
            "from": "client" if tcp.sport == client else "server",
            "flags": tcp.flags,
            "seq": (tcp.seq - isn[tcp.sport]) % 2**32,
            "ack": (tcp.ack - isn[tcp.dport]) % 2**32 if tcp.ack_flag and tcp.dport in isn else 0,
            "len": len(packet.remainder),
            "payload": packet.remainder,
        })
    return pd.DataFrame(rows, columns=["time_ms", "from", "flags", "seq", "ack", "len", "payload"])


_RECORD_HEADER = struct.Struct("<IIII")      # ts_sec, ts_subsec, caplen, length (draft-ietf-opsawg-pcap §5)


class PcapWriter:
    """Write a classic pcap file (draft-ietf-opsawg-pcap section 4) that tshark and Wireshark open cleanly.

        with PcapWriter("out.pcap", linktype=LinkType.ETHERNET) as w:
            w.write(frame_bytes)
    """

    def __init__(self, target: PathOrFile, linktype: int = LinkType.ETHERNET, snaplen: int = DEFAULT_SNAPLEN,
                 nanosecond: bool = False) -> None:
        if not 0 <= linktype <= 0x03FFFFFF:
            raise InputError(f"link type {linktype} is out of range")
        if not 0 < snaplen <= 0xFFFFFFFF:
            raise InputError(f"snaplen {snaplen} must be between 1 and 2**32-1")
        if isinstance(target, (str, os.PathLike)):
            self._file: BinaryIO = open(target, "wb")  # noqa: SIM115  (the writer owns it: close() closes it)
            self._owns = True
        else:
            self._file, self._owns = target, False
        self.linktype, self.snaplen, self.nanosecond = int(linktype), snaplen, nanosecond
        self.count = 0
        magic = PCAP_MAGIC_NS if nanosecond else PCAP_MAGIC_US
        self._file.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, self.linktype))

    def write(self, data: bytes, timestamp_ns: int | None = None, length: int | None = None) -> None:
        """Append one packet; data longer than snaplen is cut (length keeps the original size).

        timestamp_ns defaults to now; length (the size on the wire) defaults to len(data).
        """
        if timestamp_ns is None:
            timestamp_ns = time.time_ns()
        length = len(data) if length is None else length
        if length < len(data):
            raise BuildError(f"length {length} is smaller than the {len(data)} bytes given")
        if timestamp_ns < 0 or timestamp_ns >= (1 << 32) * 1_000_000_000:
            raise BuildError(f"timestamp {timestamp_ns} ns does not fit a pcap record (0 to 2**32 s)")
        data = data[:self.snaplen]
        sec, ns = divmod(timestamp_ns, 1_000_000_000)
        sub = ns if self.nanosecond else ns // 1000
        self._file.write(struct.pack("<IIII", sec, sub, len(data), length))
        self._file.write(data)
        self.count += 1

    def write_batch(self, packets: Sequence[tuple[Any, ...]]) -> None:
        """Append packets given as tuples that start ``(timestamp_ns, data, length, ...)`` (a live
        capture's, lengths as the kernel gave them), in one write: what a sniffer's ring hands over at once."""
        snaplen, pack, unit = self.snaplen, _RECORD_HEADER.pack, 1 if self.nanosecond else 1000
        parts: list[bytes] = []
        extend = parts.extend
        for packet in packets:
            timestamp_ns, data, length = packet[0], packet[1], packet[2]
            if len(data) > snaplen:
                data = data[:snaplen]
            extend((pack(timestamp_ns // 1_000_000_000, timestamp_ns % 1_000_000_000 // unit, len(data), length), data))
        self._file.write(b"".join(parts))
        self.count += len(packets)

    def write_records(self, records: bytes, count: int) -> None:
        """Append ``count`` records already laid out as this file's: each a 16-byte record header
        (little-endian ``ts_sec, ts_subsec, caplen, length``, in this file's time unit, caplen at most its
        snaplen) then the data; one write (a capture ring's block, written as it came)."""
        self._file.write(records)
        self.count += count

    def close(self) -> None:
        if self._owns:
            self._file.close()
        else:
            self._file.flush()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write(target: PathOrFile, records: Iterable[Record], linktype: int | None = None,
          snaplen: int = DEFAULT_SNAPLEN, nanosecond: bool = False) -> int:
    """Write records to a classic pcap file; returns how many. Link type defaults to the first record's.

    Classic pcap has one link type per file, so records of another link type raise BuildError.
    """
    iterator = iter(records)
    first = next(iterator, None)
    if linktype is None:
        linktype = first.linktype if first is not None else LinkType.ETHERNET
    with PcapWriter(target, linktype, snaplen, nanosecond) as writer:
        if first is None:
            return 0
        for rec in itertools.chain([first], iterator):
            if rec.linktype != linktype:
                raise BuildError(f"record {writer.count + 1} has link type {rec.linktype}, the file has {linktype}")
            writer.write(rec.data, rec.timestamp_ns, rec.length)
        return writer.count


__all__ = ["LinkType", "Record", "Interface", "CaptureReader", "open_capture", "read", "to_frame", "PcapWriter",
           "write", "DEFAULT_SNAPLEN"]
