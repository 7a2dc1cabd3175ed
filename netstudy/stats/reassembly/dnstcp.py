"""DNS over TCP read from reassembled streams (RFC 1035 §4.2.2, RFC 7766 §8): each direction's bytes
cut into messages by their 2-byte length prefix (``netstudy.wire.dns.tcp_unframe``), whether several
messages share a segment or one message spans several; a hole in the stream (a segment the capture
missed) starts the cutting afresh, as the bytes after it cannot be placed."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from netstudy.errors import DecodeError
from netstudy.stats.reassembly.tcp import Chunk, TcpStream
from netstudy.wire.dns import PORT, Message, tcp_unframe


@dataclass(frozen=True, slots=True)
class DnsMessage:
    """One DNS message found in a stream: where (stream, direction, the frame that completed it), and
    the message, or why it does not parse."""

    stream: int
    direction: int
    frame: int
    time_ns: int
    wire: bytes
    message: Message | None
    error: DecodeError | None = None


def is_dns(stream: TcpStream, ports: Collection[int] = (PORT,)) -> bool:
    """Does the stream run to or from port 53 (or one of ``ports``, as tshark's ``-d tcp.port==N,dns``)?"""
    return stream.client[1] in ports or stream.server[1] in ports


def dns_messages(stream: TcpStream) -> list[DnsMessage]:
    """Every DNS message in the stream, both directions, in the order of the frames that completed them."""
    found = []
    buffers = [bytearray(), bytearray()]
    for chunk in stream.chunks:
        buf = buffers[chunk.direction]
        if not isinstance(chunk, Chunk):            # a hole: what was being read cannot be finished
            buf.clear()
            continue
        buf += chunk.data
        for wire in tcp_unframe(buf):
            try:
                message, error = Message.parse(wire), None
            except DecodeError as exc:
                message, error = None, exc
            found.append(DnsMessage(stream.index, chunk.direction, chunk.frame, chunk.time_ns, wire, message, error))
    return sorted(found, key=lambda m: m.frame)
