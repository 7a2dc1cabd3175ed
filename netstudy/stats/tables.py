"""The capture-statistics tables, from a capture: a path, the capture's records (``netstudy.pcap.read``,
perhaps behind a progress bar), or its per-packet table (``pcap.to_frame``, or the columnar reader's
``read_columns``). Each returns a DataFrame whose column names carry their units (``bytes``,
``start_s``, ``duration_s``, ``rtt_ms``); the counting is ``core.py``'s.

The tables that need more than the per-packet table's columns (the protocol hierarchy's layer paths,
handshake times, DNS times) decode the capture themselves with ``netstudy.wire.decode``.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any, Union

from netstudy import pcap
from netstudy.errors import InputError
from netstudy.stats.core import (
    DnsExchanges,
    Handshakes,
    Segments,
    conversation_table,
    endpoint_table,
    flag_table,
    hierarchy,
    io_table,
    protocol_path,
)
from netstudy.wire import Packet, decode

Source = Union[str, "os.PathLike[str]", Iterable[pcap.Record], Any]   # Any: a per-packet DataFrame


def _is_frame(source: Source) -> bool:
    return hasattr(source, "columns") and hasattr(source, "iloc")


def packet_frame(source: Source) -> Any:
    """The per-packet table of ``source`` (itself, if it is one)."""
    return source if _is_frame(source) else pcap.to_frame(source)


def decoded(source: Source) -> Iterator[tuple[int, int, Packet]]:
    """(timestamp in ns, length on the wire, decoded packet) for each record of a capture."""
    if _is_frame(source):
        raise InputError("this table decodes every layer of every packet: give it the capture "
                         "(a path or its records), not a per-packet table")
    records = pcap.read(source) if isinstance(source, (str, os.PathLike)) else source
    for record in records:
        yield record.timestamp_ns, record.length, decode(record.data, record.linktype, None, record.length)


def protocol_hierarchy(source: Source) -> Any:
    """``tshark -q -z io,phs``: frames and bytes per protocol path (``eth:ip:tcp:data``), one row per
    node of the tree with its ``depth``, in tshark's order."""
    return hierarchy((protocol_path(packet), length) for _, length, packet in decoded(source))


def conversations(source: Source, proto: str = "tcp") -> Any:
    """``tshark -q -z conv,PROTO`` (eth, ip, ipv6, tcp, udp): frames and bytes A→B, B→A and in total,
    ``start_s`` and ``duration_s``, one row per pair of endpoints."""
    return conversation_table(packet_frame(source), proto)


def endpoints(source: Source, proto: str = "ip") -> Any:
    """``tshark -q -z endpoints,PROTO``: frames and bytes sent (tx) and received (rx) per endpoint."""
    return endpoint_table(packet_frame(source), proto)


def io_graph(source: Source, interval_s: float = 1.0, proto: str | None = None) -> Any:
    """``tshark -q -z io,stat,INTERVAL``: frames and bytes per interval (only ``proto``'s, if given)."""
    return io_table(packet_frame(source), interval_s, proto)


def tcp_flags(source: Source) -> Any:
    """The TCP flags seen each way in every TCP conversation, with SYN, FIN and RST frames counted."""
    return flag_table(packet_frame(source))


def handshake_rtts(source: Source) -> Any:
    """Per TCP connection: SYN -> SYN/ACK, SYN/ACK -> ACK and SYN -> ACK (tshark's initial RTT), in ms."""
    handshakes = Handshakes()
    for timestamp_ns, _, packet in decoded(source):
        handshakes.receive(packet, timestamp_ns)
    return handshakes.table()


def dns_times(source: Source) -> Any:
    """Per DNS query over UDP: its question, the response's rcode and the time it took, in ms."""
    exchanges = DnsExchanges()
    for timestamp_ns, _, packet in decoded(source):
        exchanges.receive(packet, timestamp_ns)
    return exchanges.table()


def tcp_segments(source: Source, conversation: tuple[str, int, str, int] | None = None) -> Any:
    """The segments of one TCP connection (address A, port A, address B, port B; default: the first
    seen) with sequence and acknowledgment numbers relative to each side's first: a time-sequence graph's
    points."""
    segments = Segments(conversation)
    for timestamp_ns, _, packet in decoded(source):
        segments.receive(packet, timestamp_ns)
    return segments.table()
