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
    for arrays in _chunk_arrays(path, chunk_packets, progress):
        yield _frame(arrays, first)
        first += len(arrays["length"])


def read_columns(path: str | os.PathLike[str], chunk_packets: int = CHUNK_PACKETS,
                 progress: bool | None = None) -> Any:
    """The per-packet table of ``path`` as one DataFrame (see :func:`iter_columns`)."""
    import numpy as np

    parts = list(_chunk_arrays(path, chunk_packets, progress)) or [_arrays(_empty_chunk(), Numbers())]
    if len(parts) == 1:
        return _frame(parts[0], 0)
    # one column at a time, each chunk's piece let go once joined: the table is never there twice
    return _frame({name: np.concatenate([part.pop(name) for part in parts]) for name in list(parts[0])}, 0)


def _chunk_arrays(path: str | os.PathLike[str], chunk_packets: int, progress: bool | None) -> Iterator[dict]:
    """Each chunk's columns as numpy arrays (:func:`_arrays`)."""
    check_number("chunk_packets", chunk_packets, 1, 1 << 30, whole=True)
    bar, numbers = _progress(path, progress), Numbers()
    try:
        for chunk in chunks(path, chunk_packets, None if bar is None else bar.update):
            yield _arrays(chunk, numbers)
    finally:
        if bar is not None:
            bar.close()


def _arrays(chunk: Chunk, numbers: Numbers) -> dict[str, Any]:
    """A chunk's columns as numpy arrays; a nullable integer column ``name`` has its mask of missing
    values under ``name + "?"``. The chunk's buffer is not kept."""
    table = decode_chunk(chunk, numbers)
    arrays = {"time": chunk.time_ns, "length": chunk.length, "caplen": chunk.caplen, "interface": chunk.interface,
              "malformed": table.malformed, "ethertype": table.ethertype, "fragment": table.fragment,
              **table.texts}
    for name in INTEGER_COLUMNS:
        arrays[name], arrays[name + "?"] = table.ints[name], ~table.has[name]
    return arrays


def _frame(arrays: dict[str, Any], first: int) -> Any:
    """The DataFrame of a chunk's (or of all chunks') arrays, columns in ``COLUMNS``' order, with the
    dtypes ``pcap.to_frame`` gives them, rows numbered from ``first``."""
    import pandas as pd

    columns: dict[str, Any] = {"time": pd.to_datetime(arrays["time"], unit="ns", utc=True),
                               "truncated": arrays["caplen"] < arrays["length"]}
    for name in COLUMNS:
        if name in INTEGER_COLUMNS:
            columns[name] = pd.arrays.IntegerArray(arrays[name], arrays[name + "?"])
        elif name in TEXT_COLUMNS:
            columns[name] = _text_column(arrays[name])
        elif name not in columns:
            columns[name] = arrays[name]
    index = pd.RangeIndex(first, first + len(arrays["length"]))
    return pd.DataFrame({name: columns[name] for name in COLUMNS}, index=index, copy=False)


def _text_column(values: Any) -> Any:
    """An object array of texts (None where absent) as the column pandas makes of it (``to_frame``'s:
    str, or object), made from its distinct values: a capture repeats a few texts many times."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(values)
    codes[codes < 0] = len(uniques)                     # None: the last distinct value
    distinct = pd.Series(np.array([*uniques.tolist(), None], dtype=object))   # the dtype pandas infers for them
    return distinct.array.take(codes)


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
