"""The per-packet table of a big capture, read in chunks and decoded column by column with numpy.

``read_columns(path)`` is ``netstudy.pcap.to_frame(path)`` without its ``summary`` column (the same
columns, values and dtypes) and with columns cheap to read at the same time: ``ethertype`` (int, 0 when
none), ``ip_proto`` (the protocol number after the last IP or IPv6 extension header), ``tcp_seq``,
``tcp_ack``, ``payload_length`` (transport payload bytes by the headers' lengths), ``fragment`` (a piece of
a fragmented datagram). ``iter_columns(path, chunk_packets=...)`` yields the same table in chunks (rows
numbered as in the whole table), so that a capture larger than memory can be summed chunk by chunk.

- ``records.py``: the capture's records, many at a time, in one buffer (:class:`Chunk`).
- ``decode.py``: the columns of a chunk: numpy for the common headers, ``netstudy.wire.decode`` per
  record for the rest (:func:`decode_chunk`).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

from netstudy.errors import check_number
from netstudy.stats.columns.decode import (
    EXTRA_COLUMNS,
    INTEGER_COLUMNS,
    SHARED_COLUMNS,
    TEXT_COLUMNS,
    Numbers,
    decode_chunk,
)
from netstudy.stats.columns.records import Chunk, chunks

COLUMNS = SHARED_COLUMNS + EXTRA_COLUMNS
CHUNK_PACKETS = 1 << 18
PROGRESS_FROM = 64 << 20           # a bar for files of this many bytes or more (on a terminal)

__all__ = ["COLUMNS", "SHARED_COLUMNS", "EXTRA_COLUMNS", "CHUNK_PACKETS", "read_columns", "iter_columns"]


def iter_columns(path: str | os.PathLike[str], chunk_packets: int = CHUNK_PACKETS,
                 progress: bool | None = None) -> Iterator[Any]:
    """The per-packet table of the pcap or pcapng file ``path`` as DataFrames of at most ``chunk_packets``
    rows each, index numbered as in the whole table. ``progress``: a tqdm bar on stderr (None: for a file
    of 64 MiB or more when stderr is a terminal). A text column a chunk has no value in is of dtype
    object in that chunk (pandas infers it from the values, as for ``to_frame``'s)."""
    first = 0
    for part in _parts(path, chunk_packets, progress):
        yield _frame(part, first)
        first += len(part.columns["time"])


def read_columns(path: str | os.PathLike[str], chunk_packets: int = CHUNK_PACKETS,
                 progress: bool | None = None) -> Any:
    """The per-packet table of ``path`` as one DataFrame (see :func:`iter_columns`)."""
    parts = list(_parts(path, chunk_packets, progress)) or [Part(_empty_chunk(), Numbers())]
    return _frame(parts[0] if len(parts) == 1 else _join(parts), 0)


def _parts(path: str | os.PathLike[str], chunk_packets: int, progress: bool | None) -> Iterator[Part]:
    """Each chunk's columns (:class:`Part`)."""
    check_number("chunk_packets", chunk_packets, 1, 1 << 30, whole=True)
    bar, numbers = _progress(path, progress), Numbers()
    try:
        for chunk in chunks(path, chunk_packets, None if bar is None else bar.update):
            yield Part(chunk, numbers)
    finally:
        if bar is not None:
            bar.close()


# how a chunk keeps the integer columns whose values are small until the chunks are joined (as int64)
NARROW = {"length": "u4", "caplen": "u4", "interface": "u4", "ethertype": "u2", "vlan": "u2", "sport": "u2",
          "dport": "u2", "icmp_type": "u1", "icmp_code": "u1", "ttl": "u1", "ip_proto": "u1", "tcp_seq": "u4",
          "tcp_ack": "u4"}


class Part:
    """A chunk's columns, kept small while the others are read: integers as narrow as their values,
    texts as codes (-1: none) into the chunk's distinct texts; a nullable integer column ``name`` has its
    mask of missing values under ``name + "?"``. The chunk's buffer is not kept."""

    def __init__(self, chunk: Chunk | None = None, numbers: Numbers | None = None) -> None:
        import numpy as np
        import pandas as pd

        self.columns: dict[str, Any] = {}
        self.texts: dict[str, list[str]] = {}
        if chunk is None or numbers is None:           # to be filled by _join
            return
        table = decode_chunk(chunk, numbers)
        self.columns = {"time": chunk.time_ns, "length": chunk.length, "caplen": chunk.caplen,
                        "interface": chunk.interface, "malformed": table.malformed, "ethertype": table.ethertype,
                        "fragment": table.fragment}
        for name in INTEGER_COLUMNS:
            self.columns[name], self.columns[name + "?"] = table.ints[name], ~table.has[name]
        for name, narrow in NARROW.items():
            self.columns[name] = self.columns[name].astype(narrow)
        for name in TEXT_COLUMNS:
            codes, uniques = pd.factorize(table.texts[name])
            self.columns[name], self.texts[name] = codes.astype(np.int32), uniques.tolist()


def _join(parts: list[Part]) -> Part:
    """The chunks' columns as one: a column at a time, each chunk's piece let go once joined (the table
    is never there twice); each chunk's text codes renumbered into the distinct texts of all."""
    import numpy as np

    joined = Part()
    for name in TEXT_COLUMNS:
        index: dict[str, int] = {}
        for part in parts:
            renumber = np.array([index.setdefault(text, len(index)) for text in part.texts.pop(name)] + [-1],
                                dtype=np.int32)
            part.columns[name] = renumber[part.columns[name]]        # code -1 picks the -1 at the end
        joined.texts[name] = list(index)
    for name in list(parts[0].columns):
        pieces = [part.columns.pop(name) for part in parts]
        joined.columns[name] = np.concatenate(pieces, dtype=np.int64 if name in NARROW else None)
    return joined


def _frame(part: Part, first: int) -> Any:
    """The DataFrame of a chunk's (or of all chunks') columns, in ``COLUMNS``' order, with the dtypes
    ``pcap.to_frame`` gives them, rows numbered from ``first``."""
    import numpy as np
    import pandas as pd

    columns = part.columns
    frame: dict[str, Any] = {"time": pd.to_datetime(columns["time"], unit="ns", utc=True),
                             "truncated": columns["caplen"] < columns["length"]}
    for name in COLUMNS:
        if name in INTEGER_COLUMNS:
            frame[name] = pd.arrays.IntegerArray(columns[name].astype(np.int64, copy=False), columns[name + "?"])
        elif name in TEXT_COLUMNS:
            frame[name] = _text_column(columns[name], part.texts[name])
        elif name not in frame:
            frame[name] = columns[name].astype(np.int64, copy=False) if name in NARROW else columns[name]
    index = pd.RangeIndex(first, first + len(columns["time"]))
    return pd.DataFrame({name: frame[name] for name in COLUMNS}, index=index, copy=False)


def _text_column(codes: Any, texts: list[str]) -> Any:
    """Texts given as codes into their distinct values (-1: none) as the column pandas makes of the
    texts themselves (``to_frame``'s: str, or object when there are none)."""
    import numpy as np
    import pandas as pd

    distinct = pd.Series(np.array([*texts, None], dtype=object))       # the dtype pandas infers for them
    return distinct.array.take(np.where(codes < 0, len(texts), codes))


def _empty_chunk() -> Chunk:
    import numpy as np

    nothing = np.zeros(0, np.int64)
    return Chunk(0, b"", nothing, nothing, nothing, nothing, nothing, nothing)


def _progress(path: str | os.PathLike[str], wanted: bool | None) -> Any:
    """A tqdm bar over the file's bytes, or None (not wanted, not a terminal, a small file, no tqdm)."""
    size = os.path.getsize(path)
    if wanted is None:
        wanted = size >= PROGRESS_FROM and sys.stderr.isatty()
    if not wanted:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=size, unit="B", unit_scale=True, leave=False, file=sys.stderr, desc=os.path.basename(path))
