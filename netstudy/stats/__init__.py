"""Capture statistics: the questions Wireshark's Statistics menu answers, as pandas tables.

- ``columns/``: the per-packet table of a big capture, read in chunks with numpy (:func:`read_columns`,
  :func:`iter_columns`).
- ``parquet.py``: tables to Parquet files for engines built for big data (:func:`to_parquet`,
  :func:`capture_to_parquet`).
"""
from netstudy.stats.columns import iter_columns, read_columns
from netstudy.stats.parquet import capture_to_parquet, to_parquet

__all__ = ["read_columns", "iter_columns", "to_parquet", "capture_to_parquet"]
