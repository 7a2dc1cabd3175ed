"""DNS over TCP (RFC 1035 §4.2.2; RFC 7766): each message after a 2-byte length, and a stream's bytes
cut back into messages."""
from __future__ import annotations

import struct


def tcp_frame(message: bytes) -> bytes:
    """A message as DNS over TCP sends it: a 2-byte length, then the message (RFC 1035 §4.2.2)."""
    return struct.pack("!H", len(message)) + message


def tcp_unframe(buf: bytearray) -> list[bytes]:
    """Take every whole length-prefixed message off the front of ``buf`` (a stream's bytes so far);
    a message still arriving stays in ``buf``."""
    messages = []
    while len(buf) >= 2:
        length = buf[0] << 8 | buf[1]
        if len(buf) < 2 + length:
            break
        messages.append(bytes(buf[2:2 + length]))
        del buf[:2 + length]
    return messages

