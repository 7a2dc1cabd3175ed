"""Tables to Parquet files, for engines built for data larger than one machine (DuckDB, Spark, polars).

Any DataFrame (a statistics table, the per-packet table) is written with pyarrow, the optional
``[parquet]`` extra; a capture's per-packet table is written chunk by chunk with
``pyarrow.parquet.ParquetWriter`` (one row group per chunk), so the capture never sits in memory.
Times are ``timestamp[ns, UTC]``, pandas' nullable integers stay nullable (null where ``<NA>``).

    duckdb -c "select src, sum(length) from 'packets.parquet' group by src"
"""
from __future__ import annotations

import os
from typing import Any

from netstudy.errors import InputError
from netstudy.stats.columns import CHUNK_PACKETS, iter_columns
from netstudy.stats.columns.decode import TEXT_COLUMNS

INSTALL = "pip install 'netstudy[parquet]'"

__all__ = ["ParquetMissing", "to_parquet", "capture_to_parquet"]


class ParquetMissing(InputError):
    """Writing Parquet was asked for and pyarrow is not installed: the message says what to install."""


def _pyarrow() -> tuple[Any, Any]:
    """pyarrow and pyarrow.parquet, or ParquetMissing naming the extra that brings them."""
    try:
        # pyarrow ships no type information (pyproject's mypy overrides list it with pandas at merge time)
        import pyarrow  # type: ignore[import-untyped]
        import pyarrow.parquet  # type: ignore[import-untyped]
    except ImportError:
        raise ParquetMissing(f"writing Parquet needs pyarrow, which is not installed: {INSTALL}") from None
    return pyarrow, pyarrow.parquet


def _arrow_table(frame: Any, schema: Any = None) -> Any:
    """``frame`` as an Arrow table (its index dropped when it only numbers the rows)."""
    pa, _ = _pyarrow()
    import pandas as pd

    numbered = isinstance(frame.index, pd.RangeIndex)
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=not numbered)


def to_parquet(frame: Any, path: str | os.PathLike[str]) -> str:
    """Write a DataFrame (any table) to the Parquet file ``path``; returns the path written."""
    _, pq = _pyarrow()
    try:
        pq.write_table(_arrow_table(frame), path)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write Parquet file {path}: {exc.strerror or exc}") from None
    return os.fspath(path)


def capture_to_parquet(capture: str | os.PathLike[str], path: str | os.PathLike[str],
                       chunk_packets: int = CHUNK_PACKETS, progress: bool | None = None) -> int:
    """Write the per-packet table of ``capture`` (``netstudy.stats.read_columns``'s columns) to the Parquet
    file ``path``, one row group per chunk of ``chunk_packets`` packets; returns the number of packets."""
    pa, pq = _pyarrow()
    writer, count = None, 0
    try:
        for frame in iter_columns(capture, chunk_packets, progress):
            frame = frame.reset_index(drop=True)
            if writer is None:      # every chunk in one schema: text is text, in a chunk where it is all None too
                schema = pa.Schema.from_pandas(frame, preserve_index=False)
                for name in TEXT_COLUMNS:
                    schema = schema.set(schema.get_field_index(name), pa.field(name, pa.string()))
                writer = pq.ParquetWriter(path, schema)
            writer.write_table(_arrow_table(frame, writer.schema))
            count += len(frame)
        if writer is None:                   # an empty capture: the columns, no rows
            from netstudy.stats.columns import read_columns

            to_parquet(read_columns(capture), path)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write Parquet file {path}: {exc.strerror or exc}") from None
    finally:
        if writer is not None:
            writer.close()
    return count
