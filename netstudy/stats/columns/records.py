"""Capture records in chunks: many records' bytes in one buffer, and per-record arrays saying where each is.

Classic pcap (draft-ietf-opsawg-pcap §4-5) is read here in large blocks: a tight loop walks the 16-byte
record headers to find where each record starts, and numpy reads every header's four fields at once.
pcapng (draft-ietf-opsawg-pcapng) has interfaces, sections, timestamp resolutions and options, which
``netstudy.pcap.CaptureReader`` already reads: its records are gathered into the same chunks. Either
way the file's header is read by ``CaptureReader``, so a file it refuses is refused with its error.
"""
from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from netstudy.errors import DecodeError
from netstudy.pcap import DEFAULT_SNAPLEN, MAX_RECORD_SIZE, CaptureReader

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
        else:
            yield from _pcapng_chunks(f, reader, chunk_packets, progress)


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


def _pcapng_chunks(f: Any, reader: CaptureReader, chunk_packets: int,
                   progress: Callable[[int], None] | None) -> Iterator[Chunk]:
    """pcapng: ``CaptureReader``'s records, ``chunk_packets`` at a time, their bytes joined in one buffer."""
    import numpy as np

    first, told = 0, 0
    records = reader.tuples()
    while True:
        batch = [record for _, record in zip(range(chunk_packets), records, strict=False)]
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
        if progress is not None:
            position = f.tell()
            progress(position - told)
            told = position
