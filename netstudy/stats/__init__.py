"""Capture statistics: Wireshark's Statistics menu as pandas tables (``netstudy stats FILE``, notebook 08).

- ``core.py``: the counting, pure: protocol paths as tshark names them (:func:`protocol_path`,
  :func:`hierarchy`), conversations, endpoints, the I/O graph and TCP flags from a per-packet table,
  TCP handshake times (:class:`Handshakes`), DNS response times (:class:`DnsExchanges`) and one
  connection's segments (:class:`Segments`) from decoded packets.
- ``tables.py``: the tables from a capture (a path, its records, or its per-packet table):
  :func:`protocol_hierarchy`, :func:`conversations`, :func:`endpoints`, :func:`io_graph`,
  :func:`tcp_flags`, :func:`handshake_rtts`, :func:`dns_times`, :func:`tcp_segments`.
- ``output.py``: the tables as tshark's ``-z`` prints them (``hierarchy_lines``, ``conversation_lines``,
  ``endpoint_lines``, ``io_lines``; ``table_lines`` for the tables tshark has no ``-z`` for).
- ``figures.py``: one plot per table (``hierarchy_bars``, ``conversation_bars``, ``endpoint_bars``,
  ``io_plot``, ``rtt_histogram``, ``dns_histogram``) and the time-sequence (Stevens) graph of a TCP
  connection (``time_sequence``).
- ``exercises.py`` / ``solutions.py``: notebook 08's checks and their reference answers.
- ``columns/``: the per-packet table of a big capture, read in chunks with numpy (:func:`read_columns`,
  :func:`iter_columns`).
- ``reassembly/``: IPv4/IPv6 defragmentation as Linux does it, TCP streams followed as tshark follows
  them, DNS over TCP (:func:`reassemble`, :class:`Reassembly`, :func:`follow`).
- ``parquet.py``: tables to Parquet files for engines built for big data (:func:`to_parquet`,
  :func:`capture_to_parquet`).
"""
from netstudy.stats.columns import iter_columns, read_columns
from netstudy.stats.core import PROTOS, DnsExchanges, Handshakes, Segments, flags_union, hierarchy, protocol_path
from netstudy.stats.parquet import capture_to_parquet, to_parquet
from netstudy.stats.reassembly import Reassembly, follow, reassemble
from netstudy.stats.tables import (
    conversations,
    decoded,
    dns_times,
    endpoints,
    handshake_rtts,
    io_graph,
    packet_frame,
    protocol_hierarchy,
    tcp_flags,
    tcp_segments,
)

__all__ = ["PROTOS", "DnsExchanges", "Handshakes", "Segments", "flags_union", "hierarchy", "protocol_path",
           "conversations", "decoded", "dns_times", "endpoints", "handshake_rtts", "io_graph", "packet_frame",
           "protocol_hierarchy", "tcp_flags", "tcp_segments", "read_columns", "iter_columns", "to_parquet",
           "capture_to_parquet", "Reassembly", "follow", "reassemble"]
