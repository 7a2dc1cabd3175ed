"""The bytes of a SYN scan and a UDP scan, with no socket (sans-I/O): probes built with
``netstudy.wire``, answers read with it.

- The SYN itself and the reading of its answer are ``netstudy.wire.syn``'s (:class:`~netstudy.wire.syn.SynTemplate`,
  :func:`~netstudy.wire.syn.syn_reply_fields`), shared with the network scanner's SYN ping.
- :func:`udp_probe`: a UDP datagram for a port, with a payload a service of that port answers (a DNS
  status request for 53, an NTP client request for 123, as nmap's ``nmap-payloads``), else empty.
- :func:`read_tcp_answer`, :func:`read_udp_answer`, :func:`read_icmp_answer`: what a raw socket read,
  turned into a core :class:`~netstudy.portscan.core.Answer` when it answers one of our probes.
"""
from __future__ import annotations

import socket
from typing import Any

from netstudy.errors import DecodeError
from netstudy.portscan.core import Answer, icmp_verdict, tcp_verdict
from netstudy.wire import TCP, UDP, IPv4, decode_ip
from netstudy.wire.dns.message import Message
from netstudy.wire.echo import FieldReader, ProbeError
from netstudy.wire.syn import RST, SYN, syn_reply_fields

_UDP_ANSWER = FieldReader(IPv4, "ihl", "ttl", "src") + FieldReader(UDP, "sport", "dport")


def read_tcp_answer(data: Any, length: int, sport: int, ack: int, received_ns: int) -> Answer | None:
    """A SYN scan's answer in a raw TCP socket's datagram ``data[:length]`` (``netstudy.wire.syn``'s
    :func:`~netstudy.wire.syn.syn_reply_fields`: to our source port ``sport``, acknowledging our ISN with
    ``ack`` = ISN + 1), with nmap's verdict on its flags. None otherwise."""
    reply = syn_reply_fields(data, length, sport, ack)
    if reply is None:
        return None
    source, port, ttl, flags = reply
    verdict = tcp_verdict(bool(flags & SYN), True, bool(flags & RST))
    if verdict is None:
        return None
    return Answer(source, port, "tcp", verdict[0], verdict[1], received_ns, ttl)


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
