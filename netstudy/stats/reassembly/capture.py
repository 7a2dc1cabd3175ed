"""A capture reassembled: its IP fragments put back together (:mod:`.ipfrag`), then its TCP segments
followed into streams (:mod:`.tcp`), read with ``netstudy.pcap`` and decoded with ``netstudy.wire``.

    >>> r = reassemble("tests/data/captures/lo_http.pcap")
    >>> r.to_frame()                       # one row per stream
    >>> print(r.follow(0, "ascii"))        # tshark -q -z follow,tcp,ascii,0
"""
from __future__ import annotations

import os
import struct
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from netstudy import pcap
from netstudy.errors import InputError
from netstudy.stats.reassembly.dnstcp import DnsMessage, dns_messages, is_dns
from netstudy.stats.reassembly.follow import follow
from netstudy.stats.reassembly.ipfrag import Datagram, Defragmenter, Drop
from netstudy.stats.reassembly.tcp import Segment, StreamTable, TcpStream
from netstudy.wire.decode import Packet, decode, decode_ip
from netstudy.wire.dns import PORT
from netstudy.wire.ipv4 import IPv4, IPv4Cut
from netstudy.wire.ipv6 import IPv6, IPv6Cut, IPv6Fragment
from netstudy.wire.tcp import TCP

_seq_ack = struct.Struct("!II").unpack_from


@dataclass(slots=True)
class Reassembly:
    """What a capture holds once put back together: TCP streams, whole datagrams, what was dropped."""

    table: StreamTable
    datagrams: list[Datagram] = field(default_factory=list)     # reassembled from fragments
    dropped: list[Drop] = field(default_factory=list)           # fragments or datagrams given up
    packets: int = 0

    @property
    def streams(self) -> list[TcpStream]:
        return self.table.streams

    def stream(self, index: int) -> TcpStream:
        """Stream ``index`` (tshark's ``tcp.stream``)."""
        if not 0 <= index < len(self.streams):
            raise InputError(f"no TCP stream {index}: the capture has {len(self.streams)}")
        return self.streams[index]

    def follow(self, index: int, mode: str = "ascii") -> str:
        """Stream ``index`` as ``tshark -q -z follow,tcp,MODE,N`` prints it (``raw`` or ``ascii``)."""
        return follow(self.stream(index), mode)

    def dns(self, ports: Collection[int] = (PORT,)) -> list[DnsMessage]:
        """Every DNS message carried over TCP (streams to or from port 53, or ``ports``), in frame order."""
        return sorted((m for s in self.streams if is_dns(s, ports) for m in dns_messages(s)), key=lambda m: m.frame)

    def to_frame(self) -> Any:
        """The streams as a DataFrame: index, endpoints, bytes each way, anomalies, state."""
        return self.table.to_frame()


def reassemble(source: pcap.PathOrFile | Iterable[pcap.Record], defragment: bool = True) -> Reassembly:
    """Read a capture (a path, a binary file, or Records) and put it back together: IP fragments into
    datagrams (unless ``defragment`` is False, tshark's ``ip.defragment:FALSE``), TCP segments into streams."""
    defragmenter = Defragmenter()
    result = Reassembly(StreamTable())
    table = result.table
    for number, record in enumerate(_records(source), 1):
        now = record.timestamp_ns
        result.packets = number
        decoded = decode(record.data, record.linktype, None, record.length)
        packet = _defragmented(decoded, defragmenter, now, result) if defragment else decoded
        if packet is not None:
            segment = segment_of(packet, number)
            if segment is not None:
                table.expire(now)
                table.receive(segment, now)
    table.expire(now + table.hole_timeout_ns if result.packets else 0)
    result.dropped = defragmenter.log
    return result


def _records(source: pcap.PathOrFile | Iterable[pcap.Record]) -> Iterator[pcap.Record]:
    """The records of a capture file (a path or a binary file object), or the Records given."""
    if isinstance(source, (str, os.PathLike)) or hasattr(source, "read"):
        return pcap.read(cast(pcap.PathOrFile, source))
    return iter(source)


def _defragmented(packet: Packet, defragmenter: Defragmenter, now: int, result: Reassembly) -> Packet | None:
    """The packet, or the whole datagram when it is the fragment that completes one; None for a
    fragment that does not (yet). A fragment the capture cut short is left as it is (Wireshark reassembles
    only fragments captured whole)."""
    for kind, off, _, _, _, stop in packet.spans:
        if kind in (IPv4Cut, IPv6Cut):
            return packet
        if issubclass(kind, IPv4):
            data = packet.data
            if not (data[off + 6] << 8 | data[off + 7]) & 0x3FFF:
                return packet
        elif issubclass(kind, IPv6):
            if not any(span[0] is IPv6Fragment for span in packet.spans):
                return packet
        else:
            continue
        whole = defragmenter.receive(packet.data[off:stop], now)
        if whole is None:
            return None
        result.datagrams.append(whole)
        return decode_ip(whole.data)
    return packet


def _is_fragment(spans: list, data: bytes) -> bool:
    for kind, off, *_ in spans:
        if issubclass(kind, IPv4) and (data[off + 6] << 8 | data[off + 7]) & 0x3FFF or kind is IPv6Fragment:
            return True
    return False


def segment_of(packet: Packet, frame: int = 0) -> Segment | None:
    """The packet's TCP segment as the stream table takes it, or None (no TCP header)."""
    spans = packet.spans
    for index in range(len(spans) - 1, 0, -1):
        kind, off, end, _, body, stop = spans[index]
        if kind is TCP:
            break
    else:
        return None
    data = packet.data
    # options cut by the snap length, or a fragment of a datagram not put back together
    cut = packet.error is not None and packet.error.layer == "TCP" or _is_fragment(spans[:index], data)
    ip_kind, ip_off = spans[index - 1][0], spans[index - 1][1]
    if issubclass(ip_kind, IPv4):
        total = data[ip_off + 2] << 8 | data[ip_off + 3]
        declared = ip_off + total if total else stop
    else:
        ip_off = next(s[1] for s in reversed(spans[:index]) if issubclass(s[0], IPv6))
        length = data[ip_off + 4] << 8 | data[ip_off + 5]
        declared = ip_off + 40 + length if length else stop
    src = dst = ""
    for kind_i, off_i, *_ in spans[:index]:                  # a tunnel: the innermost addresses
        if issubclass(kind_i, (IPv4, IPv6)):
            inner = kind_i._make(data, off_i, end)
            src, dst = inner.src, inner.dst
    seq, ack = _seq_ack(data, off + 4)
    flags = (data[off + 12] & 1) << 8 | data[off + 13]
    sport, dport = data[off] << 8 | data[off + 1], data[off + 2] << 8 | data[off + 3]
    if cut:
        return Segment(src, sport, dst, dport, seq, ack, flags, b"", 0, frame, incomplete=True)
    return Segment(src, sport, dst, dport, seq, ack, flags, data[body:stop], max(declared - body, 0), frame)
