"""Reference answers to notebooks/01_dns.ipynb's exercises (try them yourself first). The notebook shows
them on demand with ``netstudy.exercises.reveal``; they never replace a name the student defined."""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Any, ClassVar

from netstudy.wire.dns import RData


def skip_name(data: bytes, pos: int) -> int:
    """The offset just after the name at ``pos``: labels up to a zero byte, or ending in a 2-byte pointer."""
    while data[pos]:
        if data[pos] >= 0xC0:            # a pointer ends the name in place (RFC 1035 §4.1.4)
            return pos + 2
        pos += 1 + data[pos]
    return pos + 1


def decode_answer(data: bytes) -> tuple[int, int, str]:
    """Exercise 1: (ID, rcode, first answer's IPv4 address) of a reply, by hand with struct."""
    ident, flags = struct.unpack_from("!HH", data, 0)
    pos = skip_name(data, 12) + 4         # the question: name, type, class
    pos = skip_name(data, pos) + 10       # the answer: name, type, class, TTL, rdlength
    return ident, flags & 0x0F, socket.inet_ntoa(data[pos:pos + 4])


@dataclass(frozen=True)
class HINFO(RData):
    """Exercise 2: HINFO (RFC 1035 §3.3.2, type 13), two <character-string>s: CPU and OS."""

    cpu: bytes
    os: bytes
    TYPE: ClassVar[int] = 13

    def write(self, w: Any) -> None:
        for s in (self.cpu, self.os):
            w.buf += bytes([len(s)]) + s

    @classmethod
    def read(cls, data: bytes, off: int, end: int) -> HINFO:
        cpu = data[off + 1:off + 1 + data[off]]
        off += 1 + len(cpu)
        return cls(cpu, data[off + 1:off + 1 + data[off]])

    def to_text(self) -> str:
        return f'"{self.cpu.decode()}" "{self.os.decode()}"'
