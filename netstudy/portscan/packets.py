"""The bytes of a SYN scan and a UDP scan, with no socket (sans-I/O): probes built with
``netstudy.wire``, answers read with it.

- :class:`SynTemplate`: one SYN segment (IPv4 + TCP with an MSS option, as nmap sends), built once by
  ``netstudy.wire``; for each port only the destination port changes, and the TCP checksum is updated
  from that one word (RFC 1624 eqn. 3) instead of summing the segment again.
- :func:`udp_probe`: a UDP datagram for a port, with a payload a service of that port answers (a DNS
  status request for 53, an NTP client request for 123, as nmap's ``nmap-payloads``), else empty.
- :func:`read_tcp_answer`, :func:`read_udp_answer`, :func:`read_icmp_answer`: what a raw socket read,
  turned into a core :class:`~netstudy.portscan.core.Answer` when it answers one of our probes.
"""
from __future__ import annotations

import socket
import struct
from typing import Any

from netstudy.errors import DecodeError
from netstudy.portscan.core import Answer, icmp_verdict, tcp_verdict
from netstudy.wire import TCP, UDP, IPv4, decode_ip, tcp_option
from netstudy.wire.dns.message import Message
from netstudy.wire.echo import FieldReader, ProbeError, update_checksum

TCP_CHECKSUM_OFFSET = 20 + 16         # an IPv4 header without options, then the TCP checksum's place
TCP_DPORT_OFFSET = 20 + 2
_WORD = struct.Struct("!H")
# the fields an answer is matched on, in one unpack of an IPv4 header without options and the TCP header
_TCP_ANSWER = FieldReader(IPv4, "ihl", "ttl", "src") + FieldReader(TCP, "sport", "dport", "ack", "syn", "rst",
                                                                   "ack_flag")
_UDP_ANSWER = FieldReader(IPv4, "ihl", "ttl", "src") + FieldReader(UDP, "sport", "dport")


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


def read_tcp_answer(data: Any, length: int, sport: int, ack: int, received_ns: int) -> Answer | None:
    """A SYN scan's answer in a raw TCP socket's datagram ``data[:length]``: a segment to our source
    port ``sport`` that acknowledges our ISN (``ack`` = ISN + 1) with SYN/ACK or RST. None otherwise
    (someone else's traffic; on loopback, our own SYNs)."""
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
        fields = (5, ip.ttl, socket.inet_aton(ip.src), tcp.sport, tcp.dport, tcp.ack, tcp.syn, tcp.rst,
                  tcp.ack_flag)
    else:
        if data[22] != sport >> 8 or data[23] != sport & 0xFF:          # not to our port: skip it cheaply
            return None
        fields = _TCP_ANSWER(data)
    _, ttl, src, their_port, dport, acked, syn, rst, ack_flag = fields
    if dport != sport or not ack_flag or acked != ack:
        return None
    verdict = tcp_verdict(bool(syn), bool(ack_flag), bool(rst))
    if verdict is None:
        return None
    return Answer(socket.inet_ntoa(src), their_port, "tcp", verdict[0], verdict[1], received_ns, ttl)


def read_udp_answer(data: Any, length: int, sport: int, received_ns: int) -> Answer | None:
    """A UDP scan's answer: a datagram to our source port ``sport`` -> open (``udp-response``)."""
    if length < 28 or data[0] != 0x45:
        return None
    _, ttl, src, their_port, dport = _UDP_ANSWER(data)
    if dport != sport:
        return None
    return Answer(socket.inet_ntoa(src), their_port, "udp", "open", "udp-response", received_ns, ttl)


def read_icmp_answer(event: ProbeError, protocol: str, sport: int) -> Answer | None:
    """An ICMP destination unreachable that quotes one of our probes (its source port is ``sport``),
    as the scan's verdict (UDP port unreachable: closed; the filtering codes: filtered)."""
    verdict = icmp_verdict(protocol, event.icmp_type, event.icmp_code)
    if verdict is None or not event.quoted:
        return None
    try:
        quoted = decode_ip(event.quoted)
    except DecodeError:
        return None
    layer: Any = quoted.get(TCP if protocol == "tcp" else UDP)
    if layer is None or layer.sport != sport:
        return None
    return Answer(event.destination, layer.dport, protocol, verdict[0], verdict[1], event.received_ns, event.ttl)


# -- UDP probes -----------------------------------------------------------------------------------------
def ntp_request() -> bytes:
    """An NTP client request (RFC 5905 §7.3): 48 bytes, LI 3 (unsynchronised), version 4, mode 3."""
    return bytes([0b11_100_011]) + bytes(47)


UDP_PAYLOADS: dict[int, bytes] = {
    53: Message(id=0, opcode=2).to_wire(),       # a DNS status request, as nmap sends (RFC 1035 §4.1.1)
    123: ntp_request(),
}


def udp_payload(port: int) -> bytes:
    """What a UDP probe to ``port`` carries: a request its usual service answers, else nothing."""
    return UDP_PAYLOADS.get(port, b"")


def udp_probe(source: str, destination: str, sport: int, dport: int, ttl: int = 64) -> bytes:
    """The whole datagram (IPv4 + UDP + payload) of a UDP probe, built with ``netstudy.wire``."""
    return (IPv4(src=source, dst=destination, ttl=ttl, identification=dport)
            / UDP(sport=sport, dport=dport) / udp_payload(dport)).build()
