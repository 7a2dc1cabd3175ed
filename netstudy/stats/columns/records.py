"""Capture records in chunks: many records' bytes in one buffer, and per-record arrays saying where each is.

The file is read in large blocks and a tight loop walks the record headers to find where each record
starts (classic pcap, draft-ietf-opsawg-pcap §4-5: 16-byte record headers; pcapng,
draft-ietf-opsawg-pcapng §3-4: blocks, of which the Enhanced Packet Blocks hold the packets); numpy then
reads every header's fields at once. What needs more than that is ``netstudy.pcap.CaptureReader``'s:
the file header, a pcapng section's header and interfaces (byte order, link types, if_tsresol,
if_tsoffset), and whatever the walk does not read (simple or obsolete packet blocks, corrupt blocks,
unusual timestamp resolutions), from which point it reads the rest, so that a file it refuses is
refused with its error.
"""
from __future__ import annotations

import io
import itertools
import os
import struct
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from netstudy.errors import DecodeError
from netstudy.pcap import DEFAULT_SNAPLEN, MAX_RECORD_SIZE, CaptureReader, Interface

BLOCK = 8 << 20        # bytes read from a classic pcap at a time (a chunk holds the records in one block)
PCAP_FILE_HEADER = 24  # draft-ietf-opsawg-pcap §4


@dataclass
class Chunk:
    """Records ``first`` to ``first + len(start) - 1`` of a capture: their bytes are ``buf[start:start+caplen]``."""

    first: int          # index of the chunk's first record in the capture
    buf: bytes
    start: Any          # numpy int64 arrays, one value per record
    caplen: Any
    length: Any         # bytes on the wire
    time_ns: Any        # nanoseconds since the epoch, UTC
    interface: Any
    linktype: Any


def chunks(path: str | os.PathLike[str], chunk_packets: int,
           progress: Callable[[int], None] | None = None) -> Iterator[Chunk]:
    """The records of a pcap or pcapng file, ``chunk_packets`` at most per chunk; ``progress(n)`` is told
    of every ``n`` bytes of the file read."""
    with open(path, "rb") as f:
        reader = CaptureReader(f)           # the magic, the file header, or its DecodeError
        if reader.format == "pcap":
            f.seek(PCAP_FILE_HEADER)
            yield from _pcap_chunks(f, reader, chunk_packets, progress)
            return
        f.seek(0)
        done = yield from _pcapng_chunks(f, chunk_packets, progress)
    if done is not None:                    # a block the walk leaves to CaptureReader: it reads on from there
        yield from _reader_chunks(path, done, chunk_packets)


def _pcap_chunks(f: Any, reader: CaptureReader, chunk_packets: int,
                 progress: Callable[[int], None] | None) -> Iterator[Chunk]:
    """Classic pcap: walk the record headers of each block read (the walk needs only caplen), then take
    every header's timestamp, caplen and length with numpy."""
    import numpy as np

    interface = reader.interfaces[0]
    caplen_at = struct.Struct(reader.byte_order + "I").unpack_from
    limit = min(max(interface.snaplen, DEFAULT_SNAPLEN), MAX_RECORD_SIZE)
    header = np.dtype(reader.byte_order + "u4")
    buf, first, offset = b"", 0, PCAP_FILE_HEADER      # offset: the file offset of buf[0]
    need, full = BLOCK, False
    while True:
        if not full:                        # the last walk ran out of bytes (not out of room): read on
            more = f.read(max(BLOCK, need))
            if not more:                    # the end of the file (a record cut there is dropped, as
                return                      # CaptureReader drops it)
            if progress is not None:
                progress(len(more))
            buf += more
        starts: list[int] = []
        append, pos, last = starts.append, 0, len(buf) - 16       # last: where a whole record header can start
        for _ in range(chunk_packets):      # the hot loop: one record header read per record
            if pos > last:
                break
            (caplen,) = caplen_at(buf, pos + 8)
            after = pos + 16 + caplen
            if after > last + 16 or caplen > limit:
                break
            append(pos)
            pos = after
        if pos <= last and caplen_at(buf, pos + 8)[0] > limit:
            raise DecodeError("pcap", "incl_len", offset + pos + 8,
                              f"record {first + len(starts) + 1} claims {caplen_at(buf, pos + 8)[0]} captured "
                              f"bytes, more than the snapshot length {limit}: corrupt record header")
        full = len(starts) == chunk_packets
        if starts:
            at = np.array(starts, dtype=np.int64)
            fields = np.frombuffer(buf, np.uint8)[at[:, None] + np.arange(16)].view(header).astype(np.int64)
            sub = fields[:, 1] if reader.nanosecond else fields[:, 1] * 1000
            count = len(starts)
            yield Chunk(first, buf, at + 16, fields[:, 2], fields[:, 3], fields[:, 0] * 1_000_000_000 + sub,
                        np.zeros(count, np.int64), np.full(count, interface.linktype, np.int64))
            first += count
        buf, offset = buf[pos:], offset + pos
        need = 16 + min(caplen_at(buf, 8)[0], limit) if len(buf) >= 16 else 16


def _pcapng_chunks(f: Any, chunk_packets: int, progress: Callable[[int], None] | None) -> Generator[Chunk, None,
                                                                                                   int | None]:
    """pcapng: walk the block headers of each block read (§3.1); the Enhanced Packet Blocks' fields (§4.3)
    taken with numpy. A section's header and interface blocks are read by ``CaptureReader`` (given those
    bytes alone); other blocks are skipped. Returns None at the end of the file, or, at anything the walk
    does not read (a simple or obsolete packet block, a corrupt block, a timestamp resolution that is not
    a power of ten down to nanoseconds), how many records it gave: ``CaptureReader`` reads on from there,
    and says what is wrong as ``to_frame`` does."""
    import numpy as np

    section = Section(b"")
    block_head = struct.Struct("<II").unpack_from
    buf, first, full, end_of_file = b"", 0, False, False
    while True:
        if not full and not end_of_file:
            more = f.read(BLOCK)
            end_of_file = not more
            if progress is not None:
                progress(len(more))
            buf += more
        starts: list[int] = []
        pos, end = 0, len(buf)
        while pos + 12 <= end and len(starts) < chunk_packets:
            btype, total = block_head(buf, pos)
            if section.order == ">":
                btype, total = struct.unpack_from(">II", buf, pos)
            if buf[pos:pos + 4] == SHB_MAGIC:                 # a new section: its own byte order
                if starts:
                    break                                   # (the records before it make one chunk)
                order = "<" if buf[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"     # byte-order magic
                (total,) = struct.unpack_from(order + "I", buf, pos + 4)
            if total < 12 or total % 4 or total > MAX_RECORD_SIZE:
                return first
            if pos + total > end:
                break
            if btype == 6:
                starts.append(pos)
            elif btype in (SHB, 1):
                section = section.add(buf[pos:pos + total], btype == SHB)
                if section.interfaces is None:
                    return first
            elif btype in (2, 3):                           # obsolete and simple packet blocks
                return first
            pos += total
        full = len(starts) == chunk_packets
        if starts:
            chunk = section.chunk(buf, np.array(starts, dtype=np.int64), first)
            if chunk is None:
                return first
            yield chunk
            first += len(starts)
        elif end_of_file and not pos:       # nothing more to walk: the end, or a block cut by it (the
            return first if buf else None   # reader's warning, the records before it kept)
        buf = buf[pos:]


SHB = 0x0A0D0D0A
SHB_MAGIC = b"\x0a\x0d\x0d\x0a"


class Section:
    """A pcapng section as far as the walk has read it: its header and interface blocks' bytes, and what
    ``CaptureReader`` reads in them (byte order, interfaces; None when it refuses them)."""

    def __init__(self, head: bytes, order: str = "<", interfaces: list[Interface] | None = None) -> None:
        self.head, self.order, self.interfaces = head, order, interfaces if interfaces is not None else []

    def add(self, block: bytes, new_section: bool) -> Section:
        """The section with one more block (a section header starts a new one)."""
        head = block if new_section else self.head + block
        reader = CaptureReader(io.BytesIO(head))
        try:
            for _ in reader:
                pass
        except DecodeError:
            return Section(head, self.order, None)
        return Section(head, reader.byte_order, reader.interfaces)

    def chunk(self, buf: bytes, blocks: Any, first: int) -> Chunk | None:
        """The Enhanced Packet Blocks starting at ``blocks`` in ``buf`` as a chunk, or None if one of them
        is not what CaptureReader reads without a word (lengths, interface, timestamp resolution)."""
        import numpy as np

        interfaces = self.interfaces or []
        word = np.dtype(self.order + "u4")
        raw = np.frombuffer(buf, np.uint8)
        fields = raw[blocks[:, None] + np.arange(4, 28)].view(word).astype(np.int64)     # total, then §4.3's five
        total, interface, high, low, caplen, length = fields.T
        trailer = raw[(blocks + total - 4)[:, None] + np.arange(4)].view(word).astype(np.int64)[:, 0]
        scale = [10 ** (9 - _decimal_digits(i.tsresol)) if _decimal_digits(i.tsresol) <= 9 else 0 for i in interfaces]
        if (not interfaces or (trailer != total).any() or (total < 32).any() or (caplen > total - 32).any()
                or (interface >= len(interfaces)).any() or 0 in scale):
            return None
        scale_of = np.array(scale, dtype=np.int64)[interface]
        offset_of = np.array([i.tsoffset * 1_000_000_000 for i in interfaces], dtype=np.int64)[interface]
        linktypes = np.array([i.linktype for i in interfaces], dtype=np.int64)
        return Chunk(first, buf, blocks + 28, caplen, length, (high << 32 | low) * scale_of + offset_of, interface,
                     linktypes[interface])


def _decimal_digits(per_second: int) -> int:
    """n for a resolution of 10^-n seconds, or 99 for any other (2^-n)."""
    digits = len(str(per_second)) - 1
    return digits if 10 ** digits == per_second else 99


def _reader_chunks(path: str | os.PathLike[str], skip: int, chunk_packets: int) -> Iterator[Chunk]:
    """pcapng read by ``CaptureReader`` from record ``skip`` on (the records before it read, not kept),
    ``chunk_packets`` at a time, their bytes joined in one buffer."""
    import numpy as np

    with CaptureReader(path) as reader:
        records = reader.tuples()
        for _ in itertools.islice(records, skip):
            pass
        first = skip
        while True:
            batch = list(itertools.islice(records, chunk_packets))
            if not batch:
                return
            time_ns, caplen, length, linktype, data, interface, _ = zip(*batch, strict=True)
            lengths = np.array(caplen, dtype=np.int64)
            starts = np.zeros(len(batch), dtype=np.int64)
            np.cumsum(lengths[:-1], out=starts[1:])
            yield Chunk(first, b"".join(data), starts, lengths, np.array(length, dtype=np.int64),
                        np.array(time_ns, dtype=np.int64), np.array(interface, dtype=np.int64),
                        np.array(linktype, dtype=np.int64))
            first += len(batch)
