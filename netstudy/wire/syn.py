"""The bytes of a TCP SYN probe and of the segment that answers it, with no socket (sans-I/O): what a
SYN port scan (``netstudy.portscan``) and a SYN ping (``netstudy.sweep --method tcp``) both send and read.

- :class:`SynTemplate`: one SYN segment (IPv4 + TCP with an MSS option, as nmap sends), built once with
  :class:`~netstudy.wire.ipv4.IPv4` / :class:`~netstudy.wire.tcp.TCP`; for each port only the
  destination port changes, and the TCP checksum is updated from that one word (RFC 1624 eqn. 3)
  instead of summing the segment again.
- :func:`read_syn_reply`: a datagram a raw TCP socket read (IP header first), as a :class:`SynReply`
  when it is a segment to our source port that acknowledges our ISN (a SYN/ACK or a RST), else None;
  :func:`syn_reply_fields`, the same as a plain tuple (a port scanner reads one per port).
"""
from __future__ import annotations

import socket
import struct
from typing import Any, NamedTuple

from netstudy.errors import DecodeError
from netstudy.wire.decode import decode_ip
from netstudy.wire.echo import FieldReader, update_checksum
from netstudy.wire.ipv4 import IPv4
from netstudy.wire.tcp import TCP, tcp_option

TCP_CHECKSUM_OFFSET = 20 + 16         # an IPv4 header without options, then the TCP checksum's place
TCP_DPORT_OFFSET = 20 + 2
_WORD = struct.Struct("!H")
# the fields an answer is matched on, whole words in one unpack (struct alone, no Python per field) of an
# IPv4 header without options and the TCP header; the flags byte read apart (RFC 9293 §3.1: its bits
# CWR ECE URG ACK PSH RST SYN FIN)
_TCP_ANSWER = FieldReader(IPv4, "ttl", "src") + FieldReader(TCP, "sport", "dport", "ack")
TCP_FLAGS_OFFSET = 20 + 13
_ntoa = socket.inet_ntoa
ACK, RST, SYN = 0x10, 0x04, 0x02


class SynTemplate:
    """SYN segments from ``source``:``sport`` to ``destination``, ISN ``seq``; ``probe(port)`` returns the
    datagram for one port (the same ``bytearray`` every time, patched in place)."""

    __slots__ = ("source", "destination", "sport", "seq", "packet", "_port", "_checksum")

    def __init__(self, source: str, destination: str, sport: int, seq: int, window: int = 1024,
                 mss: int = 1460, ttl: int = 64) -> None:
        self.source, self.destination, self.sport, self.seq = source, destination, sport, seq
        stack = IPv4(src=source, dst=destination, ttl=ttl, identification=sport) / TCP(
            sport=sport, dport=0, seq=seq, flags="S", window=window, options=[tcp_option("mss", mss)])
        self.packet = bytearray(stack.build())
        self._port = 0
        self._checksum = _WORD.unpack_from(self.packet, TCP_CHECKSUM_OFFSET)[0]

    def probe(self, port: int) -> bytearray:
        """The SYN to ``port``: destination port written, checksum updated (RFC 1624)."""
        packet = self.packet
        _WORD.pack_into(packet, TCP_DPORT_OFFSET, port)
        self._checksum = update_checksum(self._checksum, self._port, port)
        self._port = port
        _WORD.pack_into(packet, TCP_CHECKSUM_OFFSET, self._checksum)
        return packet

    def segment(self, port: int) -> Any:
        """The probe to ``port`` decoded (``netstudy.wire``): for drawing and checking."""
        return decode_ip(bytes(self.probe(port)))


class SynReply(NamedTuple):
    """A segment that answered one of our SYNs: who sent it (``source``, from its port ``port``), the TTL
    it arrived with, and its flags (SYN/ACK: someone listens; RST: nobody does, but the host is up).
    (A named tuple: a scan reads one per port, and it is built three times faster than a dataclass.)"""

    source: str
    port: int
    ttl: int
    syn: bool
    ack: bool
    rst: bool


def read_syn_reply(data: Any, length: int, sport: int, ack: int) -> SynReply | None:
    """The answer to a SYN in a raw TCP socket's datagram ``data[:length]``: a segment to our source port
    ``sport`` that acknowledges our ISN (``ack`` = ISN + 1), with its ACK flag set. None otherwise
    (someone else's traffic; on loopback, our own SYNs)."""
    fields = syn_reply_fields(data, length, sport, ack)
    if fields is None:
        return None
    source, port, ttl, flags = fields
    return SynReply(source, port, ttl, bool(flags & SYN), True, bool(flags & RST))


def syn_reply_fields(data: Any, length: int, sport: int, ack: int) -> tuple[str, int, int, int] | None:
    """:func:`read_syn_reply`'s answer as a plain ``(source, port, ttl, flags)`` (the flags byte: ``SYN``,
    ``RST``, ``ACK`` bits), for a scanner that reads one per port and needs no :class:`SynReply`."""
    if length < 40 or data[0] != 0x45:
        if length < 40:
            return None
        try:
            packet = decode_ip(bytes(data[:length]))
        except DecodeError:
            return None
        ip: Any = packet.network
        tcp: Any = packet.transport
        if ip is None or not isinstance(tcp, TCP):
            return None
        fields = (ip.ttl, socket.inet_aton(ip.src), tcp.sport, tcp.dport, tcp.ack)
        flags = (ACK if tcp.ack_flag else 0) | (RST if tcp.rst else 0) | (SYN if tcp.syn else 0)
    else:
        if data[22] != sport >> 8 or data[23] != sport & 0xFF:          # not to our port: skip it cheaply
            return None
        fields = _TCP_ANSWER.read(data)
        flags = data[TCP_FLAGS_OFFSET]
    ttl, src, their_port, dport, acked = fields
    if dport != sport or not flags & ACK or acked != ack:
        return None
    return _ntoa(src), their_port, ttl, flags
